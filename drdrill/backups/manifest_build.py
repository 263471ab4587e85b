"""Write a drdrill manifest for a prefix that already holds a backup.

Backup jobs should write the manifest themselves when they finish; this is for backups that
exist already, and for tests. Every object is streamed and hashed (nothing is written to
disk). `createdAt` defaults to the newest object's LastModified: the backup is no newer than
its newest byte, so the RPO is never flattered by the time the manifest was written.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from drdrill.backups.manifest import ManifestEntry, render_manifest
from drdrill.backups.s3client import S3_ERRORS, S3Client, S3Endpoint, raise_if_fatal
from drdrill.backups.setcheck import folder_prefix, list_set
from drdrill.backups.streaming import stream_with_retries
from drdrill.errors import BadInputError, InfrastructureError
from drdrill.timing import Deadline


def build_manifest(
    client: S3Client,
    *,
    endpoint: S3Endpoint,
    bucket: str,
    prefix: str,
    exclude_key: str | None = None,
    created_at: datetime | None = None,
    deadline: Deadline,
) -> bytes:
    """The manifest document for every object under `prefix` (except `exclude_key`)."""
    prefix = folder_prefix(prefix)
    try:
        listed = list_set(client, bucket=bucket, prefix=prefix, exclude=exclude_key)
    except S3_ERRORS as err:
        raise_if_fatal(err, endpoint=endpoint, bucket=bucket)
        raise InfrastructureError(
            f"cannot list s3://{bucket}/{prefix} ({err}); check the bucket and prefix"
        ) from err
    if not listed:
        raise BadInputError(f"no objects under s3://{bucket}/{prefix}; check --bucket/--prefix")

    def entry(relative: str) -> ManifestEntry:
        got = stream_with_retries(
            client, bucket=bucket, key=listed.key(relative), fd=None, deadline=deadline
        )
        if got.size != got.content_length:
            raise InfrastructureError(
                f"s3://{bucket}/{listed.key(relative)}: read {got.size} of "
                f"{got.content_length} bytes; run the command again"
            )
        return ManifestEntry(key=relative, size=got.size, sha256=got.sha256)

    try:
        with ThreadPoolExecutor(max_workers=endpoint.max_concurrency) as pool:
            entries = list(pool.map(entry, sorted(listed)))
    except S3_ERRORS as err:
        raise_if_fatal(err, endpoint=endpoint, bucket=bucket)
        raise InfrastructureError(f"cannot read s3://{bucket}/{prefix} ({err}); retry") from err
    newest = listed.newest
    assert newest is not None  # there is at least one object
    return render_manifest(created_at=created_at or newest, entries=entries)


def upload_manifest(client: S3Client, *, endpoint: S3Endpoint, bucket: str, key: str,
                    document: bytes) -> None:
    try:
        client.put_object(
            Bucket=bucket, Key=key, Body=document, ContentType="application/json"
        )
    except S3_ERRORS as err:
        raise_if_fatal(err, endpoint=endpoint, bucket=bucket)
        raise InfrastructureError(
            f"cannot upload the manifest to s3://{bucket}/{key} ({err}); check write access"
        ) from err
