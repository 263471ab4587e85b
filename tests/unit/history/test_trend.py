"""The history's regression rule and how past reports are found."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from drdrill.history import TrendSettings, build_history, collect_reports, newest_regressions
from drdrill.history.collect import StoredReport
from drdrill.history.trend import short_commit
from drdrill.report.writer import write_reports
from drdrill.results import DrillReport, Verdict
from tests.report_samples import START, make_report


def stored(*reports: DrillReport) -> list[StoredReport]:
    return [StoredReport(report=r, location=f"r{i}") for i, r in enumerate(reports)]


def runs(rtos: list[float | None], **kwargs: object) -> list[DrillReport]:
    return [make_report(rto=rto, started_at=START + timedelta(days=i), **kwargs)  # type: ignore[arg-type]
            for i, rto in enumerate(rtos)]


def test_rto_over_the_median_by_more_than_the_threshold_regresses() -> None:
    # the median of 60, 64, 58, 66 is 62; 20% over it is 74.4
    rows = build_history(stored(*runs([60, 64, 58, 66, 74])), TrendSettings())
    assert rows[-1].baseline_seconds == 62.0
    assert [r.regression for r in rows] == [False] * 5
    rows = build_history(stored(*runs([60, 64, 58, 66, 75])), TrendSettings())
    assert [r.regression for r in rows] == [False] * 4 + [True]
    rows = build_history(stored(*runs([60, 64, 58, 66, 75])),
                         TrendSettings(threshold_percent=25))
    assert not rows[-1].regression


def test_window_and_minimum_baseline() -> None:
    rows = build_history(stored(*runs([10, 10, 100])), TrendSettings(min_baseline=3))
    assert rows[-1].baseline_seconds is None and not rows[-1].regression
    rows = build_history(stored(*runs([500, 500, 500, 10, 10, 10, 13])),
                         TrendSettings(window=3))
    assert rows[-1].baseline_seconds == 10 and rows[-1].regression


def test_only_comparable_runs_form_the_baseline() -> None:
    kwok = runs([60, 60, 60])
    kind = [make_report(rto=300, provider="kind", simulated=False,
                        started_at=START + timedelta(days=10))]
    rows = build_history(stored(*kwok, *kind), TrendSettings())
    assert rows[-1].provider == "kind" and rows[-1].baseline_seconds is None
    assert newest_regressions(rows) == []


def test_runs_without_rto_or_interrupted_are_not_a_baseline() -> None:
    reports = runs([60, 60, None, 60])
    reports.append(make_report(rto=5, verdict=Verdict.INTERRUPTED,
                               started_at=START + timedelta(days=5)))
    reports.append(make_report(rto=100, started_at=START + timedelta(days=6)))
    rows = build_history(stored(*reports), TrendSettings())
    assert rows[-1].baseline_seconds == 60 and rows[-1].regression
    assert [r.drill for r in newest_regressions(rows)] == ["ml-platform"]


def test_short_commit() -> None:
    assert short_commit("main@sha1:0123456789abcdef0123") == "0123456789ab"
    assert short_commit("abcdef1") == "abcdef1"
    assert short_commit(None) is None


def test_collect_counts_each_run_once_and_skips_what_is_not_a_report(tmp_path: Path) -> None:
    for report in runs([60, 61]):
        write_reports(report, report_dir=tmp_path)
    write_reports(make_report(drill="other"), report_dir=tmp_path)
    broken = tmp_path / "ml-platform" / "broken"
    broken.mkdir()
    (broken / "report.json").write_text('{"not": "a report"}')
    collected = collect_reports(tmp_path)
    assert len(collected.reports) == 3  # `latest` links are not followed
    assert len(collected.unreadable) == 1 and "not a drdrill report" in collected.unreadable[0]
    assert [s.report.drill for s in collect_reports(tmp_path, drill="other").reports] == ["other"]
    one_run = collected.reports[0].location
    assert len(collect_reports(Path(one_run)).reports) == 1
