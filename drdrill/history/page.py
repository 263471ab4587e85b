"""`drdrill history --html`: one self-contained page (inline CSS and SVG, nothing fetched).

Per drill: the RTO of each run as a point (coloured by verdict, ringed when it regressed)
against the SLA line, the recovery phases of each run as stacked bars, and the table of runs.
The SVG geometry is computed here, so the template only places it; every text is escaped by
Jinja's autoescape and redacted like any report text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment, PackageLoader, select_autoescape

from drdrill import __version__
from drdrill.history.trend import RECOVERY_PHASES, HistoryRow, TrendSettings
from drdrill.logs import redact_text
from drdrill.timing import format_duration

WIDTH, HEIGHT = 900, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 48
PHASE_COLOURS = {"cluster": "#4e79a7", "bootstrap": "#f28e2b", "workloads": "#59a14f",
                 "backups": "#b07aa1"}
VERDICT_COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "error": "#ef6c00",
                   "interrupted": "#757575"}


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    row: HistoryRow
    title: str


@dataclass(frozen=True)
class Segment:
    phase: str
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class DrillChart:
    drill: str
    rows: list[HistoryRow]
    points: list[Point]
    missing: list[Tick]  # runs without a measured RTO, marked on the axis
    sla_path: str
    rto_path: str
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    bars: list[Segment]
    bar_ticks: list[Tick]


def _nice_top(value: float) -> float:
    """The axis top: four round steps (ticks at 0, 1/4 ... 4/4) that hold `value`."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400):
        if value <= step * 4:
            return float(step * 4)
    return float(-(-value // 14400) * 14400)


def _date(moment: datetime) -> str:
    return moment.strftime("%m-%d %H:%M")


def _scale(top: float) -> tuple[float, list[Tick]]:
    plot = HEIGHT - TOP - BOTTOM
    ticks = [Tick(position=HEIGHT - BOTTOM - plot * i / 4,
                  label=format_duration(top * i / 4) if i else "0") for i in range(5)]
    return plot / top, ticks


def _x(index: int, count: int) -> float:
    plot = WIDTH - LEFT - RIGHT
    return LEFT + plot * (index + 0.5) / count


def _x_ticks(rows: Sequence[HistoryRow]) -> list[Tick]:
    every = max(1, len(rows) // 10)
    return [Tick(position=_x(i, len(rows)), label=_date(row.started_at))
            for i, row in enumerate(rows) if i % every == 0 or i == len(rows) - 1]


def _rto_chart(rows: Sequence[HistoryRow]) -> tuple[list[Point], list[Tick], str, str,
                                                     list[Tick]]:
    measured = [r.rto_seconds for r in rows if r.rto_seconds is not None]
    top = _nice_top(max([*measured, *(r.rto_budget_seconds for r in rows), 1.0]) * 1.1)
    per_second, y_ticks = _scale(top)
    base = HEIGHT - BOTTOM
    points, missing = [], []
    for i, row in enumerate(rows):
        if row.rto_seconds is None:
            missing.append(Tick(position=_x(i, len(rows)), label=_date(row.started_at)))
            continue
        title = (f"{_date(row.started_at)} {row.verdict_label}: RTO "
                 f"{format_duration(row.rto_seconds)} of {format_duration(row.rto_budget_seconds)}"
                 + (f", regression (median {format_duration(row.baseline_seconds)})"
                    if row.regression and row.baseline_seconds is not None else ""))
        points.append(Point(x=_x(i, len(rows)), y=base - row.rto_seconds * per_second, row=row,
                            title=redact_text(title)))
    rto_path = " ".join(f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}"
                        for i, p in enumerate(points))
    sla = []
    for i, row in enumerate(rows):
        y = base - row.rto_budget_seconds * per_second
        left, right = LEFT + (WIDTH - LEFT - RIGHT) * i / len(rows), \
            LEFT + (WIDTH - LEFT - RIGHT) * (i + 1) / len(rows)
        sla.append(f"{'M' if i == 0 else 'L'}{left:.1f},{y:.1f} L{right:.1f},{y:.1f}")
    return points, missing, " ".join(sla), rto_path, y_ticks


def _bars(rows: Sequence[HistoryRow]) -> tuple[list[Segment], list[Tick]]:
    totals = [sum(r.phase_seconds.values()) for r in rows]
    top = _nice_top(max([*totals, 1.0]) * 1.1)
    per_second, ticks = _scale(top)
    slot = (WIDTH - LEFT - RIGHT) / len(rows)
    width = max(2.0, min(40.0, slot * 0.6))
    segments = []
    for i, row in enumerate(rows):
        y = float(HEIGHT - BOTTOM)
        for phase in RECOVERY_PHASES:
            seconds = row.phase_seconds.get(phase)
            if not seconds:
                continue
            height = seconds * per_second
            y -= height
            segments.append(Segment(phase=phase, x=_x(i, len(rows)) - width / 2, y=y,
                                    width=width, height=height,
                                    title=f"{_date(row.started_at)} {phase}: "
                                          f"{format_duration(seconds)}"))
    return segments, ticks


def _chart(drill: str, rows: list[HistoryRow]) -> DrillChart:
    points, missing, sla_path, rto_path, y_ticks = _rto_chart(rows)
    bars, bar_ticks = _bars(rows)
    return DrillChart(drill=drill, rows=rows, points=points, missing=missing, sla_path=sla_path,
                      rto_path=rto_path, y_ticks=y_ticks, x_ticks=_x_ticks(rows), bars=bars,
                      bar_ticks=bar_ticks)


def _duration(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def render_history_page(rows: Sequence[HistoryRow], *, settings: TrendSettings,
                        generated_at: datetime, source: str) -> str:
    by_drill: dict[str, list[HistoryRow]] = {}
    for row in rows:
        by_drill.setdefault(row.drill, []).append(row)
    env = Environment(loader=PackageLoader("drdrill.history", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["duration"] = _duration
    env.filters["redact"] = redact_text
    env.filters["date"] = _date
    template = env.get_template("history.html.j2")
    return template.render(
        charts=[_chart(drill, drill_rows) for drill, drill_rows in sorted(by_drill.items())],
        settings=settings, generated_at=generated_at.isoformat(timespec="seconds"),
        source=redact_text(source), version=__version__, width=WIDTH, height=HEIGHT,
        left=LEFT, right=RIGHT, top=TOP, bottom=BOTTOM, phase_colours=PHASE_COLOURS,
        verdict_colours=VERDICT_COLOURS, phases=RECOVERY_PHASES,
    )
