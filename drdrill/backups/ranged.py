"""Restore one large object with parallel ranged GETs, still hashed in order while it arrives.

A single GET stream is bound by one core reading, hashing and writing in turn. Here parts
are fetched in parallel and written at their offsets, while the calling thread hashes them
in order; a bounded window of parts in memory keeps RSS at about window x part size. Every
part GET carries `If-Match: <ETag>` so an object replaced mid-restore fails instead of
producing a mix of two versions. A broken part is fetched again, not the whole object.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_any

from drdrill.backups.s3client import S3Client
from drdrill.backups.streaming import (
    BROKEN_STREAM,
    DOWNLOAD_ATTEMPTS,
    StopAtDeadline,
    StreamedObject,
    backoff,
)
from drdrill.timing import Deadline

PART_BYTES = 8 * 1024 * 1024
# Objects at least this large are fetched in parts.
RANGED_MIN_BYTES = 64 * 1024 * 1024


class ShortPartError(ConnectionError):
    """A part ended before its last byte: the stream broke off."""


def _fetch_part(client: S3Client, *, bucket: str, key: str, etag: str | None, start: int,
                end: int) -> bytes:
    byte_range = f"bytes={start}-{end}"
    response: Any = (
        client.get_object(Bucket=bucket, Key=key, Range=byte_range, IfMatch=etag)
        if etag
        else client.get_object(Bucket=bucket, Key=key, Range=byte_range)
    )
    body = response["Body"]
    try:
        data = body.read()
    finally:
        body.close()
    if len(data) != end - start + 1:
        raise ShortPartError(f"part {start}-{end} returned {len(data)} bytes")
    return bytes(data)


def _part_with_retries(client: S3Client, *, bucket: str, key: str, etag: str | None, start: int,
                       end: int, fd: int, deadline: Deadline) -> bytes:
    retrying = Retrying(
        retry=retry_if_exception_type(BROKEN_STREAM),
        stop=stop_any(stop_after_attempt(DOWNLOAD_ATTEMPTS), StopAtDeadline(deadline)),
        wait=backoff(),
        reraise=True,
    )
    data: bytes = retrying(
        _fetch_part, client, bucket=bucket, key=key, etag=etag, start=start, end=end
    )
    view = memoryview(data)
    offset = start
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
    return data


def _ranges(size: int, part: int) -> Iterator[tuple[int, int]]:
    for start in range(0, size, part):
        yield start, min(size, start + part) - 1


def stream_ranged(client: S3Client, *, bucket: str, key: str, fd: int, concurrency: int,
                  deadline: Deadline, part_bytes: int = PART_BYTES) -> StreamedObject:
    """Fetch `key` in parts into `fd`, hashing in order; same result shape as a single GET."""
    head: Any = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    size, etag = int(head["ContentLength"]), head.get("ETag")
    checksum = head.get("ChecksumSHA256")
    if checksum and (head.get("ChecksumType") == "COMPOSITE" or "-" in checksum):
        checksum = None
    os.ftruncate(fd, size)
    window = threading.BoundedSemaphore(min(concurrency, 8) + 2)
    digest = hashlib.sha256()
    received = 0
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="drdrill-part") as pool:
        pending: list[Future[bytes]] = []
        ranges = _ranges(size, part_bytes)
        try:
            for start, end in ranges:
                while not window.acquire(timeout=0.05):
                    received += _hash_done(pending, digest, window, wait=True)
                pending.append(pool.submit(
                    _part_with_retries, client, bucket=bucket, key=key, etag=etag,
                    start=start, end=end, fd=fd, deadline=deadline,
                ))
                received += _hash_done(pending, digest, window, wait=False)
            while pending:
                received += _hash_done(pending, digest, window, wait=True)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return StreamedObject(size=received, sha256=digest.hexdigest(), content_length=size,
                          s3_sha256=checksum)


def _hash_done(pending: list[Future[bytes]], digest: Any, window: threading.BoundedSemaphore,
               *, wait: bool) -> int:
    """Hash the finished parts at the head of `pending`, in order; returns bytes hashed."""
    hashed = 0
    while pending and (wait or pending[0].done()):
        data = pending.pop(0).result()
        digest.update(data)
        hashed += len(data)
        window.release()
        wait = False
    return hashed
