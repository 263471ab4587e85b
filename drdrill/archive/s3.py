"""Upload a run's report folder to S3 and read report.json files back (the client is given:
it is built, with credentials from boto3's default chain only, where S3 clients are built).

Layout mirrors the local one: `s3://<bucket>/<prefix>/<drill>/<UTC timestamp>/report.json`
(and report.md, report.html, junit.xml), so a history reads a local folder and a prefix alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drdrill.errors import BadInputError, InfrastructureError
from drdrill.logs import redact_text

REPORT_FILE = "report.json"
_MAX_REPORT_BYTES = 64 * 1024 * 1024
_CONTENT_TYPES = {".json": "application/json", ".md": "text/markdown; charset=utf-8",
                  ".html": "text/html; charset=utf-8", ".xml": "application/xml"}
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or ending with "/"

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"


def parse_s3_uri(uri: str) -> S3Location:
    """`s3://bucket/some/prefix` -> S3Location("bucket", "some/prefix/")."""
    if not uri.startswith("s3://"):
        raise BadInputError(f"{uri!r}: expected s3://bucket/prefix")
    bucket, _, prefix = uri[5:].partition("/")
    if not _BUCKET.match(bucket):
        raise BadInputError(f"{uri!r}: {bucket!r} is not an S3 bucket name")
    prefix = prefix.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise BadInputError(f"{uri!r}: the prefix has empty, . or .. parts")
    return S3Location(bucket=bucket, prefix=f"{prefix}/" if prefix else "")


def _fail(what: str, err: BaseException) -> InfrastructureError:
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        why = f"{error.get('Code', 'error')}: {error.get('Message', '') or 'no message'}"
    else:
        why = type(err).__name__
    return InfrastructureError(redact_text(f"{what} ({' '.join(why.split())})"))


def upload_run(client: Any, *, directory: Path, location: S3Location, drill: str) -> str:
    """Upload the files of one run's report folder; return the folder's s3:// URI."""
    folder = f"{location.prefix}{drill}/{directory.name}/"
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.is_symlink():
            continue
        key = folder + path.name
        try:
            with path.open("rb") as body:
                client.put_object(Bucket=location.bucket, Key=key, Body=body,
                                  ContentType=_CONTENT_TYPES.get(path.suffix,
                                                                 "application/octet-stream"))
        except (ClientError, BotoCoreError) as err:
            raise _fail(f"could not upload the report to {location.uri(key)}", err) from None
    return f"s3://{location.bucket}/{folder}"


def _report_keys(client: Any, location: S3Location) -> Iterator[tuple[str, int]]:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=location.bucket, Prefix=location.prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(f"/{REPORT_FILE}") or item["Key"] == REPORT_FILE:
                yield item["Key"], int(item.get("Size", 0))


def fetch_reports(client: Any, *, location: S3Location) -> tuple[list[tuple[str, bytes]],
                                                                list[str]]:
    """Every report.json under the prefix as (its folder's URI, its bytes), and the keys that
    could not be read."""
    found, skipped = [], []
    try:
        for key, size in _report_keys(client, location):
            uri = f"s3://{location.bucket}/{key}"
            if size > _MAX_REPORT_BYTES:
                skipped.append(f"{uri}: larger than 64 MiB")
                continue
            try:
                body = client.get_object(Bucket=location.bucket, Key=key)["Body"].read()
            except (ClientError, BotoCoreError) as err:
                skipped.append(str(_fail(uri, err)))
                continue
            found.append((uri.rsplit("/", 1)[0] + "/", body))
    except (ClientError, BotoCoreError) as err:
        raise _fail(f"could not list reports under {location.uri()}", err) from None
    return found, skipped
