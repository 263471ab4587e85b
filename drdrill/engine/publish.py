"""After the report is written: upload it to S3, push metrics, write the metrics textfile,
notify webhooks (in that order, so a notification can say where the uploaded report is).

None of this changes the drill's verdict or exit code: an S3 bucket, a Pushgateway or a chat
service that is down is a warning on stderr (and a missing
`drdrill_last_run_timestamp_seconds` update is what alerts catch). Settings come from flags,
the environment and the scenario (`publish_config`); secrets only from the environment or
files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from drdrill.archive import S3Location, upload_run
from drdrill.backups.s3client import S3Endpoint, make_s3_client
from drdrill.errors import DrdrillError
from drdrill.metrics import BasicAuth, push_metrics, write_textfile
from drdrill.notify import NotifyWhen, Webhook, send_notifications
from drdrill.results import DrillReport

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PublishSettings:
    pushgateway: str | None = field(default=None, repr=False)
    pushgateway_auth: BasicAuth | None = field(default=None, repr=False)
    textfile_dir: Path | None = None
    webhooks: Sequence[Webhook] = ()
    notify: NotifyWhen = NotifyWhen.FAILURE
    upload: S3Location | None = None


def archive_client() -> Any:
    """An S3 client for the report archive: endpoint from AWS_ENDPOINT_URL, region from
    AWS_REGION / AWS_DEFAULT_REGION, credentials from boto3's default chain (as for backups)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return make_s3_client(endpoint=S3Endpoint(region=region))


def upload_report(directory: Path, *, drill: str, location: S3Location) -> str:
    """Upload one run's report folder; its s3:// URI."""
    uri = upload_run(archive_client(), directory=directory, location=location, drill=drill)
    log.info("report uploaded", drill=drill, uri=uri)
    return uri


def publish_outcome(report: DrillReport, *, settings: PublishSettings,
                    report_dir: Path) -> list[str]:
    """Do what `settings` ask; return one line per thing that could not be done.

    The report is uploaded first, so the notification can say where it is in S3.
    """
    problems: list[str] = []
    report_location = str(report_dir.resolve())
    if settings.upload is not None:
        try:
            report_location = upload_report(report_dir, drill=report.drill,
                                            location=settings.upload)
        except DrdrillError as err:
            problems.append(str(err))
    if settings.textfile_dir is not None:
        try:
            write_textfile(report, directory=settings.textfile_dir)
        except DrdrillError as err:
            problems.append(str(err))
    if settings.pushgateway:
        try:
            push_metrics(report, gateway=settings.pushgateway, auth=settings.pushgateway_auth)
        except DrdrillError as err:
            problems.append(str(err))
    problems += send_notifications(report, webhooks=settings.webhooks, when=settings.notify,
                                   report_location=report_location)
    for problem in problems:
        log.warning("not published", problem=problem)
    return problems
