"""Find and read past `report.json` files under a report folder.

The folder is what `drdrill run --report-dir` writes (`<drill>/<UTC timestamp>/report.json`),
one drill's folder, or a single run's. `latest` links are not followed (each run is counted
once). A file that is not a drdrill report is skipped and counted, never fatal: a history is
still useful when one old run is unreadable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from drdrill.errors import BadInputError
from drdrill.results import DrillReport

REPORT_FILE = "report.json"
_MAX_REPORT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class StoredReport:
    report: DrillReport
    location: str  # the run's folder (or URI), shown in the history


@dataclass(frozen=True)
class Collected:
    reports: list[StoredReport]
    unreadable: list[str]


def _report_files(root: Path) -> list[Path]:
    if (root / REPORT_FILE).is_file():
        return [root / REPORT_FILE]
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not (Path(folder) / d).is_symlink())
        if REPORT_FILE in files:
            found.append(Path(folder) / REPORT_FILE)
    return found


def read_report_text(text: str | bytes) -> DrillReport | None:
    try:
        return DrillReport.model_validate_json(text)
    except ValueError:
        return None


def reports_from_texts(items: list[tuple[str, bytes]], *, drill: str | None = None) -> Collected:
    """Reports fetched elsewhere (an S3 prefix) as (location, report.json bytes), oldest first."""
    reports, unreadable = [], []
    for location, text in items:
        report = read_report_text(text)
        if report is None:
            unreadable.append(f"{location}: not a drdrill report.json")
        elif drill is None or report.drill == drill:
            reports.append(StoredReport(report=report, location=location))
    reports.sort(key=lambda stored: (stored.report.started_at, stored.location))
    return Collected(reports=reports, unreadable=unreadable)


def collect_reports(root: Path, *, drill: str | None = None) -> Collected:
    """Every readable report under `root`, oldest first."""
    if not root.is_dir():
        raise BadInputError(f"{root}: no such report folder; give the --report-dir of your drills")
    reports, unreadable = [], []
    for path in _report_files(root):
        try:
            if path.stat().st_size > _MAX_REPORT_BYTES:
                unreadable.append(f"{path}: larger than 64 MiB")
                continue
            report = read_report_text(path.read_bytes())
        except OSError as err:
            unreadable.append(f"{path}: {err.strerror}")
            continue
        if report is None:
            unreadable.append(f"{path}: not a drdrill report.json")
        elif drill is None or report.drill == drill:
            reports.append(StoredReport(report=report, location=str(path.parent)))
    reports.sort(key=lambda stored: (stored.report.started_at, stored.location))
    return Collected(reports=reports, unreadable=unreadable)
