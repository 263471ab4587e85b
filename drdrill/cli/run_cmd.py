"""`drdrill run`: the whole drill, then the verdict as the exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from drdrill.archive import parse_s3_uri
from drdrill.cli.live import LiveView, live_view_wanted
from drdrill.cli.progress import TerminalProgress
from drdrill.cli.step import SteppingProgress, check_step_possible
from drdrill.engine.context import DrillContext, RunOptions
from drdrill.engine.events import DrillObserver
from drdrill.engine.phases import build_phases
from drdrill.engine.phases.bootstrap import check_gitops
from drdrill.engine.publish import publish_outcome
from drdrill.engine.publish_config import PublishFlags, publish_settings
from drdrill.engine.ref_override import parse_ref_override, with_ref
from drdrill.engine.runner import run_drill
from drdrill.engine.secrets import register_drill_secrets
from drdrill.errors import exit_code_for_verdict
from drdrill.notify import NotifyWhen
from drdrill.report.terminal import rto_line, verdict_line
from drdrill.report.writer import check_report_dir
from drdrill.scenario import load_scenario
from drdrill.scenario.models import Provider


def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (kind: Drill).")],
    report_dir: Annotated[Path, typer.Option(help="Where reports go.")] = Path("reports"),
    keep_cluster: Annotated[
        bool, typer.Option(help="Leave the cluster up for inspection (`drdrill cluster down`).")
    ] = False,
    provider: Annotated[
        Provider | None, typer.Option(help="Override spec.cluster.provider.")
    ] = None,
    allow_non_empty: Annotated[
        bool, typer.Option(help="existing provider: allow a cluster with drill objects.")
    ] = False,
    kubeconfig: Annotated[
        Path | None, typer.Option(help="existing provider: kubeconfig (before KUBECONFIG).")
    ] = None,
    restore_dir: Annotated[
        Path | None, typer.Option(help="Restore backups here (must not exist yet).")
    ] = None,
    ref: Annotated[
        str | None, typer.Option(help="Drill this Git ref instead of the scenario's: "
                                 "tag=v1.4.0, commit=<sha> or branch=<name>.")
    ] = None,
    step: Annotated[
        bool, typer.Option(help="Pause before each phase (a terminal only; the RTO then "
                           "includes the pauses).")
    ] = False,
    pushgateway: Annotated[
        str | None, typer.Option(envvar="DRDRILL_PUSHGATEWAY_URL", show_envvar=True,
                                 help="Push the drill's metrics to this Prometheus Pushgateway "
                                 "(overrides spec.metrics.pushgateway).")
    ] = None,
    metrics_textfile_dir: Annotated[
        Path | None, typer.Option(envvar="DRDRILL_METRICS_TEXTFILE_DIR", show_envvar=True,
                                  help="Write drdrill_<drill>.prom here (node exporter; "
                                  "overrides spec.metrics.textfileDir).")
    ] = None,
    notify: Annotated[
        NotifyWhen | None, typer.Option(
            envvar="DRDRILL_NOTIFY", show_envvar=True,
            help="When to call the webhooks (DRDRILL_WEBHOOK_URL, DRDRILL_SLACK_WEBHOOK_URL, "
            "DRDRILL_TEAMS_WEBHOOK_URL, else spec.notify.webhooks); default: spec.notify.when, "
            "else failure.")
    ] = None,
    upload: Annotated[
        str | None, typer.Option(envvar="DRDRILL_UPLOAD", show_envvar=True,
                                 help="Also upload the report folder to s3://bucket/prefix "
                                 "(credentials from the AWS default chain).")
    ] = None,
    no_live: Annotated[
        bool, typer.Option("--no-live", envvar="DRDRILL_NO_LIVE", show_envvar=True,
                           help="On a terminal, print progress lines instead of the live view.")
    ] = False,
) -> None:
    """Run a drill: cluster, bootstrap, workloads, backups, teardown; then write the report."""
    loaded = load_scenario(scenario)
    if ref is not None:
        loaded = with_ref(loaded, parse_ref_override(ref))
    if step:
        check_step_possible()
    publish = publish_settings(loaded, environ=os.environ, flags=PublishFlags(
        pushgateway=pushgateway, textfile_dir=metrics_textfile_dir, notify=notify,
        upload=parse_s3_uri(upload) if upload else None))
    register_drill_secrets(loaded)
    check_report_dir(report_dir)
    check_gitops(loaded)  # an unhandled repository layout is named before any budget is spent
    options = RunOptions(
        report_dir=report_dir, keep_cluster=keep_cluster, provider=provider,
        allow_non_empty=allow_non_empty, kubeconfig=kubeconfig, restore_dir=restore_dir,
        ref_override=ref,
    )
    ctx = DrillContext(scenario=loaded, options=options)
    observer = _observer(step=step, no_live=no_live)
    try:
        outcome = run_drill(ctx, build_phases(), report_dir=report_dir, observer=observer)
    finally:
        if isinstance(observer, LiveView):
            observer.close()
    typer.echo(verdict_line(outcome.report))
    typer.echo(rto_line(outcome.report))
    typer.echo(f"report: {outcome.paths.directory}")
    for problem in publish_outcome(outcome.report, settings=publish,
                                   report_dir=outcome.paths.directory):
        typer.echo(f"drdrill warning: {problem}", err=True)
    raise typer.Exit(int(exit_code_for_verdict(outcome.report.verdict.value)))


def _observer(*, step: bool, no_live: bool) -> DrillObserver | None:
    """The live view where someone watches a terminal, progress lines otherwise on a
    terminal, nothing (log lines only) when stderr is not one."""
    if step:
        return SteppingProgress()
    if live_view_wanted(no_live=no_live, step=step, environ=os.environ,
                        stderr_is_terminal=sys.stderr.isatty()):
        return LiveView()
    return TerminalProgress() if sys.stderr.isatty() else None
