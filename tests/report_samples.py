"""Drill reports made to order for the tests of what reads reports back: metrics,
notifications and the drill history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drdrill.results import (
    BackupResult,
    BootstrapRecord,
    DrillReport,
    PhaseResult,
    PhaseStatus,
    RpoResult,
    RtoResult,
    Simulation,
    ToolVersions,
    Verdict,
)

START = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
RECOVERY = ("cluster", "bootstrap", "workloads", "backups")


def make_report(*, drill: str = "ml-platform", verdict: Verdict = Verdict.PASS,
                rto: float | None = 60.0, rto_budget: float = 900.0,
                started_at: datetime = START, provider: str = "kwok", simulated: bool = True,
                revision: str | None = "main@sha1:0123456789abcdef0123",
                summary: str | None = None, failed_phase: str | None = None,
                phase_split: tuple[float, ...] = (0.1, 0.3, 0.4, 0.2),
                backup_age: float | None = 3600.0) -> DrillReport:
    """A report whose recovery phases add up to `rto` (split by `phase_split`)."""
    total = rto if rto is not None else 30.0
    phases, elapsed = [], 0.0
    for name, share in zip(RECOVERY, phase_split, strict=True):
        duration = round(total * share, 3)
        elapsed += duration
        status = PhaseStatus.FAILED if name == failed_phase else PhaseStatus.PASSED
        phases.append(PhaseResult(
            name=name, status=status, started_at=started_at, duration_seconds=duration,
            ended_after_seconds=round(elapsed, 3),
            message="Deployment serving/iris: ImagePullBackOff" if status is PhaseStatus.FAILED
            else ""))
    phases.append(PhaseResult(name="teardown", status=PhaseStatus.PASSED, required=False,
                              duration_seconds=2.0, ended_after_seconds=round(elapsed + 2, 3)))
    return DrillReport(
        drill=drill, verdict=verdict,
        summary=summary or ("all phases passed" if verdict is Verdict.PASS
                            else f"phase {failed_phase or 'workloads'} failed"),
        started_at=started_at, finished_at=started_at + timedelta(seconds=elapsed + 2),
        provider=provider,
        rto=RtoResult(budget_seconds=rto_budget, actual_seconds=rto,
                      met=rto is not None and rto <= rto_budget),
        rpo=RpoResult(budget_seconds=86400, worst_age_seconds=backup_age, met=True),
        phases=phases,
        backups=[BackupResult(name="models", bucket="ml-models", prefix="prod/",
                              holds="artifacts", verified=True, age_seconds=backup_age,
                              rpo_seconds=86400, rpo_met=True)] if backup_age is not None else [],
        bootstrap=BootstrapRecord(engine="flux", version="v2.7", script="bootstrap.sh",
                                  sha256="0" * 64, revision=revision),
        simulation=Simulation(pods=True) if simulated else None,
        versions=ToolVersions(drdrill="0.1.0", scenario_api_version="drdrill/v1alpha1"),
        git_ref="branch main",
    )
