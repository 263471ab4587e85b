"""A stack of undo actions run in reverse order, whatever way the drill ends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger(__name__)


@dataclass
class CleanupStack:
    _actions: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)

    def push(self, description: str, action: Callable[[], None]) -> None:
        self._actions.append((description, action))

    def __len__(self) -> int:
        return len(self._actions)

    def run(self) -> list[str]:
        """Run every action, newest first; one that fails is logged and the rest still run.

        Returns the descriptions of the actions that failed.
        """
        failed: list[str] = []
        while self._actions:
            description, action = self._actions.pop()
            try:
                action()
            except Exception as err:
                log.error("cleanup step failed", step=description, error=str(err))
                failed.append(f"{description}: {err}")
            else:
                log.debug("cleanup step done", step=description)
            self.ran.append(description)
        return failed
