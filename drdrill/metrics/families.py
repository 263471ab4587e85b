"""The metric families of one drill report, as a fresh prometheus_client registry.

Every series carries the `drill` label (the scenario's name), so one Pushgateway group or one
textfile folder serves many drills. Numbers come from the report only: what a dashboard shows
is what report.json says.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from drdrill.results import DrillReport, PhaseStatus, Verdict

METRIC_NAMES = (
    "drdrill_drill_success",
    "drdrill_rto_seconds",
    "drdrill_rto_budget_seconds",
    "drdrill_phase_duration_seconds",
    "drdrill_backup_age_seconds",
    "drdrill_last_run_timestamp_seconds",
    "drdrill_drill_simulated",
)


def drill_registry(report: DrillReport) -> CollectorRegistry:
    """A registry holding the metrics of `report` and nothing else (no process metrics)."""
    registry = CollectorRegistry(auto_describe=True)
    drill = report.drill

    def gauge(name: str, doc: str, *labels: str) -> Gauge:
        return Gauge(name, doc, ["drill", *labels], registry=registry)

    gauge("drdrill_drill_success", "1 if the last drill passed, else 0.").labels(drill).set(
        1 if report.verdict is Verdict.PASS else 0)
    gauge("drdrill_last_run_timestamp_seconds",
          "When the last drill finished (Unix time).").labels(drill).set(
        report.finished_at.timestamp())
    gauge("drdrill_rto_budget_seconds", "The scenario's RTO.").labels(drill).set(
        report.rto.budget_seconds)
    rto = gauge("drdrill_rto_seconds",
                "Drill start to the end of the last recovery phase (absent when not measured).")
    if report.rto.actual_seconds is not None:
        rto.labels(drill).set(report.rto.actual_seconds)
    gauge("drdrill_drill_simulated",
          "1 if pods or custom resources of the last drill were simulated (kwok).").labels(
        drill).set(1 if report.simulation is not None and report.simulation.any else 0)
    phases = gauge("drdrill_phase_duration_seconds", "How long each phase ran.", "phase")
    for phase in report.phases:
        if phase.status is not PhaseStatus.SKIPPED:
            phases.labels(drill, phase.name).set(phase.duration_seconds)
    ages = gauge("drdrill_backup_age_seconds",
                 "Age of the newest backup of each set when the drill checked it.", "set")
    for backup in report.backups:
        if backup.age_seconds is not None:
            ages.labels(drill, backup.name).set(backup.age_seconds)
    return registry
