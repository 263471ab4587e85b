"""The SLA verdict: pure functions from phase results to pass / fail / error / interrupted."""

from __future__ import annotations

from collections.abc import Sequence

from drdrill.results import (
    BackupResult,
    PhaseResult,
    PhaseStatus,
    RpoResult,
    RtoResult,
    Verdict,
)

# The platform is back when these have passed; RTO is measured to the end of the last one.
RECOVERY_PHASES = ("workloads", "backups")


def measure_rto(phases: Sequence[PhaseResult], *, budget_seconds: float) -> RtoResult:
    recovery = [p for p in phases if p.name in RECOVERY_PHASES and p.required]
    recovered = bool(recovery) and all(p.status is PhaseStatus.PASSED for p in recovery)
    if not recovered:
        return RtoResult(budget_seconds=budget_seconds, actual_seconds=None, met=False)
    actual = max(p.ended_after_seconds for p in recovery)
    return RtoResult(
        budget_seconds=budget_seconds, actual_seconds=round(actual, 3), met=actual <= budget_seconds
    )


def measure_rpo(backups: Sequence[BackupResult], *, budget_seconds: float | None) -> RpoResult:
    ages = [b.age_seconds for b in backups if b.age_seconds is not None]
    worst = max(ages) if ages else None
    if not backups:
        # Nothing to measure: met only if the scenario asked for no RPO at all.
        return RpoResult(budget_seconds=budget_seconds, worst_age_seconds=None,
                         met=budget_seconds is None)
    met = len(ages) == len(backups) and all(b.rpo_met for b in backups)
    return RpoResult(
        budget_seconds=budget_seconds,
        worst_age_seconds=None if worst is None else round(worst, 3),
        met=met,
    )


def decide_verdict(
    phases: Sequence[PhaseResult], *, rto: RtoResult, rpo: RpoResult, interrupted: bool
) -> tuple[Verdict, str]:
    """Return the verdict and a one-sentence summary of why."""
    if interrupted:
        return Verdict.INTERRUPTED, "the drill was interrupted before it finished"
    errored = [p.name for p in phases if p.status is PhaseStatus.ERROR]
    if errored:
        return Verdict.ERROR, f"could not be carried out: phase {', '.join(errored)} hit an error"
    problems = [
        f"phase {p.name} {p.status.value}"
        for p in phases
        if p.required and p.status in (PhaseStatus.FAILED, PhaseStatus.SKIPPED)
    ]
    if not rto.met:
        problems.append("RTO not met" if rto.actual_seconds is not None else "RTO not measured")
    if not rpo.met:
        problems.append("RPO not met")
    if problems:
        return Verdict.FAIL, "; ".join(problems)
    return Verdict.PASS, "the platform came back within its SLA"
