"""Tell people how a drill ended: webhooks (generic JSON, Slack, Microsoft Teams) whose URLs
come only from the environment and never appear in a log, a report or an error."""

from drdrill.notify.payloads import PayloadFormat, build_payload
from drdrill.notify.webhooks import (
    NotifyWhen,
    Webhook,
    send_notifications,
    should_notify,
    webhooks_from_environment,
)

__all__ = [
    "NotifyWhen",
    "PayloadFormat",
    "Webhook",
    "build_payload",
    "send_notifications",
    "should_notify",
    "webhooks_from_environment",
]
