"""Turn SIGINT and SIGTERM into `DrillInterrupted` so the drill unwinds, cleans up and reports."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import structlog

from drdrill.errors import DrillInterrupted

log = structlog.get_logger(__name__)
_HANDLED = (signal.SIGINT, signal.SIGTERM)


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise DrillInterrupted(signal.Signals(signum).name)


def _note_and_ignore(signum: int, _frame: FrameType | None) -> None:
    log.warning("signal ignored while cleaning up", signal=signal.Signals(signum).name)


@contextmanager
def interrupts_raise() -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM raise `DrillInterrupted` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in _HANDLED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Within the block (cleanup, report writing) a signal is logged, not obeyed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _note_and_ignore) for sig in _HANDLED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
