"""A past report rendered for a terminal with rich tables; untrusted text is not markup."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from drdrill.results import DrillReport
from drdrill.timing import format_duration


def _d(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def render_terminal(report: DrillReport, console: Console) -> None:
    console.print(f"[bold]drdrill {escape(report.drill)}[/bold]: "
                  f"[bold]{report.verdict.value.upper()}[/bold] - {escape(report.summary)}")
    console.print(f"started {report.started_at.isoformat()}, provider {escape(report.provider)}")
    console.print(f"RTO {_d(report.rto.actual_seconds)} of {_d(report.rto.budget_seconds)} "
                  f"({'met' if report.rto.met else 'not met'}); RPO worst age "
                  f"{_d(report.rpo.worst_age_seconds)} of {_d(report.rpo.budget_seconds)} "
                  f"({'met' if report.rpo.met else 'not met'})")
    phases = Table("phase", "status", "took", "budget", "note")
    for phase in report.phases:
        phases.add_row(phase.name, phase.status.value, _d(phase.duration_seconds),
                       _d(phase.budget_seconds), escape(phase.message))
    console.print(phases)
    if report.workloads:
        table = Table("kind", "namespace/name", "healthy", "ready after", "reason")
        for w in report.workloads:
            table.add_row(escape(w.kind), escape(f"{w.namespace or ''}/{w.name}"),
                          "yes" if w.healthy else "NO", _d(w.ready_after_seconds), escape(w.reason))
        console.print(table)
    if report.backups:
        table = Table("backup set", "verified", "objects", "bytes", "age", "RPO met", "failures")
        for b in report.backups:
            table.add_row(escape(b.name), "yes" if b.verified else "NO", str(b.objects_checked),
                          str(b.bytes_checked), _d(b.age_seconds), "yes" if b.rpo_met else "NO",
                          str(len(b.failures)))
        console.print(table)
