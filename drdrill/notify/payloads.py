"""The message of a finished drill in the three shapes webhooks accept (pure functions).

Every text is passed through the same redaction as the logs and reports. Each shape carries the
verdict label (`FAIL (simulated pods)`), the summary, the RTO against its SLA, the phases that
did not pass, and where the report is.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from drdrill.logs import redact_text
from drdrill.results import DrillReport, PhaseStatus, Verdict
from drdrill.timing import format_duration


class PayloadFormat(StrEnum):
    JSON = "json"
    SLACK = "slack"
    TEAMS = "teams"


_MESSAGE_LIMIT = 300  # a phase message is cut here: the report has the rest


def _cut(text: str) -> str:
    text = " ".join(redact_text(text).split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def title(report: DrillReport) -> str:
    return _cut(f"drdrill {report.drill}: {report.verdict_label()}")


def rto_text(report: DrillReport) -> str:
    rto, note = report.rto, report.rto_note()
    actual = "not measured" if rto.actual_seconds is None else format_duration(rto.actual_seconds)
    return (f"RTO {actual} of {format_duration(rto.budget_seconds)} "
            f"({'met' if rto.met else 'NOT met'}{', ' + note if note else ''})")


def _problems(report: DrillReport) -> list[dict[str, str]]:
    return [
        {"phase": p.name, "status": p.status.value, "message": _cut(p.message)}
        for p in report.phases
        if p.status in (PhaseStatus.FAILED, PhaseStatus.ERROR)
    ]


def generic(report: DrillReport, *, report_location: str) -> dict[str, Any]:
    rpo = report.rpo
    return {
        "event": "drdrill.drill.finished",
        "drill": report.drill,
        "verdict": report.verdict.value,
        "verdictLabel": report.verdict_label(),
        "passed": report.verdict is Verdict.PASS,
        "summary": _cut(report.summary),
        "startedAt": report.started_at.isoformat(),
        "finishedAt": report.finished_at.isoformat(),
        "provider": report.provider,
        "simulated": report.simulation is not None and report.simulation.any,
        "revision": report.bootstrap.revision if report.bootstrap else None,
        "rto": {"seconds": report.rto.actual_seconds, "budgetSeconds": report.rto.budget_seconds,
                "met": report.rto.met, "note": report.rto_note()},
        "rpo": {"worstAgeSeconds": rpo.worst_age_seconds, "budgetSeconds": rpo.budget_seconds,
                "met": rpo.met},
        "problems": _problems(report),
        "report": report_location,
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(report: DrillReport, *, report_location: str) -> dict[str, Any]:
    """Slack incoming-webhook message: `text` for notifications, `blocks` for the channel."""
    head = title(report)
    icon = ":white_check_mark:" if report.verdict is Verdict.PASS else ":rotating_light:"
    lines = [f"{icon} *{_slack_escape(head)}*", _slack_escape(_cut(report.summary)),
             _slack_escape(rto_text(report))]
    lines += [f"• `{p['phase']}` {p['status']}: {_slack_escape(p['message'])}"
              for p in _problems(report)]
    lines.append(f"Report: {_slack_escape(report_location)}")
    return {
        "text": f"{head}: {_cut(report.summary)}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}],
    }


def teams(report: DrillReport, *, report_location: str) -> dict[str, Any]:
    """Microsoft Teams (Workflows webhook) message holding one Adaptive Card."""
    passed = report.verdict is Verdict.PASS
    facts = [{"title": "RTO", "value": rto_text(report)},
             {"title": "Provider", "value": report.provider},
             {"title": "Started", "value": report.started_at.isoformat()},
             {"title": "Report", "value": report_location}]
    facts += [{"title": f"{p['phase']} ({p['status']})", "value": p["message"]}
              for p in _problems(report)]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
             "color": "Good" if passed else "Attention", "text": title(report)},
            {"type": "TextBlock", "wrap": True, "text": _cut(report.summary)},
            {"type": "FactSet", "facts": facts},
        ],
    }
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}


def build_payload(report: DrillReport, *, fmt: PayloadFormat,
                  report_location: str) -> dict[str, Any]:
    builders = {PayloadFormat.JSON: generic, PayloadFormat.SLACK: slack,
                PayloadFormat.TEAMS: teams}
    return builders[fmt](report, report_location=redact_text(report_location))
