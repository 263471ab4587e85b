"""One GET of one object as a stream: hashed chunk by chunk, written as it arrives.

The primitives both restore paths share: what counts as a broken stream (retried by starting
the object or part again), the backoff, and a stop at the phase's deadline.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    ClientError,
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
    retry_if_exception,
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
# As botocore's "standard" retry mode: 6 attempts for throttling and 5xx.
SERVER_BUSY_ATTEMPTS = 6
THROTTLE_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
    "RequestThrottled", "TooManyRequestsException", "RequestTimeout",
})

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


def write_all(fd: int, data: bytes | memoryview) -> None:
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
                write_all(fd, chunk)
            size += len(chunk)
    finally:
        body.close()
    return StreamedObject(
        size=size,
        sha256=digest.hexdigest(),
        content_length=int(response.get("ContentLength", size)),
        s3_sha256=s3_sha256_of(response.get("ChecksumSHA256"), response.get("ChecksumType")),
    )


def s3_sha256_of(checksum: str | None, checksum_type: str | None) -> str | None:
    """The ChecksumSHA256 S3 returned if it is of the object's bytes, else None."""
    if checksum and (checksum_type == "COMPOSITE" or "-" in checksum):
        return None  # a checksum of part checksums, not of the bytes
    return checksum or None


class StopAtDeadline(stop_base):
    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.deadline.remaining() < 1.0


def backoff() -> wait_exponential_jitter:
    return wait_exponential_jitter(multiplier=0.2, max=5.0, jitter=0.5)


def is_server_busy(err: BaseException | None) -> bool:
    """Throttling or a 5xx answer: worth asking again after a pause."""
    if not isinstance(err, ClientError):
        return False
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    code = err.response.get("Error", {}).get("Code", "")
    return status >= 500 or status == 429 or code in THROTTLE_CODES


class StopWhenAttemptsUsedUp(stop_base):
    """DOWNLOAD_ATTEMPTS for broken streams, SERVER_BUSY_ATTEMPTS for throttling and 5xx."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        limit = SERVER_BUSY_ATTEMPTS if is_server_busy(error) else DOWNLOAD_ATTEMPTS
        return retry_state.attempt_number >= limit


def _start_again(fd: int | None) -> Callable[[RetryCallState], None]:
    """Empty `fd` (if given) before the next attempt, so the object is written from byte 0."""

    def restart(_: RetryCallState) -> None:
        if fd is not None:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)

    return restart


def download_retrying(*, deadline: Deadline, fd: int | None) -> Retrying:
    """Retry a whole-object download into `fd` on throttling, 5xx or a broken stream."""
    return Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, BROKEN_STREAM) or is_server_busy(e)),
        stop=stop_any(StopWhenAttemptsUsedUp(), StopAtDeadline(deadline)),
        wait=backoff(),
        before_sleep=_start_again(fd),
        reraise=True,
    )


def stream_with_retries(
    client: S3Client, *, bucket: str, key: str, fd: int | None, deadline: Deadline
) -> StreamedObject:
    """`stream_object`, started again from byte 0 when the stream breaks off.

    Throttling and 5xx are retried by botocore itself before they get here.
    """
    retrying = Retrying(
        retry=retry_if_exception_type(BROKEN_STREAM),
        stop=stop_any(stop_after_attempt(DOWNLOAD_ATTEMPTS), StopAtDeadline(deadline)),
        wait=backoff(),
        before_sleep=_start_again(fd),
        reraise=True,
    )
    result: StreamedObject = retrying(stream_object, client, bucket=bucket, key=key, fd=fd)
    return result
