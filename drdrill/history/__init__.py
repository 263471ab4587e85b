"""The drill history: past reports read back, the RTO trend and its regressions, and one
self-contained HTML page (RTO per run against the SLA, per-phase stacked bars, verdicts)."""

from drdrill.history.collect import collect_reports, reports_from_texts
from drdrill.history.page import render_history_page
from drdrill.history.trend import HistoryRow, TrendSettings, build_history, newest_regressions

__all__ = [
    "HistoryRow",
    "TrendSettings",
    "build_history",
    "collect_reports",
    "newest_regressions",
    "render_history_page",
    "reports_from_texts",
]
