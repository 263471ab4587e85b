"""Turn SIGINT and SIGTERM into `DrillInterrupted` so the drill unwinds, cleans up and reports.

Only the first signal raises. Raising again while the drill unwinds would break off the very
cleanup that stops what the drill started (a second Ctrl-C during kwok create would leak etcd
and the apiserver), so every later signal, and any signal during teardown, is obeyed by
hurrying instead: children are killed without their grace period and nothing waits for them
(`proc.hurry_stops`). Teardown then ends within seconds, so a CI runner's SIGTERM is answered
long before its SIGKILL, and what was started is still stopped.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Literal

import structlog

from drdrill.errors import DrillInterrupted
from drdrill.proc import hold_interrupt, hurry_stops, stop_normally

log = structlog.get_logger(__name__)
_HANDLED = (signal.SIGINT, signal.SIGTERM)
Mode = Literal["raise", "defer"]


@dataclass
class _Received:
    """What arrived since the outermost handled block began."""

    names: list[str] = field(default_factory=list)
    modes: list[Mode] = field(default_factory=list)


_received = _Received()


def signals_received() -> tuple[str, ...]:
    return tuple(_received.names)


def _handle(signum: int, _frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    _received.names.append(name)
    mode = _received.modes[-1] if _received.modes else "defer"
    if mode == "raise" and len(_received.names) == 1:
        if hold_interrupt(name):
            return  # raised as the block that holds interrupts ends
        raise DrillInterrupted(name)
    hurry_stops()
    log.warning("signal received while cleaning up: stopping what is left without waiting",
                signal=name, signals=len(_received.names))


@contextmanager
def _signals_handled(mode: Mode) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; elsewhere the caller's stay
        return
    if not _received.modes and mode == "raise":  # a new command or drill starts afresh
        _received.names.clear()
        stop_normally()
    _received.modes.append(mode)
    previous = {sig: signal.signal(sig, _handle) for sig in _HANDLED}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        _received.modes.pop()


def interrupts_raise() -> AbstractContextManager[None]:
    """Within the block the first SIGINT/SIGTERM raises `DrillInterrupted` (main thread only);
    later ones make the unwinding hurry."""
    return _signals_handled("raise")


def interrupts_deferred() -> AbstractContextManager[None]:
    """Within the block (cleanup, report writing) a signal makes the cleanup hurry; it is
    finished, never broken off."""
    return _signals_handled("defer")
