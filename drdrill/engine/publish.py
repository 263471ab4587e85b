"""After the report is written: push metrics, write the metrics textfile, notify webhooks.

None of this changes the drill's verdict or exit code: a Pushgateway or a chat service that is
down is a warning on stderr (and a missing `drdrill_last_run_timestamp_seconds` update is
what alerts catch). Settings come from flags and the environment; secrets only from the
environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from drdrill.errors import DrdrillError
from drdrill.metrics import push_metrics, write_textfile
from drdrill.notify import NotifyWhen, Webhook, send_notifications
from drdrill.results import DrillReport

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PublishSettings:
    pushgateway: str | None = field(default=None, repr=False)
    textfile_dir: Path | None = None
    webhooks: Sequence[Webhook] = ()
    notify: NotifyWhen = NotifyWhen.FAILURE


def publish_outcome(report: DrillReport, *, settings: PublishSettings,
                    report_location: str) -> list[str]:
    """Do what `settings` ask; return one line per thing that could not be done."""
    problems: list[str] = []
    if settings.textfile_dir is not None:
        try:
            write_textfile(report, directory=settings.textfile_dir)
        except DrdrillError as err:
            problems.append(str(err))
    if settings.pushgateway:
        try:
            push_metrics(report, gateway=settings.pushgateway)
        except DrdrillError as err:
            problems.append(str(err))
    problems += send_notifications(report, webhooks=settings.webhooks, when=settings.notify,
                                   report_location=report_location)
    for problem in problems:
        log.warning("not published", problem=problem)
    return problems
