"""Webhooks against a real local HTTP server: the three payloads, when to send, retries, and the
URL (a credential) never in a log line or a returned problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from drdrill.engine.publish import PublishSettings, publish_outcome
from drdrill.errors import BadInputError
from drdrill.logs import configure_logging, forget_registered_secrets
from drdrill.notify import NotifyWhen, webhooks_from_environment
from drdrill.notify.webhooks import send_notifications
from drdrill.results import Verdict
from tests.report_samples import make_report
from tests.webhook_receiver import Hook

TOKEN = "T0KEN-b7c1d2e3f4a5"  # what a webhook URL hides


@pytest.fixture(autouse=True)
def _logs_back_to_defaults() -> Iterator[None]:
    """These tests point the logs at pytest's captured stderr, which closes after them."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def hook() -> Iterator[Hook]:
    with Hook(TOKEN) as receiver:
        yield receiver
    forget_registered_secrets()


def env(hook: Hook) -> dict[str, str]:
    return {"DRDRILL_WEBHOOK_URL": hook.url("generic"),
            "DRDRILL_SLACK_WEBHOOK_URL": hook.url("slack"),
            "DRDRILL_TEAMS_WEBHOOK_URL": hook.url("teams")}


def test_failure_reaches_all_three_with_their_shapes(hook: Hook) -> None:
    report = make_report(verdict=Verdict.FAIL, failed_phase="workloads", rto=None)
    hooks = webhooks_from_environment(env(hook))
    problems = send_notifications(report, webhooks=hooks, when=NotifyWhen.FAILURE,
                                  report_location="s3://reports/ml-platform/20261120T030000Z/")
    assert problems == []
    by_kind = {path.split("/")[2]: (body, headers) for path, body, headers in hook.received}
    generic, headers = by_kind["generic"]
    assert headers["Content-Type"] == "application/json"
    assert generic["verdict"] == "fail"
    assert generic["verdictLabel"] == "FAIL (simulated pods)"
    assert generic["report"] == "s3://reports/ml-platform/20261120T030000Z/"
    assert generic["problems"][0]["phase"] == "workloads"
    assert "ImagePullBackOff" in generic["problems"][0]["message"]
    slack, _ = by_kind["slack"]
    assert slack["text"].startswith("drdrill ml-platform: FAIL (simulated pods)")
    section = slack["blocks"][0]["text"]["text"]
    assert "s3://reports/ml-platform/20261120T030000Z/" in section and "workloads" in section
    teams, _ = by_kind["teams"]
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["body"][0]["text"] == "drdrill ml-platform: FAIL (simulated pods)"
    facts = {f["title"]: f["value"] for f in card["content"]["body"][2]["facts"]}
    assert facts["Report"] == "s3://reports/ml-platform/20261120T030000Z/"


def test_pass_is_sent_only_when_asked(hook: Hook) -> None:
    hooks = webhooks_from_environment({"DRDRILL_WEBHOOK_URL": hook.url("generic")})
    report = make_report()
    for when in (NotifyWhen.FAILURE, NotifyWhen.NEVER):
        assert send_notifications(report, webhooks=hooks, when=when, report_location="r") == []
    assert hook.received == []
    send_notifications(report, webhooks=hooks, when=NotifyWhen.ALWAYS, report_location="r")
    assert [body["verdict"] for _, body, _ in hook.received] == ["pass"]


def test_server_errors_are_retried_client_errors_are_not(hook: Hook) -> None:
    hooks = webhooks_from_environment({"DRDRILL_WEBHOOK_URL": hook.url("generic")})
    report = make_report(verdict=Verdict.FAIL)
    hook.statuses = [503, 500]
    assert send_notifications(report, webhooks=hooks, when=NotifyWhen.FAILURE,
                              report_location="r", max_wait=0.05) == []
    assert len(hook.received) == 3
    hook.received.clear()
    hook.statuses = [404]
    problems = send_notifications(report, webhooks=hooks, when=NotifyWhen.FAILURE,
                                  report_location="r", max_wait=0.05)
    assert len(hook.received) == 1
    assert problems == ["DRDRILL_WEBHOOK_URL: not delivered after 4 attempt(s) (HTTP 404)"]


def test_the_url_is_never_logged_nor_returned(hook: Hook,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(log_format="json", verbose=1)
    environment = {"DRDRILL_SLACK_WEBHOOK_URL": hook.url("slack")}
    hook.statuses = [500] * 4
    problems = publish_outcome(
        make_report(verdict=Verdict.FAIL),
        settings=PublishSettings(webhooks=webhooks_from_environment(environment)),
        report_dir=Path("reports/ml-platform/x"))
    # the receiver is reachable but keeps failing; then a closed port
    dead = {"DRDRILL_WEBHOOK_URL": f"http://127.0.0.1:9/hooks/{TOKEN}"}
    problems += send_notifications(make_report(verdict=Verdict.FAIL),
                                   webhooks=webhooks_from_environment(dead),
                                   when=NotifyWhen.FAILURE, report_location="r", max_wait=0.05)
    captured = capsys.readouterr()
    assert len(problems) == 2
    everything = captured.out + captured.err + "\n".join(problems)
    assert "notification not delivered" in captured.err
    assert TOKEN not in everything and "/hooks/" not in everything


def test_a_url_that_is_not_http_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="DRDRILL_TEAMS_WEBHOOK_URL") as caught:
        webhooks_from_environment({"DRDRILL_TEAMS_WEBHOOK_URL": f"file:///etc/{TOKEN}"})
    assert TOKEN not in str(caught.value)
    forget_registered_secrets()
