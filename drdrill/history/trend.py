"""The history's rows and the RTO regression rule (pure functions of past reports).

A run regresses when its RTO is above the median RTO of the previous `window` comparable runs
by more than `threshold_percent`. Comparable means the same drill on the same provider, both
simulated or both not: a kind drill is not slower than a kwok one, it is another measurement.
At least `min_baseline` earlier runs with a measured RTO are needed before anything is judged.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from drdrill.history.collect import StoredReport
from drdrill.results import DrillReport, PhaseStatus

RECOVERY_PHASES = ("cluster", "bootstrap", "workloads", "backups")


@dataclass(frozen=True)
class TrendSettings:
    window: int = 10
    threshold_percent: float = 20.0
    min_baseline: int = 3


@dataclass(frozen=True)
class HistoryRow:
    drill: str
    started_at: datetime
    verdict: str
    verdict_label: str
    rto_seconds: float | None
    rto_budget_seconds: float
    rto_met: bool
    rpo_worst_age_seconds: float | None
    rpo_budget_seconds: float | None
    commit: str | None
    git_ref: str | None
    provider: str
    simulated: bool
    location: str
    phase_seconds: dict[str, float] = field(default_factory=dict)
    baseline_seconds: float | None = None  # median of the comparable runs before
    regression: bool = False

    @property
    def comparable_key(self) -> tuple[str, str, bool]:
        return (self.drill, self.provider, self.simulated)


def short_commit(revision: str | None) -> str | None:
    """Flux's `main@sha1:0123abcd...` or a bare sha -> `0123abcd` (12 hex digits)."""
    if not revision:
        return None
    sha = revision.rsplit(":", 1)[-1].rsplit("@", 1)[-1]
    return sha[:12]


def _row(stored: StoredReport) -> HistoryRow:
    report: DrillReport = stored.report
    return HistoryRow(
        drill=report.drill,
        started_at=report.started_at,
        verdict=report.verdict.value,
        verdict_label=report.verdict_label(),
        rto_seconds=report.rto.actual_seconds,
        rto_budget_seconds=report.rto.budget_seconds,
        rto_met=report.rto.met,
        rpo_worst_age_seconds=report.rpo.worst_age_seconds,
        rpo_budget_seconds=report.rpo.budget_seconds,
        commit=short_commit(report.bootstrap.revision if report.bootstrap else None),
        git_ref=report.ref_override or report.git_ref,
        provider=report.provider,
        simulated=report.simulation is not None and report.simulation.any,
        location=stored.location,
        phase_seconds={p.name: p.duration_seconds for p in report.phases
                       if p.name in RECOVERY_PHASES and p.status is not PhaseStatus.SKIPPED},
    )


def build_history(reports: Sequence[StoredReport], settings: TrendSettings) -> list[HistoryRow]:
    """One row per report, oldest first, each judged against the comparable runs before it."""
    rows = sorted((_row(stored) for stored in reports),
                  key=lambda row: (row.started_at, row.location))
    earlier: dict[tuple[str, str, bool], list[float]] = defaultdict(list)
    judged = []
    for row in rows:
        before = earlier[row.comparable_key][-settings.window:]
        if row.rto_seconds is not None and len(before) >= settings.min_baseline:
            median = statistics.median(before)
            limit = median * (1 + settings.threshold_percent / 100)
            row = replace(row, baseline_seconds=median, regression=row.rto_seconds > limit)
        judged.append(row)
        if row.rto_seconds is not None and row.verdict in ("pass", "fail"):
            earlier[row.comparable_key].append(row.rto_seconds)
    return judged


def newest_regressions(rows: Sequence[HistoryRow]) -> list[HistoryRow]:
    """The newest run of each drill, where that run is a regression (what CI fails on)."""
    newest: dict[str, HistoryRow] = {}
    for row in rows:
        newest[row.drill] = row
    return [row for row in newest.values() if row.regression]
