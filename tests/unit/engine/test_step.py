"""`drdrill run --step`: Enter starts the next phase, q stops the drill (reported as
interrupted, cleaned up); without a terminal it is bad input before anything starts."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from drdrill.cli.step import SteppingProgress
from drdrill.engine.runner import run_drill
from drdrill.results import Verdict
from tests.unit.engine.fakes import FakePhase, make_context


def test_enter_goes_on_and_q_stops_the_drill(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n\nq\n"))
    calls: list[str] = []
    steps = [FakePhase(name, calls=calls) for name in ("cluster", "bootstrap", "workloads")]
    outcome = run_drill(make_context(tmp_path), steps, report_dir=tmp_path,
                        observer=SteppingProgress())
    assert outcome.report.verdict is Verdict.INTERRUPTED
    assert calls == ["cluster", "bootstrap", "undo bootstrap", "undo cluster"]
    statuses = {p.name: p.status.value for p in outcome.report.phases}
    assert statuses["workloads"] == "skipped"


def test_step_without_a_terminal_is_bad_input(tmp_path: Path) -> None:
    scenario = Path(__file__).resolve().parents[3] / "scenarios" / "demo.yaml"
    done = subprocess.run([sys.executable, "-m", "drdrill", "run", str(scenario), "--step",
                           "--report-dir", str(tmp_path)], capture_output=True, text=True,
                          timeout=120, check=False, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr
    assert "--step needs a terminal" in done.stderr
    assert list(tmp_path.iterdir()) == []
