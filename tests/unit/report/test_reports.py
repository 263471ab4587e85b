"""The four report files: schema-valid JSON, escaped HTML, parseable JUnit, short Markdown."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from junitparser import Failure, JUnitXml, Skipped

from drdrill.atomic_files import write_atomically
from drdrill.errors import BadInputError
from drdrill.report.writer import check_report_dir, load_report, write_reports
from drdrill.results import (
    BackupFailure,
    BackupResult,
    DrillReport,
    PhaseResult,
    PhaseStatus,
    RpoResult,
    RtoResult,
    ToolVersions,
    Verdict,
    WorkloadResult,
)

EVIL = "<script>alert(1)</script>"
START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def sample_report() -> DrillReport:
    return DrillReport(
        drill="ml-platform",
        verdict=Verdict.FAIL,
        summary="phase workloads failed",
        started_at=START,
        finished_at=START,
        provider="kwok",
        rto=RtoResult(budget_seconds=900, actual_seconds=None, met=False),
        rpo=RpoResult(budget_seconds=86400, worst_age_seconds=3600, met=True),
        phases=[
            PhaseResult(name="cluster", status=PhaseStatus.PASSED, started_at=START,
                        duration_seconds=4.2, budget_seconds=120, ended_after_seconds=4.2),
            PhaseResult(name="bootstrap", status=PhaseStatus.SKIPPED, message="no adapter yet",
                        ended_after_seconds=4.2),
            PhaseResult(name="workloads", status=PhaseStatus.FAILED, started_at=START,
                        duration_seconds=30, ended_after_seconds=34.2, message=EVIL),
        ],
        workloads=[
            WorkloadResult(kind="Deployment", namespace="serving", name=EVIL, healthy=False,
                           reason="ImagePullBackOff"),
            WorkloadResult(kind="StatefulSet", namespace="features", name="feast", healthy=True,
                           ready_after_seconds=12.5),
        ],
        backups=[
            BackupResult(name="models", bucket="ml", prefix="m/", holds="artifacts",
                         objects_checked=3, bytes_checked=300, verified=False, age_seconds=3600,
                         rpo_seconds=86400, rpo_met=True,
                         failures=[BackupFailure(key="m/w.bin", problem="sha256 mismatch")]),
        ],
        versions=ToolVersions(drdrill="0.1.0", scenario_api_version="drdrill/v1alpha1"),
    )


@pytest.fixture
def written(tmp_path: Path):  # type: ignore[no-untyped-def]
    return write_reports(sample_report(), report_dir=tmp_path)


def test_report_json_matches_its_own_schema(written) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(written.json.read_text())
    schema = DrillReport.model_json_schema(by_alias=True, mode="serialization")
    jsonschema.validate(document, schema)
    for key in ("schemaVersion", "drill", "verdict", "startedAt", "finishedAt", "rto", "rpo",
                "phases", "workloads", "backups", "versions"):
        assert key in document
    assert document["rto"] == {"budgetSeconds": 900.0, "actualSeconds": None, "met": False}
    assert document["phases"][0]["durationSeconds"] == 4.2
    assert document["startedAt"].startswith("2026-11-27T12:00:00")


def test_schema_catches_a_broken_report(written) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(written.json.read_text())
    document["verdict"] = "maybe"
    schema = DrillReport.model_json_schema(by_alias=True, mode="serialization")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_html_escapes_untrusted_names(written) -> None:  # type: ignore[no-untyped-def]
    html = written.html.read_text()
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<svg" in html and "http" not in html.split("<svg", 1)[1].split("</svg>")[0].replace(
        "http://www.w3.org/2000/svg", "")
    assert "<link" not in html and "src=" not in html


def test_markdown_escapes_and_stays_short(written) -> None:  # type: ignore[no-untyped-def]
    markdown = written.markdown.read_text()
    assert EVIL not in markdown
    assert "FAIL" in markdown
    assert len(markdown.splitlines()) < 40


def test_junit_parses_back_with_failures(written) -> None:  # type: ignore[no-untyped-def]
    xml = JUnitXml.fromfile(str(written.junit))
    suites = list(xml)
    assert len(suites) == 1
    cases = {case.name: case for case in suites[0]}
    assert {"cluster", "bootstrap", "workloads", "models", "rto", "rpo"} <= set(cases)
    assert isinstance(cases["workloads"].result[0], Failure)
    assert isinstance(cases["bootstrap"].result[0], Skipped)
    assert cases["cluster"].is_passed
    assert isinstance(cases[f"Deployment serving/{EVIL}"].result[0], Failure)
    assert "sha256 mismatch" in cases["models"].result[0].message


def test_latest_points_at_the_newest(tmp_path: Path) -> None:
    first = write_reports(sample_report(), report_dir=tmp_path)
    second = write_reports(sample_report(), report_dir=tmp_path)
    assert first.directory != second.directory
    latest = tmp_path / "ml-platform" / "latest"
    assert latest.resolve() == second.directory.resolve()
    assert load_report(latest).drill == "ml-platform"


def test_load_report_refuses_other_json(tmp_path: Path) -> None:
    other = tmp_path / "x.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(BadInputError, match="not a drdrill report"):
        load_report(other)


def test_atomic_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    write_atomically(target, "old")

    with pytest.raises(TypeError):
        write_atomically(target, 42)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_unwritable_report_dir_is_reported_before_anything_starts(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(BadInputError, match="not writable"):
        check_report_dir(blocker / "reports")
