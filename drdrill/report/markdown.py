"""report.md: short enough to paste into a pull request or an incident channel.

What drdrill simulated stands next to the verdict and the RTO: a PASS on kwok says the GitOps
recovery works, not that real pods and controllers would have come up.
"""

from __future__ import annotations

import re

from drdrill.report.untrusted import visible_controls
from drdrill.results import DrillReport, PhaseStatus, Simulation, Verdict, WorkloadResult
from drdrill.timing import format_duration

_LISTED = 10
_PODS = ("Pods went through kwok's stages: Ready after a delay, whatever their image, probes, "
         "config or Secrets.")


# Characters that make Markdown markup inside a line (links, images, emphasis, code, tables);
# `<` and `>` become entities, so no HTML gets through either.
_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")


def _cell(text: str, limit: int = 200) -> str:
    """Keep untrusted text from breaking the table or injecting markup: a name like
    `[click](https://...)` or `<img src=x>` is shown as text, never rendered as a link or HTML."""
    cleaned = " ".join(visible_controls(text).split())
    cleaned = cleaned[:limit] + ("..." if len(cleaned) > limit else "")
    cleaned = cleaned.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", cleaned)


def _seconds(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def _where(namespace: str | None, name: str) -> str:
    return _cell(f"{namespace}/{name}" if namespace else name)


def _workload_line(workload: WorkloadResult) -> str:
    if workload.healthy:
        state = "healthy" + (f" after {_seconds(workload.ready_after_seconds)}"
                             if workload.ready_after_seconds is not None else "")
    else:
        state = "NOT healthy" + (f", {_cell(workload.reason)}" if workload.reason else "")
    how = [f"rule: {_cell(workload.rule)}"] if workload.rule else []
    if workload.simulated:
        how.append("simulated status")
    line = f"- {_cell(workload.kind)} {_where(workload.namespace, workload.name)}: {state}"
    if how:
        line += f" ({'; '.join(how)})"
    if len(workload.chain) > 1:
        line += ". Applied by: " + " → ".join(_cell(step) for step in workload.chain[:-1])
    if workload.notes:
        line += ". Notes: " + "; ".join(_cell(note) for note in workload.notes[:3])
    return line


def _workload_lines(report: DrillReport) -> list[str]:
    """Every unhealthy workload first, then healthy ones that carry notes (a scale-up wait)."""
    unhealthy = [w for w in report.workloads if not w.healthy]
    simulated = sum(1 for w in report.workloads if w.simulated)
    total = len(report.workloads)
    count = f"**Workloads:** {total - len(unhealthy)}/{total} healthy"
    count += f" ({simulated} with simulated status)." if simulated else "."
    listed = unhealthy + [w for w in report.workloads if w.healthy and w.notes]
    lines = ["", count] + [_workload_line(w) for w in listed[:_LISTED]]
    if len(listed) > _LISTED:
        lines.append(f"- ... and {len(listed) - _LISTED} more (report.html lists them all)")
    return lines


def _simulation_lines(simulation: Simulation) -> list[str]:
    lines = ["", "### Simulated", ""]
    description = _cell(simulation.description, 600) if simulation.description else ""
    if not description and simulation.pods:
        description = _PODS
    if description:
        lines += [description, ""]
    resources = simulation.custom_resources
    if resources:
        lines.append(f"Custom resources whose status drdrill wrote, not a controller "
                     f"({len(resources)}):")
        lines += [f"- {_cell(r.kind)} {_where(r.namespace, r.name)}: {_cell(r.outcome)}"
                  for r in resources[:_LISTED]]
        if len(resources) > _LISTED:
            lines.append(f"- ... and {len(resources) - _LISTED} more (see report.json)")
    return lines[:-1] if lines[-1] == "" else lines


def _git_ref(report: DrillReport) -> str:
    """` Git ref: tag v1.4.0 (--ref tag=v1.4.0).`; nothing when the report has no ref."""
    if not report.git_ref:
        return ""
    override = f" (--ref {_cell(report.ref_override)})" if report.ref_override else ""
    return f" Git ref: {_cell(report.git_ref)}{override}."


def render_markdown(report: DrillReport) -> str:
    rto, rpo = report.rto, report.rpo
    rto_note = report.rto_note()
    lines = [
        f"## drdrill `{report.drill}`: {_cell(report.verdict_label())}",
        "",
        f"{_cell(report.summary)}. Provider `{report.provider}`, started "
        f"{report.started_at.isoformat()}." + _git_ref(report),
        "",
        f"- **RTO** {_seconds(rto.actual_seconds)} of {_seconds(rto.budget_seconds)}: "
        f"{'met' if rto.met else 'NOT met'}" + (f" ({rto_note})" if rto_note else ""),
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
    if report.simulation is not None and report.simulation.any:
        lines += _simulation_lines(report.simulation)
    if report.bootstrap is not None and (report.bootstrap.layout or report.bootstrap.rewrites):
        lines += ["", f"Repository: {_cell(report.bootstrap.layout or 'as given')}."]
        lines += [f"- rewritten: {_cell(rewrite)}" for rewrite in report.bootstrap.rewrites]
    if report.bootstrap is not None and len(report.bootstrap.layers) > 1:
        lines += ["", "Layers in the order they became ready: " + ", ".join(
            f"{_cell(layer.kind)} {_where(layer.namespace, layer.name)} "
            + (f"({_cell(layer.problem)})" if layer.problem
               else _seconds(layer.ready_after_seconds))
            for layer in report.bootstrap.layers[:_LISTED]) + "."]
    if report.workloads:
        lines += _workload_lines(report)
    if report.backups:
        lines += ["", "| backup set | verified | objects | bytes | MiB/s | engine | age | RPO |",
                  "|---|---|---|---|---|---|---|---|"]
        for backup in report.backups:
            rate = ("-" if backup.bytes_per_second is None
                    else f"{backup.bytes_per_second / 1048576:.1f}")
            lines.append(
                f"| {_cell(backup.name)} | {'yes' if backup.verified else 'NO'} | "
                f"{backup.objects_checked} | {backup.bytes_checked} | {rate} | "
                f"{_cell(backup.engine) or '-'} | {_seconds(backup.age_seconds)} | "
                f"{'met' if backup.rpo_met else 'NOT met'} |"
            )
        lines += [f"- in-cluster restore of {_cell(b.name)}: {_cell(b.in_cluster.summary())}"
                  for b in report.backups if b.in_cluster is not None]
    missing = [ref for ref in report.references if not ref.restorable]
    if missing:
        lines += ["", "**Model references without a verified backup:**"]
        lines += [f"- {_cell(ref.uri)} ({_cell(ref.source)})" for ref in missing[:_LISTED]]
    failed = [p for p in report.phases if p.status is not PhaseStatus.PASSED and p.required]
    if not failed and report.verdict is Verdict.PASS:
        lines += ["", "Every required phase passed."]
    return "\n".join(lines) + "\n"
