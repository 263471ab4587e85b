"""Restore one large object with parallel ranged GETs, still hashed in order while it arrives.

A single GET stream is bound by one core reading, hashing and writing in turn. Here parts are
read in parallel straight into a fixed set of buffers (no copy, no fresh memory per part),
then hashed by the calling thread while a writer thread appends them, both in order; the
buffers (WINDOW_BYTES) bound RSS whatever the object's size. Every part GET carries
`If-Match: <ETag>` so an object replaced mid-restore fails instead of producing a mix of two
versions. A broken part is fetched again, not the whole object; so are throttled or 5xx parts.
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
                       etag: str | None, start: int, buffer: memoryview,
                       deadline: Deadline) -> memoryview:
    """Fill `buffer` with the part at `start`."""
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
    return buffer


def _write_at(fd: int, data: memoryview, offset: int) -> None:
    while data:
        written = os.pwrite(fd, data, offset)
        data, offset = data[written:], offset + written


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
    window = max(2, min(concurrency + 1, WINDOW_BYTES // part_bytes))
    free: queue.SimpleQueue[memoryview] = queue.SimpleQueue()
    for _ in range(min(window, -(-size // part_bytes))):
        free.put(memoryview(bytearray(part_bytes)))
    digest = hashlib.sha256()
    received = 0
    workers = max(1, min(concurrency, window - 1))
    with (ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drdrill-part") as pool,
          ThreadPoolExecutor(max_workers=1, thread_name_prefix="drdrill-write") as writer):
        pending: list[tuple[memoryview, int, Future[memoryview]]] = []
        try:
            for start, length in _ranges(size, part_bytes):
                while True:
                    try:
                        buffer = free.get_nowait()
                        break
                    except queue.Empty:
                        received += _hash_next(pending, digest, free, writer, fd)
                pending.append((buffer, start, pool.submit(
                    _part_with_retries, client, signed, bucket=bucket, key=key, etag=etag,
                    start=start, buffer=buffer[:length], deadline=deadline,
                )))
            while pending:
                received += _hash_next(pending, digest, free, writer, fd)
        except BaseException:
            for _, _, future in pending:
                future.cancel()
            raise
    return StreamedObject(size=received, sha256=digest.hexdigest(), content_length=size,
                          s3_sha256=checksum)


def _hash_next(pending: list[tuple[memoryview, int, Future[memoryview]]], digest: Any,
               free: queue.SimpleQueue[memoryview], writer: ThreadPoolExecutor, fd: int) -> int:
    """Hash the oldest part while `writer` writes it, then free its buffer; returns its size.

    Parts are written in order by one thread, so the file grows by appending instead of
    taking concurrent writes at scattered offsets of a sparse file.
    """
    buffer, start, future = pending.pop(0)
    part = future.result()
    written = writer.submit(_write_at, fd, part, start)
    digest.update(part)
    written.result()
    free.put(buffer)
    return len(part)
