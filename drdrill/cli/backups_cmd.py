"""`drdrill backups manifest` and `drdrill backups verify`: wiring only."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from drdrill.backups.in_cluster import result_line as format_result_line
from drdrill.backups.manifest_build import build_manifest, upload_manifest
from drdrill.backups.s3client import S3Endpoint, make_s3_client
from drdrill.cli.progress import TerminalProgress
from drdrill.engine.context import DrillContext, RunOptions
from drdrill.engine.phases.backups import BackupsPhase
from drdrill.engine.runner import run_drill
from drdrill.engine.secrets import register_drill_secrets
from drdrill.errors import BadInputError, exit_code_for_verdict
from drdrill.report.terminal import verdict_line
from drdrill.report.writer import check_report_dir
from drdrill.results import PhaseStatus
from drdrill.scenario import load_scenario
from drdrill.timing import Deadline, format_duration

app = typer.Typer(help="Check and describe backups in S3.", no_args_is_help=True)


@app.command("manifest")
def manifest(
    bucket: Annotated[str, typer.Option(help="Bucket holding the backup.")],
    prefix: Annotated[str, typer.Option(help="Folder of the backup set in the bucket.")] = "",
    endpoint_url: Annotated[
        str | None, typer.Option(help="S3-compatible endpoint; AWS S3 if not given.")
    ] = None,
    region: Annotated[str, typer.Option(help="S3 region.")] = "us-east-1",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the manifest to this file.")
    ] = None,
    upload: Annotated[
        str | None, typer.Option(help="Upload the manifest to this key of the bucket.")
    ] = None,
    created_at: Annotated[
        str | None,
        typer.Option(help="Backup time (ISO 8601); default: newest object's LastModified."),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Parallel GETs.")] = 8,
) -> None:
    """Write a drdrill-manifest/v1 for the objects under a prefix (stdout by default).

    Credentials come from boto3's default chain (AWS_* variables, AWS_PROFILE, roles).
    """
    if output is not None and upload is not None:
        raise BadInputError("give at most one of --output and --upload")
    stamp = None
    if created_at is not None:
        try:
            stamp = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
        except ValueError as err:
            raise BadInputError(f"--created-at {created_at!r} is not ISO 8601") from err
        if stamp.tzinfo is None:
            raise BadInputError("--created-at needs a time zone, e.g. 2026-11-27T03:00:00Z")
    endpoint = S3Endpoint(endpoint_url=endpoint_url, region=region, max_concurrency=concurrency)
    client = make_s3_client(endpoint=endpoint)
    document = build_manifest(
        client, endpoint=endpoint, bucket=bucket, prefix=prefix, exclude_key=upload,
        created_at=stamp, deadline=Deadline.after(24 * 3600),
    )
    if upload is not None:
        upload_manifest(client, endpoint=endpoint, bucket=bucket, key=upload, document=document)
        typer.echo(f"manifest uploaded to s3://{bucket}/{upload}")
    elif output is not None:
        output.write_bytes(document)
        typer.echo(f"manifest written to {output}")
    else:
        sys.stdout.write(document.decode("utf-8"))


@app.command("verify")
def verify(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (kind: Drill).")],
    restore_dir: Annotated[
        Path | None, typer.Option(help="Restore here (must not exist yet); default: a temp dir.")
    ] = None,
    report_dir: Annotated[Path, typer.Option(help="Where reports go.")] = Path("reports"),
    result_line: Annotated[bool, typer.Option(
        "--result-line", help="End with one JSON line of the results (the in-cluster "
        "restore Job's answer to the drill that started it).")] = False,
) -> None:
    """Run only the backups phase of a drill: freshness, restore, integrity; then report."""
    loaded = load_scenario(scenario)
    register_drill_secrets(loaded)
    if restore_dir is not None and os.path.lexists(restore_dir):
        raise BadInputError(
            f"restore folder {restore_dir} already exists; pass a path that does not exist yet"
        )
    check_report_dir(report_dir)
    ctx = DrillContext(
        scenario=loaded, options=RunOptions(report_dir=report_dir, restore_dir=restore_dir)
    )
    observer = TerminalProgress() if sys.stderr.isatty() else None
    outcome = run_drill(ctx, [BackupsPhase()], report_dir=report_dir, observer=observer)
    for result in outcome.report.backups:
        age = "-" if result.age_seconds is None else format_duration(result.age_seconds)
        typer.echo(
            f"{result.name}: {'verified' if result.verified else 'NOT verified'}, "
            f"{result.objects_checked} object(s), age {age}, "
            f"RPO {'met' if result.rpo_met else 'NOT met'}, {len(result.failures)} problem(s)"
        )
    for phase in outcome.report.phases:
        if phase.name == "backups" and phase.status is PhaseStatus.ERROR:
            typer.echo(f"drdrill error: {phase.message}", err=True)
    typer.echo(verdict_line(outcome.report))
    typer.echo(f"report: {outcome.paths.directory}")
    if result_line:
        typer.echo(format_result_line(outcome.report.backups))
    raise typer.Exit(int(exit_code_for_verdict(outcome.report.verdict.value)))
