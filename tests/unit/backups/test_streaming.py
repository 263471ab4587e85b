from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from tenacity import wait_none

from drdrill.backups.streaming import (
    DOWNLOAD_ATTEMPTS,
    SERVER_BUSY_ATTEMPTS,
    download_retrying,
    is_server_busy,
    s3_sha256_of,
)
from drdrill.timing import Deadline


def _answer(status: int, code: str) -> ClientError:
    parsed: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(parsed, "GetObject")


def test_throttling_and_5xx_are_worth_retrying() -> None:
    assert is_server_busy(_answer(503, "SlowDown"))
    assert is_server_busy(_answer(500, "InternalError"))
    assert is_server_busy(_answer(400, "RequestTimeout"))
    assert not is_server_busy(_answer(404, "NoSuchKey"))
    assert not is_server_busy(_answer(403, "AccessDenied"))
    assert not is_server_busy(ConnectionResetError())


@pytest.mark.parametrize(
    ("error", "attempts"),
    [(_answer(503, "SlowDown"), SERVER_BUSY_ATTEMPTS), (ConnectionResetError(), DOWNLOAD_ATTEMPTS),
     (_answer(404, "NoSuchKey"), 1)],
)
def test_each_failure_gets_its_number_of_attempts(error: Exception, attempts: int) -> None:
    calls = []

    def fail() -> None:
        calls.append(1)
        raise error

    retrying = download_retrying(deadline=Deadline.after(60), fd=None)
    retrying.wait = wait_none()
    with pytest.raises(type(error)):
        retrying(fail)
    assert len(calls) == attempts


def test_a_composite_checksum_is_not_of_the_bytes() -> None:
    assert s3_sha256_of("abc=", "FULL_OBJECT") == "abc="
    assert s3_sha256_of("abc=-3", None) is None
    assert s3_sha256_of("abc=", "COMPOSITE") is None
    assert s3_sha256_of(None, None) is None
