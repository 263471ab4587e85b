"""Restore one large object with parallel ranged GETs, still hashed in order while it arrives.

A single GET stream is bound by one core reading, hashing and writing in turn. Here parts are
read straight into a fixed set of buffers (no copy, no fresh memory per part) and written at
their offsets, while the calling thread hashes them in order; the buffers keep RSS at about
WINDOW_BYTES whatever the object's size. Every part GET carries `If-Match: <ETag>` so an
object replaced mid-restore fails instead of producing a mix of two versions. A broken part
is fetched again, not the whole object; so are throttled or 5xx parts.
"""

from __future__ import annotations

import hashlib
import os
import queue
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

PART_BYTES = 16 * 1024 * 1024
# Parts in flight or waiting to be hashed, at most; their buffers are all the memory used.
WINDOW_BYTES = 128 * 1024 * 1024
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
                       etag: str | None, start: int, buffer: memoryview, fd: int,
                       deadline: Deadline) -> memoryview:
    """Fill `buffer` with the part at `start` and write it at its offset in `fd`."""
    retrying = Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, BROKEN_STREAM) or is_server_busy(e)),
        stop=stop_any(StopWhenAttemptsUsedUp(), StopAtDeadline(deadline)),
        wait=backoff(),
        reraise=True,
    )
    if signed is not None:
        retrying(signed.read_range_into, bucket=bucket, key=key, start=start, buffer=buffer,
                 if_match=etag)
    else:
        retrying(_fetch_part_botocore, client, bucket=bucket, key=key, etag=etag, start=start,
                 buffer=buffer)
    view, offset = buffer, start
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
    return buffer


def _ranges(size: int, part: int) -> Iterator[tuple[int, int]]:
    for start in range(0, size, part):
        yield start, min(size - start, part)


def stream_ranged(client: S3Client, *, bucket: str, key: str, fd: int, concurrency: int,
                  deadline: Deadline, signed: SignedGetter | None = None,
                  part_bytes: int = PART_BYTES) -> StreamedObject:
    """Fetch `key` in parts into `fd`, hashing in order; same result shape as a single GET.

    Parts go through `signed` when given, else through botocore.
    """
    head: Any = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    size, etag = int(head["ContentLength"]), head.get("ETag")
    checksum = s3_sha256_of(head.get("ChecksumSHA256"), head.get("ChecksumType"))
    os.ftruncate(fd, size)
    window = max(2, min(concurrency + 1, WINDOW_BYTES // part_bytes))
    free: queue.SimpleQueue[memoryview] = queue.SimpleQueue()
    for _ in range(min(window, -(-size // part_bytes))):
        free.put(memoryview(bytearray(part_bytes)))
    digest = hashlib.sha256()
    received = 0
    workers = max(1, min(concurrency, window - 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drdrill-part") as pool:
        pending: list[tuple[memoryview, Future[memoryview]]] = []
        try:
            for start, length in _ranges(size, part_bytes):
                while True:
                    try:
                        buffer = free.get_nowait()
                        break
                    except queue.Empty:
                        received += _hash_next(pending, digest, free)
                pending.append((buffer, pool.submit(
                    _part_with_retries, client, signed, bucket=bucket, key=key, etag=etag,
                    start=start, buffer=buffer[:length], fd=fd, deadline=deadline,
                )))
            while pending:
                received += _hash_next(pending, digest, free)
        except BaseException:
            for _, future in pending:
                future.cancel()
            raise
    return StreamedObject(size=received, sha256=digest.hexdigest(), content_length=size,
                          s3_sha256=checksum)


def _hash_next(pending: list[tuple[memoryview, Future[memoryview]]], digest: Any,
               free: queue.SimpleQueue[memoryview]) -> int:
    """Wait for the oldest part, hash it and give its buffer back; returns bytes hashed."""
    buffer, future = pending.pop(0)
    part = future.result()
    digest.update(part)
    free.put(buffer)
    return len(part)
