"""The node-exporter textfile: the issue's metric names, labelled by drill, written atomically."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from drdrill.errors import InfrastructureError
from drdrill.metrics import METRIC_NAMES, write_textfile
from drdrill.results import Verdict
from tests.report_samples import make_report


def samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_textfile_holds_every_metric_labelled_by_drill(tmp_path: Path) -> None:
    report = make_report(rto=120.0, backup_age=7200.0)
    path = write_textfile(report, directory=tmp_path)
    assert path == tmp_path / "drdrill_ml-platform.prom"
    got = samples(path)
    drill = (("drill", "ml-platform"),)
    assert got[("drdrill_drill_success", drill)] == 1
    assert got[("drdrill_rto_seconds", drill)] == 120.0
    assert got[("drdrill_rto_budget_seconds", drill)] == 900.0
    assert got[("drdrill_drill_simulated", drill)] == 1
    assert got[("drdrill_last_run_timestamp_seconds", drill)] == report.finished_at.timestamp()
    assert got[("drdrill_backup_age_seconds", (("drill", "ml-platform"), ("set", "models")))] \
        == 7200.0
    for phase in ("cluster", "bootstrap", "workloads", "backups", "teardown"):
        assert ("drdrill_phase_duration_seconds",
                (("drill", "ml-platform"), ("phase", phase))) in got
    assert {name for name, _ in got} == set(METRIC_NAMES)
    assert path.stat().st_mode & 0o777 == 0o644  # node exporter runs as another user
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_failed_drill_without_rto_has_no_rto_sample(tmp_path: Path) -> None:
    report = make_report(verdict=Verdict.FAIL, rto=None, failed_phase="workloads",
                         drill="nightly", simulated=False)
    got = samples(write_textfile(report, directory=tmp_path))
    assert got[("drdrill_drill_success", (("drill", "nightly"),))] == 0
    assert got[("drdrill_drill_simulated", (("drill", "nightly"),))] == 0
    assert not any(name == "drdrill_rto_seconds" for name, _ in got)


def test_two_drills_two_files(tmp_path: Path) -> None:
    write_textfile(make_report(drill="a"), directory=tmp_path)
    write_textfile(make_report(drill="b"), directory=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drdrill_a.prom", "drdrill_b.prom"]


def test_unwritable_directory_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InfrastructureError, match="metrics textfile"):
        write_textfile(make_report(), directory=blocker)
