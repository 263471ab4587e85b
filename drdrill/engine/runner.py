"""Run the phases of one drill in order on one clock, then clean up and always report."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from drdrill import __version__
from drdrill.engine.context import DrillContext
from drdrill.engine.events import DrillObserver, PlannedPhase
from drdrill.engine.phase import Phase, PhaseOutcome
from drdrill.engine.secrets import register_drill_secrets
from drdrill.engine.signals import interrupts_deferred, interrupts_raise, signals_received
from drdrill.engine.verdict import decide_verdict, measure_rpo, measure_rto
from drdrill.errors import DrdrillError, DrillInterrupted, PhaseFailure
from drdrill.logs import describe_exception
from drdrill.report.writer import ReportPaths, write_reports
from drdrill.results import DrillReport, PhaseResult, PhaseStatus, ToolVersions
from drdrill.scenario.models import API_VERSION
from drdrill.timing import Deadline, format_duration, parse_duration, utc_now

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DrillOutcome:
    report: DrillReport
    paths: ReportPaths


def explicit_budget(ctx: DrillContext, name: str) -> float | None:
    """The phase's own budget from `spec.sla.phases`, if the scenario gives one."""
    explicit = getattr(ctx.scenario.spec.sla.phases, name, None)
    return parse_duration(explicit) if explicit else None


def phase_budget(ctx: DrillContext, name: str) -> float:
    """How long the phase may run: its own budget, else the whole RTO.

    Only an explicit budget fails a phase that overruns it; the RTO default only bounds the
    waits, so a slow recovery is still measured and then judged against the RTO.
    """
    explicit = explicit_budget(ctx, name)
    return explicit if explicit is not None else parse_duration(ctx.scenario.spec.sla.rto)


def _run_phase(ctx: DrillContext, phase: Phase, budget: float) -> PhaseOutcome:
    try:
        return phase.run(ctx, deadline=Deadline.after(budget))
    except PhaseFailure as err:
        return PhaseOutcome.failed(str(err))
    except DrdrillError as err:
        log.debug("phase error", phase=phase.name, exc_info=True)
        return PhaseOutcome(PhaseStatus.ERROR, str(err))
    except Exception as err:
        log.error("unexpected error in phase", phase=phase.name, exc_info=True)
        # describe_exception: an ApiException's text would carry its headers and body.
        return PhaseOutcome(PhaseStatus.ERROR, f"unexpected {describe_exception(err)}")


class _PhaseTimer:
    def __init__(self, ctx: DrillContext, phase: Phase) -> None:
        self.ctx, self.phase = ctx, phase
        self.budget = explicit_budget(ctx, phase.name)
        self.started_at = utc_now()
        self.started = time.monotonic()

    def result(self, outcome: PhaseOutcome) -> PhaseResult:
        ended = time.monotonic()
        duration = ended - self.started
        status, message = outcome.status, outcome.message
        if status is PhaseStatus.PASSED and self.budget is not None and duration > self.budget:
            status = PhaseStatus.FAILED
            message = (
                f"took {format_duration(duration)}, over its budget of "
                f"{format_duration(self.budget)}"
            )
        return PhaseResult(
            name=self.phase.name,
            status=status,
            required=self.phase.required(self.ctx),
            started_at=self.started_at,
            duration_seconds=round(duration, 3),
            budget_seconds=self.budget,
            ended_after_seconds=round(self.ctx.clock.since_start(ended), 3),
            message=message,
        )


def _skip(ctx: DrillContext, phase: Phase, reason: str) -> PhaseResult:
    return PhaseResult(
        name=phase.name,
        status=PhaseStatus.SKIPPED,
        required=phase.required(ctx),
        started_at=None,
        budget_seconds=explicit_budget(ctx, phase.name),
        ended_after_seconds=round(ctx.clock.since_start(), 3),
        message=reason,
    )


def _teardown(ctx: DrillContext) -> PhaseResult:
    started_at, started = utc_now(), time.monotonic()
    failures = ctx.cleanup.run()
    ended = time.monotonic()
    return PhaseResult(
        name="teardown",
        status=PhaseStatus.ERROR if failures else PhaseStatus.PASSED,
        required=False,
        started_at=started_at,
        duration_seconds=round(ended - started, 3),
        ended_after_seconds=round(ctx.clock.since_start(ended), 3),
        message="; ".join(failures) if failures else f"{len(ctx.cleanup.ran)} step(s) undone",
    )


def build_report(ctx: DrillContext, results: Sequence[PhaseResult], *, interrupted: bool) -> (
    DrillReport
):
    sla = ctx.scenario.spec.sla
    rto = measure_rto(results, budget_seconds=parse_duration(sla.rto))
    rpo = measure_rpo(ctx.backups, budget_seconds=parse_duration(sla.rpo) if sla.rpo else None)
    verdict, summary = decide_verdict(results, rto=rto, rpo=rpo, interrupted=interrupted)
    source = ctx.scenario.source
    return DrillReport(
        drill=ctx.scenario.name,
        verdict=verdict,
        summary=summary,
        started_at=ctx.clock.started_at,
        finished_at=utc_now(),
        provider=ctx.provider.value,
        rto=rto,
        rpo=rpo,
        phases=list(results),
        workloads=ctx.workloads,
        backups=ctx.backups,
        references=ctx.references,
        bootstrap=ctx.bootstrap,
        simulation=ctx.simulation.snapshot() if ctx.simulation is not None else None,
        versions=ToolVersions(
            drdrill=__version__, scenario_api_version=API_VERSION, components=ctx.components
        ),
        scenario_file=str(source) if source else None,
        git_ref=ctx.scenario.spec.gitops.ref.describe() if ctx.scenario.spec.gitops else None,
        ref_override=ctx.options.ref_override,
    )


def run_drill(
    ctx: DrillContext,
    phases: Sequence[Phase],
    *,
    report_dir: Path,
    observer: DrillObserver | None = None,
) -> DrillOutcome:
    """Run `phases` in order. Whatever happens, clean up and write the four report files."""
    if observer is not None:
        ctx.observer = observer
    watcher = ctx.observer
    results: list[PhaseResult] = []
    interrupted = False
    register_drill_secrets(ctx.scenario)
    log.info("drill started", drill=ctx.scenario.name, provider=ctx.provider.value)
    watcher.drill_started(
        ctx.scenario.name, rto_seconds=parse_duration(ctx.scenario.spec.sla.rto),
        phases=[PlannedPhase(p.name, phase_budget(ctx, p.name)) for p in phases])
    try:
        with interrupts_raise():
            for phase in phases:
                passed = {r.name for r in results if r.status is PhaseStatus.PASSED}
                missing = [need for need in phase.needs if need not in passed]
                if missing:
                    results.append(_skip(ctx, phase, f"needs {', '.join(missing)} to pass first"))
                    watcher.phase_finished(results[-1])
                    continue
                budget = phase_budget(ctx, phase.name)
                watcher.phase_started(phase.name, budget)
                timer = _PhaseTimer(ctx, phase)
                try:
                    outcome = _run_phase(ctx, phase, budget)
                except DrillInterrupted as stop:
                    outcome = PhaseOutcome(PhaseStatus.ERROR, str(stop))
                    results.append(timer.result(outcome))
                    watcher.phase_finished(results[-1])
                    raise
                results.append(timer.result(outcome))
                watcher.phase_finished(results[-1])
                log.info("phase finished", phase=phase.name, status=outcome.status.value,
                         message=outcome.message or None)
    except DrillInterrupted as stop:
        interrupted = True
        log.warning("drill interrupted; cleaning up", signal=stop.signal_name)
        done = {r.name for r in results}
        results.extend(
            _skip(ctx, phase, "the drill was interrupted") for phase in phases
            if phase.name not in done
        )
    finally:
        with interrupts_deferred():
            watcher.teardown_started()
            results.append(_teardown(ctx))
            watcher.phase_finished(results[-1])
            # A signal during teardown was obeyed by hurrying it: the drill still counts as
            # interrupted (exit 3), as CI cancelled it.
            interrupted = interrupted or bool(signals_received())
            report = build_report(ctx, results, interrupted=interrupted)
            paths = write_reports(report, report_dir=report_dir)
            watcher.drill_finished(report)
    log.info("drill finished", verdict=report.verdict.value, report=str(paths.directory))
    return DrillOutcome(report=report, paths=paths)
