"""`drdrill history [REPORT_DIR]`: past drills, the RTO trend, regressions as the exit code."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from drdrill.archive import fetch_reports, parse_s3_uri
from drdrill.atomic_files import write_atomically
from drdrill.engine.publish import archive_client
from drdrill.errors import BadInputError, ExitCode
from drdrill.history import (
    TrendSettings,
    build_history,
    collect_reports,
    newest_regressions,
    render_history_page,
    reports_from_texts,
)
from drdrill.history.collect import Collected
from drdrill.history.trend import HistoryRow
from drdrill.logs import redact_text
from drdrill.report.untrusted import visible_controls
from drdrill.timing import format_duration, utc_now


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def _d(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def _t(text: str) -> str:
    return escape(visible_controls(redact_text(text)))


def _table(rows: list[HistoryRow]) -> Table:
    table = Table("started (UTC)", "drill", "verdict", "RTO", "SLA", "median before", "RPO age",
                  "commit", "ref", "provider", "simulated", "")
    for row in rows:
        table.add_row(row.started_at.strftime("%Y-%m-%d %H:%M"), _t(row.drill),
                      _t(row.verdict_label), _d(row.rto_seconds), _d(row.rto_budget_seconds),
                      _d(row.baseline_seconds), _d(row.rpo_worst_age_seconds),
                      row.commit or "-", _t(row.git_ref or "-"), _t(row.provider),
                      "yes" if row.simulated else "no",
                      "[red]REGRESSION[/red]" if row.regression else "")
    return table


def _json(row: HistoryRow) -> dict[str, object]:
    return {"drill": row.drill, "startedAt": row.started_at.isoformat(), "verdict": row.verdict,
            "verdictLabel": row.verdict_label, "rtoSeconds": row.rto_seconds,
            "rtoBudgetSeconds": row.rto_budget_seconds, "rtoMet": row.rto_met,
            "rpoWorstAgeSeconds": row.rpo_worst_age_seconds, "commit": row.commit,
            "gitRef": row.git_ref, "provider": row.provider, "simulated": row.simulated,
            "phaseSeconds": row.phase_seconds, "baselineSeconds": row.baseline_seconds,
            "regression": row.regression, "report": redact_text(row.location)}


def _collect(source: str, *, drill: str | None) -> Collected:
    if source.startswith("s3://"):
        fetched, skipped = fetch_reports(archive_client(), location=parse_s3_uri(source))
        collected = reports_from_texts(fetched, drill=drill)
        return Collected(reports=collected.reports, unreadable=skipped + collected.unreadable)
    return collect_reports(Path(source), drill=drill)


def history(
    source: Annotated[
        str, typer.Argument(metavar="[REPORT_DIR]",
                            help="The --report-dir of your drills, or the s3://bucket/prefix "
                            "that `run --upload` writes to.")] = "reports",
    drill: Annotated[str | None, typer.Option(help="Only this drill.")] = None,
    last: Annotated[int, typer.Option(min=1, help="Show the newest N runs.")] = 30,
    window: Annotated[
        int, typer.Option(min=1, help="Median of this many earlier comparable runs.")] = 10,
    threshold: Annotated[
        float, typer.Option(min=0, help="Percent over that median that is a regression.")
    ] = 20.0,
    min_runs: Annotated[
        int, typer.Option(min=1, help="Earlier runs needed before anything is judged.")] = 3,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = (
        OutputFormat.TABLE),
    html: Annotated[bool, typer.Option("--html", help="Also write one self-contained page.")] = (
        False),
    html_file: Annotated[
        Path | None, typer.Option(help="Where --html writes (default REPORT_DIR/history.html, "
                                  "./history.html for S3).")
    ] = None,
) -> None:
    """Past drills with their RTO trend; exit 1 when the newest run of a drill regressed."""
    settings = TrendSettings(window=window, threshold_percent=threshold, min_baseline=min_runs)
    collected = _collect(source, drill=drill)
    for problem in collected.unreadable:
        typer.echo(f"drdrill warning: skipped {visible_controls(redact_text(problem))}", err=True)
    if not collected.reports:
        raise BadInputError(f"{source}: no drill reports found"
                            + (f" for drill {drill}" if drill else ""))
    rows = build_history(collected.reports, settings)
    shown = rows[-last:]
    if output is OutputFormat.JSON:
        typer.echo(json.dumps([_json(row) for row in shown], indent=2))
    else:
        # Piped (CI logs, files), rows stay one line each instead of wrapping at 80 columns.
        wide = None if sys.stdout.isatty() else 220
        Console(highlight=False, width=wide).print(_table(shown))
    if html:
        target = html_file or (Path("history.html") if source.startswith("s3://")
                               else Path(source) / "history.html")
        page = render_history_page(rows, settings=settings, generated_at=utc_now(),
                                   source=source)
        write_atomically(target, page)
        typer.echo(f"history page: {target}", err=output is OutputFormat.JSON)
    regressed = newest_regressions(rows)
    for row in regressed:
        typer.echo(f"drdrill: RTO regression in {visible_controls(row.drill)}: "
                   f"{_d(row.rto_seconds)} against a median of {_d(row.baseline_seconds)} "
                   f"over the previous runs (threshold {threshold:g}%)", err=True)
    if regressed:
        raise typer.Exit(int(ExitCode.FAILED))
