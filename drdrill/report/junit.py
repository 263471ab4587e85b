"""junit.xml: one testsuite per drill; one testcase per phase, workload and backup set."""

from __future__ import annotations

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from drdrill.results import DrillReport, PhaseStatus


def _case(name: str, classname: str, seconds: float | None) -> TestCase:
    return TestCase(name, classname, seconds or 0.0)


def render_junit(report: DrillReport) -> str:
    suite = TestSuite(f"drdrill.{report.drill}")
    suite.timestamp = report.started_at.isoformat()
    for phase in report.phases:
        case = _case(phase.name, f"drdrill.{report.drill}.phases", phase.duration_seconds)
        if phase.status is PhaseStatus.FAILED:
            case.result = [Failure(phase.message or "failed")]
        elif phase.status is PhaseStatus.ERROR:
            case.result = [Error(phase.message or "error")]
        elif phase.status is PhaseStatus.SKIPPED:
            case.result = [Skipped(phase.message or "skipped")]
        suite.add_testcase(case)
    for workload in report.workloads:
        where = f"{workload.namespace}/" if workload.namespace else ""
        case = _case(f"{workload.kind} {where}{workload.name}",
                     f"drdrill.{report.drill}.workloads", workload.ready_after_seconds)
        if not workload.healthy:
            case.result = [Failure(workload.reason or "not healthy")]
        suite.add_testcase(case)
    for backup in report.backups:
        case = _case(backup.name, f"drdrill.{report.drill}.backups", None)
        problems = [f"{f.key}: {f.problem}" for f in backup.failures]
        if not backup.rpo_met:
            problems.insert(0, "RPO not met")
        if not backup.verified or problems:
            case.result = [Failure("; ".join(problems)[:2000] or "not verified")]
        suite.add_testcase(case)
    for name, met in (("rto", report.rto.met), ("rpo", report.rpo.met)):
        case = _case(name, f"drdrill.{report.drill}.sla", None)
        if not met:
            case.result = [Failure(f"{name.upper()} not met")]
        suite.add_testcase(case)
    suite.update_statistics()
    xml = JUnitXml()
    xml.add_testsuite(suite)
    xml.update_statistics()
    rendered = xml.tostring()
    return rendered.decode("utf-8") if isinstance(rendered, bytes) else str(rendered)
