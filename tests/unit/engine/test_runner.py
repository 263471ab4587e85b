"""The engine: order, timing on one clock, budgets, verdicts, cleanup, interrupts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drdrill.engine.context import DrillContext
from drdrill.engine.runner import run_drill
from drdrill.results import PhaseStatus, SimulatedResource, Simulation, Verdict
from tests.unit.engine.fakes import FakePhase, fresh_backup, make_context

NAMES = ("cluster", "bootstrap", "workloads", "backups")


def phases(**behaviours: str) -> list[FakePhase]:
    calls: list[str] = []
    return [FakePhase(name, behaviours.get(name, "pass"), calls=calls) for name in NAMES]


def add_backup(ctx: DrillContext) -> None:
    ctx.backups.append(fresh_backup())


def test_all_phases_pass_gives_pass_and_measures_rto(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    steps = phases()
    steps[1].sleep = 0.05
    steps[3].on_run = add_backup
    outcome = run_drill(ctx, steps, report_dir=tmp_path)
    report = outcome.report
    assert report.verdict is Verdict.PASS, report.summary
    assert [p.name for p in report.phases] == [*NAMES, "teardown"]
    assert report.phases[1].duration_seconds >= 0.05
    assert report.rto.actual_seconds == report.phases[3].ended_after_seconds
    assert report.rto.met
    # Cleanup ran newest first, after every phase.
    assert steps[0].calls == [*NAMES, *(f"undo {n}" for n in reversed(NAMES))]


@pytest.mark.parametrize(
    ("behaviour", "status", "verdict"),
    [
        ("fail", PhaseStatus.FAILED, Verdict.FAIL),
        ("raise-failure", PhaseStatus.FAILED, Verdict.FAIL),
        ("skip", PhaseStatus.SKIPPED, Verdict.FAIL),
        ("error", PhaseStatus.ERROR, Verdict.ERROR),
        ("crash", PhaseStatus.ERROR, Verdict.ERROR),
    ],
)
def test_phase_endings_decide_the_verdict(
    tmp_path: Path, behaviour: str, status: PhaseStatus, verdict: Verdict
) -> None:
    ctx = make_context(tmp_path)
    steps = phases(workloads=behaviour)
    outcome = run_drill(ctx, steps, report_dir=tmp_path)
    workloads = outcome.report.phases[2]
    assert workloads.status is status
    assert outcome.report.verdict is verdict
    assert not outcome.report.rto.met
    assert outcome.report.rto.actual_seconds is None


def test_a_required_skipped_phase_never_passes(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    outcome = run_drill(ctx, phases(backups="skip"), report_dir=tmp_path)
    assert outcome.report.verdict is Verdict.FAIL
    assert "phase backups skipped" in outcome.report.summary


def test_dependent_phases_are_skipped_with_the_reason(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    steps = phases(cluster="fail")
    steps[1].needs = ("cluster",)
    steps[2].needs = ("bootstrap",)
    report = run_drill(ctx, steps, report_dir=tmp_path).report
    assert report.phases[1].status is PhaseStatus.SKIPPED
    assert report.phases[1].message == "needs cluster to pass first"
    assert report.phases[3].status is PhaseStatus.PASSED  # backups do not need the cluster
    assert "bootstrap" not in steps[0].calls


def test_phase_over_its_budget_fails(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, phases={"bootstrap": "50ms"})
    steps = phases()
    steps[1].sleep = 0.2
    report = run_drill(ctx, steps, report_dir=tmp_path).report
    assert report.phases[1].status is PhaseStatus.FAILED
    assert "over its budget" in report.phases[1].message
    assert report.phases[1].budget_seconds == pytest.approx(0.05)


def test_rto_breach_fails_the_drill(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, rto="100ms")
    steps = phases()
    steps[2].sleep = 0.15
    steps[3].on_run = add_backup
    report = run_drill(ctx, steps, report_dir=tmp_path).report
    assert report.verdict is Verdict.FAIL
    assert report.rto.actual_seconds is not None and report.rto.actual_seconds > 0.1
    assert not report.rto.met


def test_rpo_breach_fails_the_drill(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, rpo="1h")
    steps = phases()
    steps[3].on_run = lambda c: c.backups.append(fresh_backup(age=7200, met=False))
    report = run_drill(ctx, steps, report_dir=tmp_path).report
    assert report.verdict is Verdict.FAIL
    assert report.rpo.worst_age_seconds == 7200
    assert "RPO not met" in report.summary


def test_failing_cleanup_step_does_not_stop_the_others(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    undone: list[str] = []

    def broken() -> None:
        raise OSError("process already gone")

    ctx.cleanup.push("first", lambda: undone.append("first"))
    ctx.cleanup.push("broken", broken)
    ctx.cleanup.push("last", lambda: undone.append("last"))
    report = run_drill(ctx, [], report_dir=tmp_path).report
    assert undone == ["last", "first"]
    teardown = report.phases[-1]
    assert teardown.status is PhaseStatus.ERROR
    assert "broken: process already gone" in teardown.message


def test_interrupted_drill_cleans_up_and_still_writes_its_report(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    steps = phases(bootstrap="interrupt")
    outcome = run_drill(ctx, steps, report_dir=tmp_path)
    report = outcome.report
    assert report.verdict is Verdict.INTERRUPTED
    assert report.phases[1].status is PhaseStatus.ERROR
    assert "SIGINT" in report.phases[1].message
    assert [p.status for p in report.phases[2:4]] == [PhaseStatus.SKIPPED] * 2
    assert steps[0].calls[-2:] == ["undo bootstrap", "undo cluster"]
    saved = json.loads(outcome.paths.json.read_text())
    assert saved["verdict"] == "interrupted"
    assert (tmp_path / "ml-platform" / "latest" / "junit.xml").is_file()


class _RecordingSimulation:
    """A provider's running simulation as the engine sees it: stop, then snapshot."""

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True

    def snapshot(self) -> Simulation:
        return Simulation(pods=True, description="kwok", custom_resources=[SimulatedResource(
            api_version="serving.kserve.io/v1beta1", kind="InferenceService",
            namespace="ml", name="llm", outcome="ready",
            simulator="drdrill-kwok/InferenceService")])


def test_the_report_records_what_the_provider_simulated(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    simulation = _RecordingSimulation()

    def start(ctx: DrillContext) -> None:
        ctx.simulation = simulation
        ctx.cleanup.push("stop the simulation", simulation.stop)

    steps = phases()
    steps[0].on_run = start
    outcome = run_drill(ctx, steps, report_dir=tmp_path)
    assert simulation.stopped
    assert outcome.report.simulation == simulation.snapshot()
    saved = json.loads(outcome.paths.json.read_text())
    assert saved["simulation"]["customResources"][0]["simulator"] == (
        "drdrill-kwok/InferenceService")


def test_nothing_simulated_means_no_simulation_in_the_report(tmp_path: Path) -> None:
    outcome = run_drill(make_context(tmp_path), phases(), report_dir=tmp_path)
    assert outcome.report.simulation is None
