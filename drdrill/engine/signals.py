"""Turn SIGINT and SIGTERM into `DrillInterrupted` so the drill unwinds, cleans up and reports."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
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
def _signals_handled_by(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; elsewhere the caller's stay
        return
    previous = {sig: signal.signal(sig, handler) for sig in _HANDLED}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def interrupts_raise() -> AbstractContextManager[None]:
    """Within the block, SIGINT/SIGTERM raise `DrillInterrupted` (main thread only)."""
    return _signals_handled_by(_raise_interrupted)


def interrupts_deferred() -> AbstractContextManager[None]:
    """Within the block (cleanup, report writing) a signal is logged, not obeyed."""
    return _signals_handled_by(_note_and_ignore)
