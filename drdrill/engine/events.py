"""What a running drill tells whoever watches it, as plain calls with plain data.

The engine and its phases call a `DrillObserver`; the CLI decides how to show it (the live
terminal view, progress lines, the `--step` prompt). Nothing here knows about terminals, so
the engine never imports a terminal library. The base class does nothing: an observer
overrides what it shows. Calls come from the drill's own thread, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drdrill.results import DrillReport, PhaseResult


@dataclass(frozen=True)
class PlannedPhase:
    name: str
    budget_seconds: float


@dataclass(frozen=True)
class WorkloadState:
    """One workload the workloads phase waits on, as its health verdict stands now.

    `state` is the health vocabulary (`current`, `in-progress`, `failed`, `unknown`); `reason`
    is the rule's words, e.g. "0/2 ready: readiness probe failing". Untrusted text: it comes
    from the cluster.
    """

    kind: str
    namespace: str | None
    name: str
    state: str
    reason: str

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.kind, self.namespace, self.name)


class DrillObserver:
    """Told about a drill's progress. Must not raise, except `DrillInterrupted` from
    `phase_started` to stop the drill before that phase (the `--step` prompt does)."""

    # True while drawing on the terminal itself (the live view): a phase then draws nothing
    # of its own there (no progress bar).
    owns_terminal: bool = False

    def drill_started(self, drill: str, *, phases: Sequence[PlannedPhase],
                      rto_seconds: float) -> None:
        """Before the first phase: every phase the drill will run, with its budget."""

    def phase_started(self, name: str, budget_seconds: float) -> None:
        """The phase starts now (its budget is the scenario's, else the RTO)."""

    def phase_finished(self, result: PhaseResult) -> None:
        """The phase ended (or was skipped); also said for the teardown."""

    def teardown_started(self) -> None:
        """The cleanup stack starts undoing what the drill did (on every ending)."""

    def workloads_waiting(self, workloads: Sequence[WorkloadState]) -> None:
        """The wait for these workloads begins (all not yet judged)."""

    def workload_changed(self, workload: WorkloadState) -> None:
        """A waited-on workload's verdict changed."""

    def workload_excluded(self, kind: str, namespace: str | None, name: str) -> None:
        """The scenario's label selectors leave this workload out: no longer waited on."""

    def drill_finished(self, report: DrillReport) -> None:
        """The report is written; the last call."""
