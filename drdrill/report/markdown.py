"""report.md: short enough to paste into a pull request or an incident channel."""

from __future__ import annotations

from drdrill.results import DrillReport, PhaseStatus, Verdict
from drdrill.timing import format_duration

_ICON = {
    Verdict.PASS: "PASS",
    Verdict.FAIL: "FAIL",
    Verdict.ERROR: "ERROR",
    Verdict.INTERRUPTED: "INTERRUPTED",
}


def _cell(text: str) -> str:
    """Keep untrusted text from breaking the table or injecting markup."""
    cleaned = " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return cleaned[:200] + ("..." if len(cleaned) > 200 else "")


def _seconds(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def render_markdown(report: DrillReport) -> str:
    rto, rpo = report.rto, report.rpo
    lines = [
        f"## drdrill `{report.drill}`: {_ICON[report.verdict]}",
        "",
        f"{_cell(report.summary)}. Provider `{report.provider}`, started "
        f"{report.started_at.isoformat()}.",
        "",
        f"- **RTO** {_seconds(rto.actual_seconds)} of {_seconds(rto.budget_seconds)}: "
        f"{'met' if rto.met else 'NOT met'}",
        f"- **RPO** worst backup age {_seconds(rpo.worst_age_seconds)} of "
        f"{_seconds(rpo.budget_seconds)}: {'met' if rpo.met else 'NOT met'}",
        "",
        "| phase | status | took | budget | note |",
        "|---|---|---|---|---|",
    ]
    for phase in report.phases:
        lines.append(
            f"| {phase.name} | {phase.status.value} | {_seconds(phase.duration_seconds)} | "
            f"{_seconds(phase.budget_seconds)} | {_cell(phase.message)} |"
        )
    unhealthy = [w for w in report.workloads if not w.healthy]
    if report.workloads:
        lines += ["", f"**Workloads:** {len(report.workloads) - len(unhealthy)}/"
                  f"{len(report.workloads)} healthy."]
        for workload in unhealthy[:10]:
            where = f"{workload.namespace}/" if workload.namespace else ""
            name = _cell(where + workload.name)
            lines.append(f"- {workload.kind} {name}: {_cell(workload.reason)}")
        if len(unhealthy) > 10:
            lines.append(f"- ... and {len(unhealthy) - 10} more")
    if report.backups:
        lines += ["", "| backup set | verified | objects | age | RPO |", "|---|---|---|---|---|"]
        for backup in report.backups:
            lines.append(
                f"| {backup.name} | {'yes' if backup.verified else 'NO'} | "
                f"{backup.objects_checked} | {_seconds(backup.age_seconds)} | "
                f"{'met' if backup.rpo_met else 'NOT met'} |"
            )
    missing = [ref for ref in report.references if not ref.restorable]
    if missing:
        lines += ["", "**Model references without a verified backup:**"]
        lines += [f"- `{_cell(ref.uri)}` ({_cell(ref.source)})" for ref in missing[:10]]
    failed = [p for p in report.phases if p.status is not PhaseStatus.PASSED and p.required]
    if not failed and report.verdict is Verdict.PASS:
        lines += ["", "Every required phase passed."]
    return "\n".join(lines) + "\n"
