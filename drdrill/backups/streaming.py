"""One GET of one object as a stream: hashed chunk by chunk, written as it arrives.

The primitives both restore paths share: what counts as a broken stream (retried by starting
the object or part again), the backoff, and a stop at the phase's deadline.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    ConnectionClosedError,
    EndpointConnectionError,
    FlexibleChecksumError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from urllib3.exceptions import HTTPError as Urllib3Error

from drdrill.backups.s3client import S3Client
from drdrill.timing import Deadline

CHUNK_BYTES = 4 * 1024 * 1024
DOWNLOAD_ATTEMPTS = 4

BROKEN_STREAM = (
    IncompleteReadError,
    ResponseStreamingError,
    ReadTimeoutError,
    ConnectionClosedError,
    EndpointConnectionError,
    FlexibleChecksumError,
    Urllib3Error,
    ConnectionError,
)



@dataclass(frozen=True)
class StreamedObject:
    size: int
    sha256: str
    content_length: int
    s3_sha256: str | None


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def stream_object(
    client: S3Client, *, bucket: str, key: str, fd: int | None, chunk_bytes: int = CHUNK_BYTES
) -> StreamedObject:
    """GET one object, hashing each chunk and writing it to `fd` (if given) as it arrives."""
    response: Any = client.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    body = response["Body"]
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in body.iter_chunks(chunk_bytes):
            digest.update(chunk)
            if fd is not None:
                _write_all(fd, chunk)
            size += len(chunk)
    finally:
        body.close()
    checksum = response.get("ChecksumSHA256")
    if checksum and (response.get("ChecksumType") == "COMPOSITE" or "-" in checksum):
        checksum = None  # a checksum of part checksums, not of the bytes
    return StreamedObject(
        size=size,
        sha256=digest.hexdigest(),
        content_length=int(response.get("ContentLength", size)),
        s3_sha256=checksum,
    )


class StopAtDeadline(stop_base):
    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.deadline.remaining() < 1.0


def backoff() -> wait_exponential_jitter:
    return wait_exponential_jitter(multiplier=0.2, max=5.0, jitter=0.5)


def stream_with_retries(
    client: S3Client, *, bucket: str, key: str, fd: int | None, deadline: Deadline
) -> StreamedObject:
    """`stream_object`, started again from byte 0 when the stream breaks off."""

    def restart(_: object) -> None:
        if fd is not None:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)

    retrying = Retrying(
        retry=retry_if_exception_type(BROKEN_STREAM),
        stop=stop_any(stop_after_attempt(DOWNLOAD_ATTEMPTS), StopAtDeadline(deadline)),
        wait=backoff(),
        before_sleep=restart,
        reraise=True,
    )
    result: StreamedObject = retrying(stream_object, client, bucket=bucket, key=key, fd=fd)
    return result


