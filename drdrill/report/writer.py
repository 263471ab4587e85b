"""Lay out `<report dir>/<drill>/<UTC timestamp>/` with the four files and a `latest` link.

What a report may contain: the drill's names and timings, names of Kubernetes objects and
their status messages, S3 bucket names, keys and s3:// URIs, and the last lines of the
bootstrap script's output. It never contains a credential: every string of the report, at any
depth, goes through the same redaction as the logs (secret-looking text and every registered
secret value) before any file is written. The files get the mode the user's umask gives new
files, as any other file the user creates; a team that treats object names as confidential
sets a stricter umask or report directory.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from drdrill.atomic_files import point_symlink, write_atomically
from drdrill.errors import BadInputError
from drdrill.logs import redact_value
from drdrill.report.html import render_html
from drdrill.report.junit import render_junit
from drdrill.report.markdown import render_markdown
from drdrill.results import DrillReport


@dataclass(frozen=True)
class ReportPaths:
    directory: Path
    json: Path
    markdown: Path
    html: Path
    junit: Path


def check_report_dir(report_dir: Path) -> None:
    """Fail before anything starts if reports could not be written there."""
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=report_dir, prefix=".drdrill-probe-"):
            pass
    except OSError as err:
        raise BadInputError(
            f"report directory {report_dir} is not writable ({err.strerror}); "
            "choose another with --report-dir"
        ) from err


def _timestamp_dir(drill_dir: Path, report: DrillReport) -> Path:
    stamp = report.started_at.strftime("%Y%m%dT%H%M%SZ")
    candidate, counter = drill_dir / stamp, 1
    while candidate.exists():
        counter += 1
        candidate = drill_dir / f"{stamp}-{counter}"
    return candidate


def redact_report(report: DrillReport) -> DrillReport:
    """The report with every string, at any depth, passed through the log redaction."""
    data = redact_value(report.model_dump(mode="json", by_alias=True))
    return DrillReport.model_validate(data)


def write_reports(report: DrillReport, *, report_dir: Path) -> ReportPaths:
    report = redact_report(report)
    drill_dir = report_dir / report.drill
    directory = _timestamp_dir(drill_dir, report)
    directory.mkdir(parents=True)
    paths = ReportPaths(
        directory=directory,
        json=directory / "report.json",
        markdown=directory / "report.md",
        html=directory / "report.html",
        junit=directory / "junit.xml",
    )
    write_atomically(paths.json, report.model_dump_json(by_alias=True, indent=2) + "\n")
    write_atomically(paths.markdown, render_markdown(report))
    write_atomically(paths.html, render_html(report))
    write_atomically(paths.junit, render_junit(report))
    point_symlink(drill_dir / "latest", directory.name)
    return paths


def load_report(path: Path) -> DrillReport:
    """Read a past report.json (or a report folder / `latest` link) back."""
    target = path / "report.json" if path.is_dir() else path
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as err:
        raise BadInputError(f"{target}: cannot read report ({err.strerror})") from err
    try:
        return DrillReport.model_validate_json(text)
    except ValueError as err:
        kind = err.__class__.__name__
        raise BadInputError(f"{target}: not a drdrill report.json ({kind})") from err
