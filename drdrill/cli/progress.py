"""Progress lines on a terminal (stderr), via rich: where the live view is not wanted
(`--no-live`, `--step`, `TERM=dumb`, CI with a terminal) or for other commands."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from drdrill.engine.events import DrillObserver
from drdrill.logs import redact_text
from drdrill.report.untrusted import visible_controls
from drdrill.results import PhaseResult, PhaseStatus
from drdrill.timing import format_duration

_STYLE = {
    PhaseStatus.PASSED: "green",
    PhaseStatus.FAILED: "red",
    PhaseStatus.ERROR: "dark_orange",
    PhaseStatus.SKIPPED: "grey50",
}


class TerminalProgress(DrillObserver):
    def __init__(self) -> None:
        super().__init__()
        self.console = Console(stderr=True)

    def phase_started(self, name: str, budget_seconds: float) -> None:
        self.console.print(f"[bold]>[/bold] {name} (budget {format_duration(budget_seconds)})")

    def phase_finished(self, result: PhaseResult) -> None:
        style = _STYLE[result.status]
        note = f": {escape(visible_controls(redact_text(result.message)))}" if (
            result.message) else ""
        self.console.print(
            f"  [{style}]{result.status.value}[/{style}] {result.name} in "
            f"{format_duration(result.duration_seconds)}{note}",
            markup=True, highlight=False,
        )
