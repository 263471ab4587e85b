"""Send a drill's message to the webhooks named in the environment, with retries.

    DRDRILL_WEBHOOK_URL         generic JSON
    DRDRILL_SLACK_WEBHOOK_URL   Slack incoming webhook
    DRDRILL_TEAMS_WEBHOOK_URL   Microsoft Teams (Workflows) webhook

A webhook URL is a credential: it is registered with the log redaction as soon as it is read,
and no message, log line or error names it (webhooks are named by their variable).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

import structlog
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from drdrill import __version__
from drdrill.errors import BadInputError
from drdrill.logs import register_secret
from drdrill.notify.payloads import PayloadFormat, build_payload
from drdrill.results import DrillReport, Verdict

log = structlog.get_logger(__name__)

ENVIRONMENT = {
    "DRDRILL_WEBHOOK_URL": PayloadFormat.JSON,
    "DRDRILL_SLACK_WEBHOOK_URL": PayloadFormat.SLACK,
    "DRDRILL_TEAMS_WEBHOOK_URL": PayloadFormat.TEAMS,
}


class NotifyWhen(StrEnum):
    FAILURE = "failure"  # any verdict but pass
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True)
class Webhook:
    variable: str  # how it is named in logs and errors
    fmt: PayloadFormat
    url: str = field(repr=False)


def make_webhook(*, variable: str, fmt: PayloadFormat, url: str) -> Webhook:
    """A webhook whose URL was read from `variable` (a variable's or a file's name); the URL
    is registered as a secret at once. Not http(s): bad input (exit 2), without the URL."""
    url = url.strip()
    register_secret(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise BadInputError(f"{variable} is not an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadInputError(f"{variable} is not an http(s) URL")
    return Webhook(variable=variable, fmt=fmt, url=url)


def webhooks_from_environment(environ: Mapping[str, str]) -> list[Webhook]:
    """The webhooks the standard variables configure; a URL that is not http(s) is bad input
    (exit 2)."""
    return [make_webhook(variable=variable, fmt=fmt, url=environ[variable])
            for variable, fmt in ENVIRONMENT.items() if environ.get(variable, "").strip()]


def should_notify(report: DrillReport, when: NotifyWhen) -> bool:
    if when is NotifyWhen.NEVER:
        return False
    return when is NotifyWhen.ALWAYS or report.verdict is not Verdict.PASS


def _worth_retrying(err: BaseException) -> bool:
    if isinstance(err, urllib.error.HTTPError):
        return err.code == 429 or err.code >= 500
    return isinstance(err, OSError)


def _post(hook: Webhook, body: bytes, *, timeout: float) -> None:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s)
        hook.url, data=body, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"drdrill/{__version__}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        response.read(65536)


def send_one(hook: Webhook, body: bytes, *, timeout: float = 10.0, attempts: int = 4,
             max_wait: float = 8.0) -> str | None:
    """POST `body`; None when delivered, else why not (never the URL)."""
    retrying = Retrying(stop=stop_after_attempt(attempts),
                        wait=wait_exponential(multiplier=0.5, max=max_wait),
                        retry=retry_if_exception(_worth_retrying), reraise=True)
    try:
        for attempt in retrying:
            with attempt:
                _post(hook, body, timeout=timeout)
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code}"
    except OSError as err:
        reason = getattr(err, "reason", None) or err.__class__.__name__
        return " ".join(str(reason).split())
    return None


def send_notifications(report: DrillReport, *, webhooks: Sequence[Webhook], when: NotifyWhen,
                       report_location: str, attempts: int = 4,
                       max_wait: float = 8.0) -> list[str]:
    """Notify every webhook if `when` says so; return one line per webhook that failed."""
    if not webhooks or not should_notify(report, when):
        return []
    problems = []
    for hook in webhooks:
        payload = build_payload(report, fmt=hook.fmt, report_location=report_location)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        why = send_one(hook, body, attempts=attempts, max_wait=max_wait)
        if why is None:
            log.info("notification sent", webhook=hook.variable, verdict=report.verdict.value)
        else:
            problems.append(f"{hook.variable}: not delivered after {attempts} attempt(s) ({why})")
            log.warning("notification not delivered", webhook=hook.variable, reason=why)
    return problems
