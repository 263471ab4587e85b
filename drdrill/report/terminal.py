"""A past report rendered for a terminal with rich tables; untrusted text is not markup.

What was simulated stands next to the verdict and the RTO, as in every other report format.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from drdrill.logs import redact_text
from drdrill.report.untrusted import visible_controls
from drdrill.results import DrillReport
from drdrill.timing import format_duration

_SIMULATED_LISTED = 20


def _d(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def _t(text: str) -> str:
    """Untrusted text for a rich console: no markup, no terminal escape sequences."""
    return escape(visible_controls(redact_text(text)))


def verdict_line(report: DrillReport) -> str:
    """The plain line a command prints on stdout when a drill ends: `PASS (simulated pods): ...`."""
    return visible_controls(redact_text(f"{report.verdict_label()}: {report.summary}"))


def rto_line(report: DrillReport) -> str:
    """`RTO 41s of 15m: met, measured on a simulated cluster` (no note on a real platform)."""
    rto, note = report.rto, report.rto_note()
    actual = "not measured" if rto.actual_seconds is None else format_duration(rto.actual_seconds)
    return (f"RTO {actual} of {format_duration(rto.budget_seconds)}: "
            f"{'met' if rto.met else 'NOT met'}" + (f", {note}" if note else ""))


def _simulation(report: DrillReport, console: Console) -> None:
    simulation = report.simulation
    if simulation is None or not simulation.any:
        return
    console.print(f"[bold]simulated:[/bold] {_t(simulation.label())}"
                  + (f" - {_t(simulation.description)}" if simulation.description else ""))
    resources = simulation.custom_resources
    if resources:
        table = Table("simulated kind", "namespace/name", "outcome", "simulated by")
        for r in resources[:_SIMULATED_LISTED]:
            table.add_row(_t(r.kind), _t(f"{r.namespace or ''}/{r.name}"), _t(r.outcome),
                          _t(r.simulator))
        console.print(table)
        if len(resources) > _SIMULATED_LISTED:
            console.print(f"... and {len(resources) - _SIMULATED_LISTED} more in report.json")


def render_terminal(report: DrillReport, console: Console) -> None:
    console.print(f"[bold]drdrill {_t(report.drill)}[/bold]: "
                  f"[bold]{_t(report.verdict_label())}[/bold] - {_t(report.summary)}")
    console.print(f"started {report.started_at.isoformat()}, provider {_t(report.provider)}")
    note = report.rto_note()
    console.print(f"RTO {_d(report.rto.actual_seconds)} of {_d(report.rto.budget_seconds)} "
                  f"({'met' if report.rto.met else 'not met'}{', ' + note if note else ''}); "
                  f"RPO worst age {_d(report.rpo.worst_age_seconds)} of "
                  f"{_d(report.rpo.budget_seconds)} ({'met' if report.rpo.met else 'not met'})")
    _simulation(report, console)
    phases = Table("phase", "status", "took", "budget", "note")
    for phase in report.phases:
        phases.add_row(phase.name, phase.status.value, _d(phase.duration_seconds),
                       _d(phase.budget_seconds), _t(phase.message))
    console.print(phases)
    if report.workloads:
        table = Table("kind", "namespace/name", "healthy", "ready after", "rule", "reason")
        for w in report.workloads:
            healthy = ("yes" if w.healthy else "NO") + (" (simulated)" if w.simulated else "")
            reason = "\n".join([w.reason, *w.notes]) if w.notes else w.reason
            table.add_row(_t(w.kind), _t(f"{w.namespace or ''}/{w.name}"), healthy,
                          _d(w.ready_after_seconds), _t(w.rule), _t(reason.strip()))
        console.print(table)
    if report.backups:
        table = Table("backup set", "verified", "objects", "bytes", "MiB/s", "engine", "age",
                      "RPO met", "failures")
        for b in report.backups:
            table.add_row(_t(b.name), "yes" if b.verified else "NO", str(b.objects_checked),
                          str(b.bytes_checked), _mib_per_s(b.bytes_per_second), _t(b.engine),
                          _d(b.age_seconds), "yes" if b.rpo_met else "NO",
                          str(len(b.failures)))
        console.print(table)
        for b in report.backups:
            if b.in_cluster is not None:
                console.print(f"in-cluster restore of {_t(b.name)}: {_t(b.in_cluster.summary())}")


def _mib_per_s(rate: float | None) -> str:
    return "-" if rate is None else f"{rate / 1048576:.1f}"
