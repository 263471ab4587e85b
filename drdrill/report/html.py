"""report.html: one self-contained page (inline CSS and SVG) rendered with autoescaping.

Every name and message here may come from a cluster, a repository or a bucket: untrusted. Each
printed value is escaped, and its control characters are written out (`\\xNN`).
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, select_autoescape

from drdrill.report.untrusted import visible_controls
from drdrill.results import DrillReport, PhaseStatus
from drdrill.timing import format_duration


def _finalize(value: object) -> object:
    """Applied to every `{{ ... }}` before it is escaped. Already-safe markup (`__html__`) is
    left alone, so untrusted lists are printed item by item in the template, never `join`ed."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return visible_controls(value)
    return value


_ENV = Environment(
    loader=PackageLoader("drdrill.report", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_finalize,
)
_ENV.filters["duration"] = lambda s: "-" if s is None else format_duration(float(s))

_COLOURS = {
    PhaseStatus.PASSED: "#2e7d32",
    PhaseStatus.FAILED: "#c62828",
    PhaseStatus.SKIPPED: "#9e9e9e",
    PhaseStatus.ERROR: "#ef6c00",
}
_WIDTH = 860.0
_ROW = 26
# A page, not a dump: report.json holds every simulated resource.
_SIMULATED_LISTED = 200


@dataclass(frozen=True)
class _Bar:
    name: str
    status: str
    colour: str
    y: int
    x: float
    width: float
    budget_x: float | None
    label: str


def _timeline(report: DrillReport) -> tuple[list[_Bar], float, bool, int]:
    """Bars on a scale that fits the phases and their budgets; the RTO line joins them when it
    is near, else it is pinned to the right edge (a 25 s drill against a 15 min RTO)."""
    span = max(
        [p.ended_after_seconds for p in report.phases]
        + [(p.ended_after_seconds - p.duration_seconds + (p.budget_seconds or 0))
           for p in report.phases]
    ) or 1.0
    rto_in_view = report.rto.budget_seconds <= span * 1.5
    horizon = max(span, report.rto.budget_seconds) if rto_in_view else span
    scale = (_WIDTH - 140) / horizon
    bars = []
    for index, phase in enumerate(report.phases):
        start = phase.ended_after_seconds - phase.duration_seconds
        budget_end = start + phase.budget_seconds if phase.budget_seconds else None
        bars.append(_Bar(
            name=phase.name,
            status=phase.status.value,
            colour=_COLOURS[phase.status],
            y=10 + index * _ROW,
            x=130 + start * scale,
            width=max(2.0, phase.duration_seconds * scale),
            budget_x=None if budget_end is None else 130 + budget_end * scale,
            label=f"{format_duration(phase.duration_seconds)} ({phase.status.value})",
        ))
    rto_x = 130 + report.rto.budget_seconds * scale if rto_in_view else _WIDTH - 4
    height = 20 + len(bars) * _ROW + 20
    return bars, rto_x, rto_in_view, height


def render_html(report: DrillReport) -> str:
    bars, rto_x, rto_in_view, height = _timeline(report)
    return _ENV.get_template("report.html.j2").render(
        report=report, bars=bars, rto_x=rto_x, rto_in_view=rto_in_view, height=height,
        width=_WIDTH, simulated_listed=_SIMULATED_LISTED,
        simulation=report.simulation if report.simulation and report.simulation.any else None,
        workloads=sorted(report.workloads, key=lambda w: (w.healthy, w.ready_after_seconds or 0)),
    )
