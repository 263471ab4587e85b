"""Restore one large object with parallel ranged GETs, still hashed in order while it arrives.

A single GET stream is bound by one core reading, hashing and writing in turn. Here the file
is allocated once at its full size and each part is read straight into a shared mapping of
its slice of the file: the kernel copies the bytes from the socket into the page cache once,
with no `write` copy after it and no buffer of our own. The calling thread hashes the parts
in order as they complete, while the other parts still download, and then unmaps them;
the parts mapped at a time (WINDOW_BYTES) bound RSS whatever the object's size. Allocating
first also means a full disk fails at once with ENOSPC instead of faulting a mapped page.

Every part GET carries `If-Match: <ETag>` so an object replaced mid-restore fails instead of
producing a mix of two versions. A broken part is fetched again, not the whole object; so are
throttled or 5xx parts.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tenacity import Retrying, retry_if_exception, stop_any

from drdrill.backups.s3client import S3Client
from drdrill.backups.signed_get import SignedGetter
from drdrill.backups.streaming import (
    BROKEN_STREAM,
    StopAtDeadline,
    StopWhenAttemptsUsedUp,
    StreamedObject,
    backoff,
    is_server_busy,
    s3_sha256_of,
)
from drdrill.timing import Deadline

PART_BYTES = 24 * 1024 * 1024
# Parts mapped at a time (in flight or waiting to be hashed): all the memory a restore uses.
# Five parts in flight and one being hashed kept two cores busiest in bench/backups_bench.py.
WINDOW_BYTES = 6 * PART_BYTES
# Objects at least this large are fetched in parts.
RANGED_MIN_BYTES = 64 * 1024 * 1024


class ShortPartError(ConnectionError):
    """A part ended before its last byte: the stream broke off."""


def _fetch_part_botocore(client: S3Client, *, bucket: str, key: str, etag: str | None,
                         start: int, buffer: memoryview) -> None:
    byte_range = f"bytes={start}-{start + len(buffer) - 1}"
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
    if len(data) != len(buffer):
        raise ShortPartError(f"part at {start} returned {len(data)} of {len(buffer)} bytes")
    buffer[:] = data


def _part_with_retries(client: S3Client, signed: SignedGetter | None, *, bucket: str, key: str,
                       etag: str | None, fd: int, start: int, length: int,
                       deadline: Deadline) -> mmap.mmap:
    """The part at `start`, read into a fresh mapping of the file's bytes it covers."""
    retrying = Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, BROKEN_STREAM) or is_server_busy(e)),
        stop=stop_any(StopWhenAttemptsUsedUp(), StopAtDeadline(deadline)),
        wait=backoff(),
        reraise=True,
    )
    part = mmap.mmap(fd, length, offset=start)
    try:
        with memoryview(part) as buffer:
            if signed is not None:
                retrying(signed.read_range_into, bucket=bucket, key=key, start=start,
                         buffer=buffer, if_match=etag)
            else:
                retrying(_fetch_part_botocore, client, bucket=bucket, key=key, etag=etag,
                         start=start, buffer=buffer)
    except BaseException:
        part.close()
        raise
    return part


def _ranges(size: int, part: int) -> Iterator[tuple[int, int]]:
    for start in range(0, size, part):
        yield start, min(size - start, part)


def stream_ranged(client: S3Client, *, bucket: str, key: str, fd: int, concurrency: int,
                  deadline: Deadline, signed: SignedGetter | None = None,
                  part_bytes: int = PART_BYTES) -> StreamedObject:
    """Fetch `key` in parts into `fd`, hashing in order; same result shape as a single GET.

    `fd` must be open for reading and writing (its file is mapped) and empty. Parts go
    through `signed` when given, else through botocore; `part_bytes` is rounded up to a
    multiple of the page size, as mappings start on page boundaries.
    """
    head: Any = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    size, etag = int(head["ContentLength"]), head.get("ETag")
    checksum = s3_sha256_of(head.get("ChecksumSHA256"), head.get("ChecksumType"))
    page = mmap.ALLOCATIONGRANULARITY
    part_bytes = max(page, -(-part_bytes // page) * page)
    workers = max(1, min(concurrency, WINDOW_BYTES // part_bytes - 1))
    digest = hashlib.sha256()
    received = 0
    if size:
        os.posix_fallocate(fd, 0, size)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drdrill-part") as pool:
        pending: deque[Future[mmap.mmap]] = deque()
        try:
            for start, length in _ranges(size, part_bytes):
                if len(pending) > workers:
                    received += _hash_oldest(pending, digest)
                pending.append(pool.submit(
                    _part_with_retries, client, signed, bucket=bucket, key=key, etag=etag,
                    fd=fd, start=start, length=length, deadline=deadline,
                ))
            while pending:
                received += _hash_oldest(pending, digest)
        except BaseException as stop:
            if signed is not None and not isinstance(stop, Exception):
                signed.abort()  # interrupted: parts in flight end now, not at their timeouts
            for future in pending:
                future.cancel()
            for future in pending:
                if not future.cancelled() and future.exception() is None:
                    future.result().close()
            raise
    return StreamedObject(size=received, sha256=digest.hexdigest(), content_length=size,
                          s3_sha256=checksum)


def _hash_oldest(pending: deque[Future[mmap.mmap]], digest: Any) -> int:
    """Wait for the oldest part, hash it and unmap it (its bytes stay in the file)."""
    part = pending.popleft().result()
    try:
        with memoryview(part) as view:
            digest.update(view)
        return len(part)
    finally:
        part.close()
