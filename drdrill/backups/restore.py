"""Restore objects into a scratch folder as streams, hashing while they arrive.

An object is never held whole in memory: it is read in chunks, each chunk hashed and written.
A download that breaks off mid-way is started again from scratch (the whole object, a few
times, with backoff), and so are throttling and 5xx. Whatever happens, a
short, long or altered object ends as a problem for that key, never as a pass.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from base64 import b64decode
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import FlexibleChecksumError

from drdrill.backups.keys import UnsafeKeyError, create_restore_file, key_components
from drdrill.backups.ranged import RANGED_MIN_BYTES, stream_ranged
from drdrill.backups.s3client import (
    S3_ERRORS,
    S3Client,
    S3Endpoint,
    describe_error,
    error_code,
    is_fatal,
)
from drdrill.backups.signed_get import SignedGetter
from drdrill.backups.streaming import (
    BROKEN_STREAM,
    StreamedObject,
    stream_with_retries,
)
from drdrill.errors import BadInputError, PrerequisiteError
from drdrill.timing import Deadline

_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# Room left on the disk beyond the objects themselves.
FREE_SPACE_MARGIN = 64 * 1024 * 1024


@dataclass(frozen=True)
class RestoreTarget:
    key: str
    relative_key: str
    expected_size: int
    expected_sha256: str | None = None


@dataclass(frozen=True)
class ObjectCheck:
    relative_key: str
    bytes_read: int = 0
    problem: str | None = None

    @property
    def verified(self) -> bool:
        return self.problem is None


def format_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def fresh_restore_root(requested: Path | None) -> tuple[Path, bool]:
    """A new, empty folder (0700); `requested` must not exist. Returns (path, is_temporary)."""
    if requested is None:
        return Path(tempfile.mkdtemp(prefix="drdrill-restore-")), True
    if os.path.lexists(requested):
        raise BadInputError(
            f"restore folder {requested} already exists; pass a path that does not exist yet"
        )
    try:
        requested.parent.mkdir(parents=True, exist_ok=True)
        requested.mkdir(mode=0o700)
    except OSError as err:
        raise PrerequisiteError(
            f"cannot create restore folder {requested} ({err.strerror}); choose another path"
        ) from err
    return requested, False


def check_free_space(folder: Path, *, needed: int, what: str) -> None:
    """Fail before downloading anything if the objects would not fit, with the numbers."""
    free = shutil.disk_usage(folder).free
    if needed + FREE_SPACE_MARGIN > free:
        raise PrerequisiteError(
            f"not enough free disk in {folder} for {what}: needs {format_bytes(needed)} "
            f"(+{format_bytes(FREE_SPACE_MARGIN)} margin), {format_bytes(free)} free; "
            "pass --restore-dir on a larger disk or verify a sample"
        )


def judge(target: RestoreTarget, got: StreamedObject) -> str | None:
    """Why the restored bytes are not the backed-up object, or None when they are."""
    if got.size != got.content_length:
        return f"truncated: read {got.size} of {got.content_length} bytes"
    if got.size != target.expected_size:
        return f"size {got.size} bytes, expected {target.expected_size}"
    if target.expected_sha256 is not None and got.sha256 != target.expected_sha256:
        return (
            f"sha256 {got.sha256[:16]}... differs from the manifest's "
            f"{target.expected_sha256[:16]}..."
        )
    if got.s3_sha256 is not None:
        try:
            stored = b64decode(got.s3_sha256, validate=True).hex()
        except ValueError:
            return "S3 returned a malformed ChecksumSHA256"
        if stored != got.sha256:
            return "sha256 differs from the ChecksumSHA256 S3 stored for the object"
    return None


def restore_one(
    client: S3Client,
    *,
    bucket: str,
    target: RestoreTarget,
    root_fd: int,
    deadline: Deadline,
    part_concurrency: int = 1,
    signed: SignedGetter | None = None,
) -> ObjectCheck:
    """Restore and judge one object; `part_concurrency` > 1 fetches a large one in parts.

    With `signed`, GETs go through it instead of botocore (same checks, less CPU).
    """
    if deadline.expired():
        return ObjectCheck(target.relative_key, problem="not checked: the time budget ran out")
    try:
        parts = key_components(target.relative_key)
    except UnsafeKeyError as err:
        return ObjectCheck(target.relative_key, problem=f"refused, unsafe key: {err}")
    try:
        fd = create_restore_file(root_fd, parts)
    except OSError as err:
        return ObjectCheck(
            target.relative_key,
            problem=f"cannot create the local file ({err.strerror}); it clashes with another key",
        )
    try:
        if part_concurrency > 1 and target.expected_size >= RANGED_MIN_BYTES:
            got = stream_ranged(client, bucket=bucket, key=target.key, fd=fd,
                                concurrency=part_concurrency, deadline=deadline, signed=signed)
        elif signed is not None:
            got = signed.stream_with_retries(
                bucket=bucket, key=target.key, fd=fd, deadline=deadline
            )
        else:
            got = stream_with_retries(
                client, bucket=bucket, key=target.key, fd=fd, deadline=deadline
            )
    except FlexibleChecksumError:
        return ObjectCheck(
            target.relative_key,
            problem="the bytes received do not match the checksum S3 stored for the object, "
            "also after retrying",
        )
    except BROKEN_STREAM as err:
        return ObjectCheck(
            target.relative_key,
            problem=f"download broke off and was not completed: {describe_error(err)}",
        )
    except S3_ERRORS as err:
        if is_fatal(err):
            raise
        if error_code(err) in ("NoSuchKey", "404"):
            return ObjectCheck(target.relative_key, problem="vanished from the bucket")
        return ObjectCheck(target.relative_key, problem=f"GET failed: {describe_error(err)}")
    except OSError as err:
        if err.errno in _DISK_FULL:
            # Space is reserved before a file is mapped (posix_fallocate), so a full disk is
            # this error, never a SIGBUS; no other object would fare better.
            raise PrerequisiteError(
                f"the restore folder's disk filled up while restoring {target.relative_key} "
                f"({err.strerror}); pass --restore-dir on a larger disk or verify a sample"
            ) from err
        raise
    finally:
        os.close(fd)
    return ObjectCheck(target.relative_key, bytes_read=got.size, problem=judge(target, got))


def restore_objects(
    client: S3Client,
    *,
    endpoint: S3Endpoint,
    bucket: str,
    targets: Sequence[RestoreTarget],
    folder: Path,
    concurrency: int,
    deadline: Deadline,
) -> list[ObjectCheck]:
    """Restore `targets` into `folder` with `concurrency` parallel downloads.

    Large objects go one after the other, each fetched in `concurrency` parallel parts;
    the others go `concurrency` at a time, through a `SignedGetter` when the client allows.
    """
    signed = SignedGetter.for_client(client, endpoint=endpoint)
    root_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    large = [t for t in targets if t.expected_size >= RANGED_MIN_BYTES and concurrency > 1]
    small = [t for t in targets if t.expected_size < RANGED_MIN_BYTES or concurrency == 1]
    checks: list[ObjectCheck] = []
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="drdrill-restore")
    try:
        checks += [
            restore_one(client, bucket=bucket, target=t, root_fd=root_fd, deadline=deadline,
                        part_concurrency=concurrency, signed=signed)
            for t in large
        ]
        futures: list[Future[ObjectCheck]] = [
            pool.submit(
                restore_one, client, bucket=bucket, target=t, root_fd=root_fd,
                deadline=deadline, signed=signed,
            )
            for t in small
        ]
        for future in as_completed(futures):
            checks.append(future.result())
    except BaseException:
        # Interrupted (or a fatal error): end the GETs in flight instead of waiting out their
        # read timeouts and retries, then wait for the workers (they write into root_fd).
        if signed is not None:
            signed.abort()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        os.close(root_fd)
        if signed is not None:
            signed.close()
    return sorted(checks, key=lambda c: c.relative_key)
