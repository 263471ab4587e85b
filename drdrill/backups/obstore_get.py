"""Restore whole objects through obstore (Rust object_store): many GETs in flight on one loop.

Chosen by measurement (bench/backups_engines_bench.py): for many small objects the per-request
cost in Python decides the speed, and obstore's requests cost a fraction of botocore's or of
our own signed `http.client` GETs. An object of at most one chunk is one ranged GET of one
byte more than expected (a single await; a larger object shows as larger); a larger one is
streamed: read in chunks, every chunk hashed and written to a file created with
O_NOFOLLOW|O_EXCL before the next one is read. Both are judged by
`drdrill.backups.checks.judge` like any other restore.

What botocore honours holds here too, set explicitly rather than left to the library's own
defaults: the endpoint and path-style addressing, credentials from boto3's default chain
(asked again every few minutes, so refreshed credentials are used), HTTPS_PROXY / HTTP_PROXY /
NO_PROXY, and the scenario's CA bundle or else AWS_CA_BUNDLE. obstore does not hand back
response headers, so S3's ChecksumSHA256 cannot be read here: objects without a sha256 in
a manifest go through `SignedGetter`, which compares it; with one, the manifest's sha256 is
what proves the bytes.

Errors become the botocore exceptions the rest of the restore already judges (`ClientError`
with the S3 error code, `EndpointConnectionError`, `SSLError`, `ReadTimeoutError`, a broken
stream), and retries follow the same policy (streams that break off, throttling and 5xx, all
within the phase deadline). Requests are signed in headers: no signed URL exists to leak.
"""

from __future__ import annotations

import asyncio
import os
import re
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.credentials import Credentials
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
    SSLError,
)
from botocore.httpsession import get_cert_path

from drdrill.backups.checks import (
    OUT_OF_TIME,
    ObjectCheck,
    RestoreTarget,
    create_or_refuse,
    judge,
    problem_of,
    restore_refusal,
)
from drdrill.backups.s3client import S3Endpoint, default_credentials, error_code
from drdrill.backups.streaming import (
    BROKEN_STREAM,
    CHUNK_BYTES,
    DOWNLOAD_ATTEMPTS,
    SERVER_BUSY_ATTEMPTS,
    StreamedObject,
    is_server_busy,
    write_all,
)
from drdrill.timing import Deadline

ENGINE = "obstore"
# Credentials are asked for again after this long (botocore refreshes them when due).
CREDENTIAL_TTL = timedelta(minutes=5)

Progress = Callable[[int, int], None]


class BrokenObstoreStream(ConnectionError):
    """The answer broke off or could not be read (one of BROKEN_STREAM: retried)."""


def proxy_options(endpoint_url: str) -> dict[str, str]:
    """obstore's proxy options for the proxy HTTPS_PROXY / HTTP_PROXY name for the endpoint,
    unless NO_PROXY exempts it (the variables botocore reads); {} for no proxy."""
    parts = urlsplit(endpoint_url)
    proxies = urllib.request.getproxies_environment()
    url = proxies.get(parts.scheme)
    bypass: Any = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009 - untyped
    if not url or bypass(parts.hostname or "", proxies):
        return {}
    return {"proxy_url": url if "://" in url else f"http://{url}"}


def ca_bundle_path(endpoint: S3Endpoint) -> str | None:
    """The CA bundle botocore would use: the scenario's, else AWS_CA_BUNDLE, else certifi's."""
    if endpoint.ca_bundle:
        return str(endpoint.ca_bundle)
    return os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True) or None


def store_options(endpoint: S3Endpoint, *, endpoint_url: str,
                  read_timeout: float) -> dict[str, Any]:
    """Keyword arguments for `obstore.store.S3Store` (no credentials), as plain data."""
    client: dict[str, Any] = {
        "allow_http": urlsplit(endpoint_url).scheme == "http",
        "connect_timeout": timedelta(seconds=10),
        "read_timeout": timedelta(seconds=max(1.0, read_timeout)),
        "pool_idle_timeout": timedelta(seconds=30),
        **proxy_options(endpoint_url),
    }
    if urlsplit(endpoint_url).scheme == "https":
        if not endpoint.verify_tls and not endpoint.ca_bundle:
            client["allow_invalid_certificates"] = True
        else:
            bundle = ca_bundle_path(endpoint)
            if bundle:
                client["root_certificate"] = Path(bundle).read_bytes()
    return {
        "endpoint": endpoint_url,
        "region": endpoint.region,
        "virtual_hosted_style_request": False,
        "client_options": client,
        # Retries are ours (below), one policy for every engine.
        "retry_config": {"max_retries": 0, "retry_timeout": timedelta(seconds=1)},
    }


class _CredentialChain:
    """obstore's credential provider: boto3's default chain, asked again every few minutes."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def __call__(self) -> dict[str, Any]:
        frozen = self._credentials.get_frozen_credentials()
        if frozen.access_key is None:
            raise NoCredentialsError()
        return {"access_key_id": frozen.access_key, "secret_access_key": frozen.secret_key,
                "token": frozen.token, "expires_at": datetime.now(UTC) + CREDENTIAL_TTL}


_CODE = re.compile(r"<Code>([^<]{1,128})</Code>")
_MESSAGE = re.compile(r"<Message>([^<]{0,512})</Message>")
_STATUS = re.compile(r"status code: (\d{3})")


def as_botocore_error(err: Exception, *, endpoint_url: str) -> Exception:
    """The botocore exception the restore judges, for an obstore error (message shortened)."""
    text = str(err)
    status = _STATUS.search(text)
    code = _CODE.search(text)
    if status or code:
        message = _MESSAGE.search(text)
        parsed: Any = {
            "Error": {"Code": code.group(1) if code else (status.group(1) if status else ""),
                      "Message": message.group(1) if message else ""},
            "ResponseMetadata": {"HTTPStatusCode": int(status.group(1)) if status else 0},
        }
        return ClientError(parsed, "GetObject")
    lowered = text.lower()
    if "certificate" in lowered or "unknownissuer" in lowered or "tls handshake" in lowered:
        return SSLError(endpoint_url=endpoint_url,
                        error=ConnectionError("the server's certificate is not trusted"))
    if "kind: connect" in lowered:
        return EndpointConnectionError(endpoint_url=endpoint_url)
    if "timed out" in lowered or "timeout" in lowered:
        return ReadTimeoutError(endpoint_url=endpoint_url)
    return BrokenObstoreStream(f"{type(err).__name__} while reading the answer")


class ObstoreGetter:
    """Whole-object GETs of one bucket through obstore, many at a time on an asyncio loop."""

    name = ENGINE

    def __init__(self, *, endpoint: S3Endpoint, endpoint_url: str, credentials: Credentials,
                 read_timeout: float) -> None:
        self._endpoint = endpoint
        self._endpoint_url = endpoint_url
        self._credentials = credentials
        self._read_timeout = read_timeout

    @classmethod
    def for_endpoint(cls, endpoint: S3Endpoint, *, endpoint_url: str | None,
                     read_timeout: float) -> ObstoreGetter | None:
        """A getter, or None when obstore cannot stand in: no endpoint URL, no credentials, or
        virtual-hosted addressing (obstore expects the bucket inside such an endpoint URL)."""
        if (not endpoint_url or urlsplit(endpoint_url).scheme not in ("http", "https")
                or endpoint.addressing_style != "path"):
            return None
        credentials = default_credentials()
        if credentials is None:
            return None
        return cls(endpoint=endpoint, endpoint_url=endpoint_url, credentials=credentials,
                   read_timeout=read_timeout)

    def restore(self, *, bucket: str, targets: Sequence[RestoreTarget], root_fd: int,
                concurrency: int, deadline: Deadline,
                progress: Progress | None = None) -> list[ObjectCheck]:
        """Restore and judge `targets` (whole-object GETs), `concurrency` at a time."""
        return asyncio.run(self._restore(bucket=bucket, targets=targets, root_fd=root_fd,
                                         concurrency=concurrency, deadline=deadline,
                                         progress=progress))

    async def _restore(self, *, bucket: str, targets: Sequence[RestoreTarget], root_fd: int,
                       concurrency: int, deadline: Deadline,
                       progress: Progress | None) -> list[ObjectCheck]:
        from obstore.store import S3Store

        store = S3Store(bucket, credential_provider=_CredentialChain(self._credentials),  # type: ignore[arg-type]
                        **store_options(self._endpoint, endpoint_url=self._endpoint_url,
                                        read_timeout=self._read_timeout))
        queue = iter(targets)
        checks: list[ObjectCheck] = []
        in_flight: dict[int, RestoreTarget] = {}

        def judged(check: ObjectCheck) -> None:
            checks.append(check)
            if progress is not None:
                progress(1, check.bytes_read)

        async def worker(slot: int) -> None:
            for target in queue:
                in_flight[slot] = target
                check = await self._restore_one(store, target=target, root_fd=root_fd,
                                                deadline=deadline)
                del in_flight[slot]
                judged(check)

        # Workers pull from one iterator: tasks in flight stay at `concurrency`, whatever
        # the number of targets. One timeout, the phase's deadline, bounds them all.
        try:
            async with asyncio.timeout(max(0.0, deadline.remaining())):
                async with asyncio.TaskGroup() as group:
                    for slot in range(max(1, min(concurrency, len(targets)))):
                        group.create_task(worker(slot))
        except BaseExceptionGroup as stopped:
            # What ended one worker ends the restore (the others were cancelled): a fatal S3
            # error, a full disk or an interrupt, raised as itself.
            raise stopped.exceptions[0] from None
        except TimeoutError:
            # The deadline: the objects in flight broke off, the others were not checked.
            timed_out = ReadTimeoutError(endpoint_url=self._endpoint_url)
            for target in in_flight.values():
                judged(ObjectCheck(target.relative_key, problem=problem_of(target, timed_out)))
            for target in queue:
                judged(ObjectCheck(target.relative_key, problem=OUT_OF_TIME))
        return checks

    async def _restore_one(self, store: Any, *, target: RestoreTarget, root_fd: int,
                           deadline: Deadline) -> ObjectCheck:
        parts = restore_refusal(target, deadline=deadline)
        if isinstance(parts, ObjectCheck):
            return parts
        local = _LocalFile(target, parts, root_fd=root_fd)
        try:
            got = await self._get_with_retries(store, key=target.key, local=local,
                                               expected_size=target.expected_size,
                                               deadline=deadline)
        except _Clash as clash:
            return clash.check
        except _NotTheExpectedSize as err:
            return ObjectCheck(target.relative_key, problem=str(err))
        except Exception as err:  # judged (or re-raised) by problem_of
            return ObjectCheck(target.relative_key, problem=problem_of(target, err))
        finally:
            local.close()
        return ObjectCheck(target.relative_key, bytes_read=got.size, problem=judge(target, got))

    async def _get_with_retries(self, store: Any, *, key: str, local: _LocalFile,
                                expected_size: int, deadline: Deadline) -> StreamedObject:
        """One object from byte 0, again after a broken stream, throttling or 5xx."""
        attempt = 0
        while True:
            attempt += 1
            try:
                if 0 < expected_size <= CHUNK_BYTES:
                    return await self._get_small(store, key=key, local=local,
                                                 expected_size=expected_size)
                return await self._get(store, key=key, local=local)
            except Exception as err:
                if not isinstance(err, BROKEN_STREAM) and not is_server_busy(err):
                    raise
                limit = SERVER_BUSY_ATTEMPTS if is_server_busy(err) else DOWNLOAD_ATTEMPTS
                pause = min(5.0, 0.2 * 2 ** (attempt - 1))
                if attempt >= limit or deadline.remaining() < pause + 1.0:
                    raise
            await asyncio.sleep(pause)

    async def _get_small(self, store: Any, *, key: str, local: _LocalFile,
                         expected_size: int) -> StreamedObject:
        """An object of at most one chunk in one request and one await: its first
        `expected_size` + 1 bytes, so an object larger than expected shows as larger instead
        of passing as a prefix that matches (bench/backups.md: half the hand-offs between
        obstore's threads and the loop of a GET and then a read)."""
        import obstore

        try:
            data = await obstore.get_range_async(store, key, start=0, end=expected_size + 1)
        except (OSError, obstore.exceptions.BaseError) as err:
            if isinstance(err, OSError) and not isinstance(err, FileNotFoundError):
                raise
            error = as_botocore_error(err, endpoint_url=self._endpoint_url)
            if isinstance(error, ClientError) and error_code(error) == "InvalidRange":
                raise _NotTheExpectedSize(
                    f"now empty, expected {expected_size} bytes") from None
            raise error from None
        if len(data) > expected_size:
            raise _NotTheExpectedSize(
                f"larger than the {expected_size} bytes expected (changed after it was listed)")
        sha256 = local.write_whole(data)
        # Fewer bytes than expected: judged as a size that differs (the server answered
        # with the whole object; a body cut short is an error of the request itself).
        return StreamedObject(size=len(data), sha256=sha256, content_length=len(data),
                              s3_sha256=None)

    async def _get(self, store: Any, *, key: str, local: _LocalFile) -> StreamedObject:
        import hashlib

        import obstore

        try:
            result = await obstore.get_async(store, key)
            content_length = int(result.meta["size"])
            if content_length <= CHUNK_BYTES:
                # At most one chunk: the answer whole in one await (less CPU than the
                # stream; bench/backups.md), then its file.
                data = await result.bytes_async()
                if len(data) != content_length:
                    raise BrokenObstoreStream(f"read {len(data)} of {content_length} bytes")
                sha256 = local.write_whole(data)
                return StreamedObject(size=len(data), sha256=sha256,
                                      content_length=content_length, s3_sha256=None)
            fd = local.open_empty()
            digest = hashlib.sha256()
            size = 0
            async for chunk in result.stream(min_chunk_size=CHUNK_BYTES):
                view = memoryview(chunk)
                digest.update(view)
                write_all(fd, view)
                size += len(view)
        except (OSError, obstore.exceptions.BaseError) as err:
            if isinstance(err, OSError) and not isinstance(err, FileNotFoundError):
                raise  # the local disk, not the network
            # Not chained: obstore's text holds the whole error document (with the access key
            # id of a refused signature); the code and message are kept.
            raise as_botocore_error(err, endpoint_url=self._endpoint_url) from None
        if size != content_length:
            raise BrokenObstoreStream(f"read {size} of {content_length} bytes")
        return StreamedObject(size=size, sha256=digest.hexdigest(),
                              content_length=content_length, s3_sha256=None)


class _NotTheExpectedSize(Exception):
    """The object is not the size the listing and the manifest gave (the message says how)."""


class _Clash(Exception):
    """The local file could not be created: the key clashes with another one."""

    def __init__(self, check: ObjectCheck) -> None:
        super().__init__(check.problem)
        self.check = check


class _LocalFile:
    """The file of one restored object: created once its bytes are there (an object of one
    chunk) or before the first chunk of a streamed one; each new attempt starts it empty."""

    def __init__(self, target: RestoreTarget, parts: tuple[str, ...], *, root_fd: int) -> None:
        self._target, self._parts, self._root_fd = target, parts, root_fd
        self._fd: int | None = None

    def _create(self) -> int:
        created = create_or_refuse(self._target, self._parts, root_fd=self._root_fd)
        if isinstance(created, ObjectCheck):
            raise _Clash(created)
        return created

    def open_empty(self) -> int:
        if self._fd is None:
            self._fd = self._create()
        else:
            os.ftruncate(self._fd, 0)
            os.lseek(self._fd, 0, os.SEEK_SET)
        return self._fd

    def write_whole(self, data: Any) -> str:
        """Write and close `data` as the whole file; its sha256."""
        import hashlib

        fd = self.open_empty()
        write_all(fd, data)
        self.close()
        return hashlib.sha256(data).hexdigest()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
