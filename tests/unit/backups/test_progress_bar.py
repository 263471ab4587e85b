from __future__ import annotations

import io
import sys

import pytest

from drdrill.backups.progress_bar import restore_progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bar_when_stderr_is_no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with restore_progress(name="models", objects=3, total_bytes=30, enabled=True) as progress:
        assert progress is None


def test_no_bar_when_not_enabled_or_dumb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Terminal())
    with restore_progress(name="models", objects=3, total_bytes=30, enabled=False) as progress:
        assert progress is None
    monkeypatch.setenv("TERM", "dumb")
    with restore_progress(name="models", objects=3, total_bytes=30, enabled=True) as progress:
        assert progress is None


def test_the_bar_counts_objects_and_bytes_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setenv("TERM", "xterm")
    with restore_progress(name="models", objects=2, total_bytes=2048, enabled=True) as progress:
        assert progress is not None
        progress(1, 1024)
        progress(1, 1024)
    drawn = terminal.getvalue()
    assert "restoring models" in drawn
    assert "2/2 objects" in drawn
