"""junit.xml: one testsuite per drill; one testcase per phase, workload and backup set.

CI reads this file without a human, so what was simulated is machine-visible: the suite carries
`verdict`, `simulation` and `rto-note` properties (empty values when nothing was simulated) and
says it in its system-out; each workload testcase carries the `rule` that decided it and whether
its status was `simulated`. Names and classnames stay the same with or without simulation, so a
CI history of a test does not split. Every string passes through `visible_controls`:
ElementTree escapes `<&"` but writes control characters as they are, which XML forbids.
"""

from __future__ import annotations

from junitparser import (
    Error,
    Failure,
    JUnitXml,
    Properties,
    Property,
    Skipped,
    SystemOut,
    TestCase,
    TestSuite,
)

from drdrill.report.untrusted import visible_controls
from drdrill.results import DrillReport, PhaseStatus, WorkloadResult
from drdrill.timing import format_duration

_SIMULATED_LISTED = 100


def _case(name: str, classname: str, seconds: float | None) -> TestCase:
    return TestCase(visible_controls(name), visible_controls(classname), seconds or 0.0)


def _properties(values: dict[str, str]) -> Properties:
    properties = Properties()
    for name, value in values.items():
        properties.add_property(Property(name, visible_controls(value)))
    return properties


def _suite_out(report: DrillReport) -> str:
    lines = [f"verdict: {report.verdict_label()}: {report.summary}"]
    rto = report.rto
    actual = "not measured" if rto.actual_seconds is None else format_duration(rto.actual_seconds)
    note = report.rto_note()
    lines.append(f"RTO {actual} of {format_duration(rto.budget_seconds)}"
                 + (f", {note}" if note else ""))
    simulation = report.simulation
    if simulation is not None and simulation.any:
        lines.append(f"simulation: {simulation.label()}")
        if simulation.description:
            lines.append(simulation.description)
        resources = simulation.custom_resources
        lines += [f"simulated {r.kind} {r.namespace + '/' if r.namespace else ''}{r.name}: "
                  f"{r.outcome}" for r in resources[:_SIMULATED_LISTED]]
        if len(resources) > _SIMULATED_LISTED:
            lines.append(f"... and {len(resources) - _SIMULATED_LISTED} more in report.json")
    return visible_controls("\n".join(lines))


def _workload_case(report: DrillReport, workload: WorkloadResult) -> TestCase:
    where = f"{workload.namespace}/" if workload.namespace else ""
    case = _case(f"{workload.kind} {where}{workload.name}",
                 f"drdrill.{report.drill}.workloads", workload.ready_after_seconds)
    case.append(_properties({"rule": workload.rule,
                             "simulated": "true" if workload.simulated else "false"}))
    if not workload.healthy:
        case.result = [Failure(visible_controls(workload.reason or "not healthy"))]
    out = [f"rule: {workload.rule}"] if workload.rule else []
    if workload.simulated:
        out.append("status written by drdrill's simulation, not by a controller")
    if len(workload.chain) > 1:
        out.append("applied by: " + " → ".join(workload.chain[:-1]))
    out += workload.notes
    if out:
        case.system_out = visible_controls("\n".join(out))
    return case


def render_junit(report: DrillReport) -> str:
    suite = TestSuite(visible_controls(f"drdrill.{report.drill}"))
    suite.timestamp = report.started_at.isoformat()
    suite.append(_properties({
        "verdict": report.verdict_label(),
        "simulation": report.simulation.label() if report.simulation is not None else "",
        "rto-note": report.rto_note(),
    }))
    for phase in report.phases:
        case = _case(phase.name, f"drdrill.{report.drill}.phases", phase.duration_seconds)
        message = visible_controls(phase.message)
        if phase.status is PhaseStatus.FAILED:
            case.result = [Failure(message or "failed")]
        elif phase.status is PhaseStatus.ERROR:
            case.result = [Error(message or "error")]
        elif phase.status is PhaseStatus.SKIPPED:
            case.result = [Skipped(message or "skipped")]
        suite.add_testcase(case)
    for workload in report.workloads:
        suite.add_testcase(_workload_case(report, workload))
    for backup in report.backups:
        case = _case(backup.name, f"drdrill.{report.drill}.backups", None)
        problems = [f"{f.key}: {f.problem}" for f in backup.failures]
        if not backup.rpo_met:
            problems.insert(0, "RPO not met")
        if not backup.verified or problems:
            case.result = [Failure(visible_controls("; ".join(problems)[:2000]) or "not verified")]
        suite.add_testcase(case)
        if backup.in_cluster is not None:
            inside = _case(f"{backup.name} in cluster", f"drdrill.{report.drill}.backups",
                           backup.in_cluster.seconds)
            summary = visible_controls(backup.in_cluster.summary())[:2000]
            if backup.in_cluster.verified is False:
                inside.result = [Failure(summary)]
            elif backup.in_cluster.verified is None:
                inside.result = [Skipped(summary)]
            else:
                inside.system_out = summary
            suite.add_testcase(inside)
    for name, met in (("rto", report.rto.met), ("rpo", report.rpo.met)):
        case = _case(name, f"drdrill.{report.drill}.sla", None)
        if not met:
            case.result = [Failure(f"{name.upper()} not met")]
        if name == "rto" and report.rto_note():
            case.system_out = report.rto_note()
        suite.add_testcase(case)
    suite.append(SystemOut(_suite_out(report)))
    suite.update_statistics()
    xml = JUnitXml()
    xml.add_testsuite(suite)
    xml.update_statistics()
    rendered = xml.tostring()
    return rendered.decode("utf-8") if isinstance(rendered, bytes) else str(rendered)
