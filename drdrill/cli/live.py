"""The live terminal view of a running drill, for on-call rehearsals.

One board redrawn a few times a second on stderr: every phase with its clock against its
budget, the drill's clock against the RTO, and the workloads the drill still waits on with
the reason each is not healthy yet ("0/2 ready: readiness probe failing"). It ends with the
verdict. `DrillBoard` is the model (events in, a rich renderable out, no terminal needed);
`LiveView` puts it on the terminal with rich's `Live` while log lines scroll above it.

Shown only where someone watches: stderr is a terminal, `CI` is not set, `TERM` is not
`dumb`, and neither `--no-live` nor `--step` was given. `NO_COLOR` keeps the view without
colours. Elsewhere the drill prints its log lines as before, with no control sequences.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from drdrill.engine.events import DrillObserver, PlannedPhase, WorkloadState
from drdrill.logs import redact_text
from drdrill.report.untrusted import visible_controls
from drdrill.results import DrillReport, PhaseResult, PhaseStatus, Verdict
from drdrill.timing import format_duration

# Past this many, the waiting list says how many more there are.
WAITING_SHOWN = 12
REFRESHES_PER_SECOND = 4

_STATUS_STYLE = {
    PhaseStatus.PASSED: "green",
    PhaseStatus.FAILED: "red",
    PhaseStatus.ERROR: "dark_orange",
    PhaseStatus.SKIPPED: "grey50",
}
_VERDICT_STYLE = {Verdict.PASS: "bold green", Verdict.FAIL: "bold red"}
_STATE_ORDER = {"failed": 0, "in-progress": 1, "unknown": 2}
_FALSE = ("", "0", "false", "no")


def live_view_wanted(*, no_live: bool, step: bool, environ: Mapping[str, str],
                     stderr_is_terminal: bool) -> bool:
    """Whether `drdrill run` shows the live view (see the module docstring)."""
    return (stderr_is_terminal and not no_live and not step
            and environ.get("CI", "").strip().lower() in _FALSE
            and environ.get("TERM", "") != "dumb")


def _untrusted(text: str) -> Text:
    """Text from the cluster or a phase: never markup, never a control sequence."""
    return Text(visible_controls(redact_text(text)))


@dataclass
class _PhaseRow:
    name: str
    budget_seconds: float | None
    started: float | None = None
    result: PhaseResult | None = None


class DrillBoard(DrillObserver):
    """What the live view shows, kept up to date by the drill's events.

    Events arrive on the drill's thread and `render` runs on rich's refresh thread: both hold
    one lock. `clock` is monotonic seconds (a test passes its own).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._drill = ""
        self._rto: float | None = None
        self._started: float | None = None
        self._phases: list[_PhaseRow] = []
        self._workloads: dict[tuple[str, str | None, str], WorkloadState] = {}
        self._waiting_open = False
        self._teardown_since: float | None = None
        self._report: DrillReport | None = None
        self._ended: float | None = None

    # -- events -----------------------------------------------------------------------------

    def drill_started(self, drill: str, *, phases: Sequence[PlannedPhase],
                      rto_seconds: float) -> None:
        with self._lock:
            self._drill, self._rto, self._started = drill, rto_seconds, self._clock()
            self._phases = [_PhaseRow(p.name, p.budget_seconds) for p in phases]

    def phase_started(self, name: str, budget_seconds: float) -> None:
        with self._lock:
            self._row(name, budget_seconds).started = self._clock()

    def phase_finished(self, result: PhaseResult) -> None:
        with self._lock:
            self._row(result.name, result.budget_seconds).result = result
            if result.name == "workloads":
                self._waiting_open = False

    def teardown_started(self) -> None:
        with self._lock:
            self._teardown_since = self._clock()

    def workloads_waiting(self, workloads: Sequence[WorkloadState]) -> None:
        with self._lock:
            self._workloads = {w.key: w for w in workloads}
            self._waiting_open = True

    def workload_changed(self, workload: WorkloadState) -> None:
        with self._lock:
            self._workloads[workload.key] = workload

    def workload_excluded(self, kind: str, namespace: str | None, name: str) -> None:
        with self._lock:
            self._workloads.pop((kind, namespace, name), None)

    def drill_finished(self, report: DrillReport) -> None:
        with self._lock:
            self._report, self._ended = report, self._clock()

    def _row(self, name: str, budget_seconds: float | None) -> _PhaseRow:
        row = next((r for r in self._phases if r.name == name), None)
        if row is None:
            row = _PhaseRow(name, budget_seconds)
            self._phases.append(row)
        return row

    # -- drawing ----------------------------------------------------------------------------

    def __rich__(self) -> RenderableType:
        return self.render()

    def render(self) -> RenderableType:
        with self._lock:
            now = self._clock() if self._ended is None else self._ended
            parts: list[RenderableType] = [self._heading(now), self._phase_table(now)]
            parts += self._phase_problems()
            waiting = self._waiting_table()
            if waiting is not None:
                parts.append(waiting)
            parts.append(self._footer(now))
            return Group(*parts)

    def _heading(self, now: float) -> Text:
        heading = Text.assemble(("drdrill run ", "bold"), _untrusted(self._drill))
        if self._started is not None and self._rto is not None:
            elapsed = now - self._started
            heading.append(f"  {format_duration(elapsed)} of RTO {format_duration(self._rto)}",
                           style="red" if elapsed > self._rto else "")
        return heading

    def _phase_table(self, now: float) -> Table:
        table = Table(box=None, pad_edge=False, show_edge=False)
        for column in ("phase", "status", "clock", "budget"):
            table.add_column(column, justify="right" if column in ("clock", "budget") else "left")
        for row in self._phases:
            budget = "-" if not row.budget_seconds else format_duration(row.budget_seconds)
            if row.result is not None:
                status = Text(row.result.status.value, style=_STATUS_STYLE[row.result.status])
                clock = ("-" if row.result.status is PhaseStatus.SKIPPED
                         else format_duration(row.result.duration_seconds))
            elif row.started is not None:
                elapsed = now - row.started
                over = bool(row.budget_seconds) and elapsed > (row.budget_seconds or 0.0)
                status = Text("running", style="bold red" if over else "bold cyan")
                clock = format_duration(elapsed)
            else:
                status, clock = Text("pending", style="grey50"), ""
            table.add_row(row.name, status, clock, budget)
        return table

    def _phase_problems(self) -> list[Text]:
        """Why each phase that failed or erred did, as the report will say it."""
        lines = []
        for row in self._phases:
            result = row.result
            if result is not None and result.message and result.status in (
                    PhaseStatus.FAILED, PhaseStatus.ERROR):
                line = Text(f"{row.name}: ", style=_STATUS_STYLE[result.status])
                lines.append(line.append_text(_untrusted(result.message)))
        return lines

    def _waiting_table(self) -> Group | None:
        if not self._workloads:
            return None
        states = list(self._workloads.values())
        healthy = sum(1 for w in states if w.state == "current")
        failed = sum(1 for w in states if w.state == "failed")
        pending = len(states) - healthy - failed
        # While the wait runs: what it still waits on, and what failed; after: what failed
        # and what was still on its way when it ended.
        shown = sorted((w for w in states if w.state != "current"),
                       key=lambda w: (_STATE_ORDER.get(w.state, 3), w.kind,
                                      w.namespace or "", w.name))
        noun = "workload" if len(states) == 1 else "workloads"
        title = (f"waiting on {pending} of {len(states)} {noun}" if self._waiting_open
                 else f"{len(states)} {noun}")
        title += f" ({healthy} healthy" + (f", {failed} failed)" if failed else ")")
        if not shown:
            return Group(Text(title, style="bold"))
        table = Table(box=None, pad_edge=False, show_edge=False)
        table.add_column("workload", overflow="fold")
        table.add_column("why not healthy yet" if self._waiting_open else "state",
                         overflow="fold")
        for workload in shown[:WAITING_SHOWN]:
            where = f"{workload.namespace}/" if workload.namespace else ""
            reason = _untrusted(workload.reason)
            reason.stylize("red" if workload.state == "failed" else "yellow")
            table.add_row(_untrusted(f"{workload.kind} {where}{workload.name}"), reason)
        if len(shown) > WAITING_SHOWN:
            table.add_row(Text(f"... and {len(shown) - WAITING_SHOWN} more", style="grey50"), "")
        return Group(Text(title, style="bold"), table)

    def _footer(self, now: float) -> Text:
        if self._report is not None:
            style = _VERDICT_STYLE.get(self._report.verdict, "bold dark_orange")
            return Text.assemble(("verdict: ", "bold"),
                                 (visible_controls(self._report.verdict_label()), style))
        if self._teardown_since is not None:
            return Text(f"tearing down ({format_duration(now - self._teardown_since)})",
                        style="cyan")
        return Text("")


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is now: under the live view, rich's proxy, which prints
    each log line above the board instead of through it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class LiveView(DrillObserver):
    """The board on the terminal (stderr) from the drill's start to its verdict."""

    owns_terminal = True

    def __init__(self, *, console: Console | None = None) -> None:
        self.board = DrillBoard()
        self.console = console or Console(stderr=True)
        self._live = Live(self.board, console=self.console,
                          refresh_per_second=REFRESHES_PER_SECOND, transient=False,
                          redirect_stdout=True, redirect_stderr=True)
        self._saved_factory: Any = None

    def drill_started(self, drill: str, *, phases: Sequence[PlannedPhase],
                      rto_seconds: float) -> None:
        self.board.drill_started(drill, phases=phases, rto_seconds=rto_seconds)
        self._saved_factory = structlog.get_config().get("logger_factory")
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(
            file=_CurrentStderr()))  # type: ignore[arg-type]
        self._live.start()

    def phase_started(self, name: str, budget_seconds: float) -> None:
        self.board.phase_started(name, budget_seconds)

    def phase_finished(self, result: PhaseResult) -> None:
        self.board.phase_finished(result)

    def teardown_started(self) -> None:
        self.board.teardown_started()

    def workloads_waiting(self, workloads: Sequence[WorkloadState]) -> None:
        self.board.workloads_waiting(workloads)

    def workload_changed(self, workload: WorkloadState) -> None:
        self.board.workload_changed(workload)

    def workload_excluded(self, kind: str, namespace: str | None, name: str) -> None:
        self.board.workload_excluded(kind, namespace, name)

    def drill_finished(self, report: DrillReport) -> None:
        self.board.drill_finished(report)
        self.close()

    def close(self) -> None:
        """Draw the last frame and give the terminal back; safe to call twice."""
        if self._live.is_started:
            self._live.stop()
        if self._saved_factory is not None:
            structlog.configure(logger_factory=self._saved_factory)
            self._saved_factory = None
