"""`drdrill run --step`: pause before each phase for an on-call rehearsal walk-through.

The drill's clock keeps running while it waits, so the RTO of a stepped drill includes the
pauses (each phase's own duration does not). Enter goes on; `q` or Ctrl-C stops the drill,
which then cleans up and reports as interrupted.
"""

from __future__ import annotations

import sys

from drdrill.cli.progress import TerminalProgress
from drdrill.errors import BadInputError, DrillInterrupted
from drdrill.timing import format_duration


def check_step_possible() -> None:
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise BadInputError("--step needs a terminal (stdin and stderr): it waits for Enter")


class SteppingProgress(TerminalProgress):
    def phase_started(self, name: str, budget_seconds: float) -> None:
        self.console.print(
            f"[bold]next:[/bold] {name} (budget {format_duration(budget_seconds)}). "
            "Enter to start it, q to stop the drill: ", end="")
        answer = sys.stdin.readline()
        if answer == "" or answer.strip().lower() in ("q", "quit"):
            raise DrillInterrupted("the step prompt (q)")
        super().phase_started(name, budget_seconds)
