"""What a restored object is judged by, whichever engine fetched it.

One place says when restored bytes are the backed-up object (size, the manifest's sha256,
S3's ChecksumSHA256) and what an error while fetching one means for the drill: a problem of
that key, or a reason to stop (credentials refused, endpoint unreachable, disk full).
"""

from __future__ import annotations

import errno
from base64 import b64decode
from dataclasses import dataclass

from botocore.exceptions import FlexibleChecksumError

from drdrill.backups.keys import UnsafeKeyError, create_restore_file, key_components
from drdrill.backups.s3client import S3_ERRORS, describe_error, error_code, is_fatal
from drdrill.backups.streaming import BROKEN_STREAM, StreamedObject
from drdrill.errors import PrerequisiteError
from drdrill.timing import Deadline

_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


# The problem of an object the restore did not reach before the deadline.
OUT_OF_TIME = "not checked: the time budget ran out"


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
    engine: str = ""  # what fetched it: obstore, signed-http, botocore, ranged-...

    @property
    def verified(self) -> bool:
        return self.problem is None


def restore_refusal(target: RestoreTarget, *,
                    deadline: Deadline) -> ObjectCheck | tuple[str, ...]:
    """The key's path components below the restore folder, or the check that says why it is
    not restored: the budget ran out, or the key is unsafe."""
    if deadline.expired():
        return ObjectCheck(target.relative_key, problem=OUT_OF_TIME)
    try:
        return key_components(target.relative_key)
    except UnsafeKeyError as err:
        return ObjectCheck(target.relative_key, problem=f"refused, unsafe key: {err}")


def create_or_refuse(target: RestoreTarget, parts: tuple[str, ...], *,
                     root_fd: int) -> int | ObjectCheck:
    """The new local file (created under `root_fd`, never following a link or reusing a
    file), or the check that says it clashes with another key."""
    try:
        return create_restore_file(root_fd, parts)
    except OSError as err:
        return ObjectCheck(
            target.relative_key,
            problem=f"cannot create the local file ({err.strerror}); it clashes with another key",
        )


def open_restore_file(target: RestoreTarget, *, root_fd: int,
                      deadline: Deadline) -> int | ObjectCheck:
    """The new local file for `target`, or the check that says why it is not restored."""
    parts = restore_refusal(target, deadline=deadline)
    if isinstance(parts, ObjectCheck):
        return parts
    return create_or_refuse(target, parts, root_fd=root_fd)


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


def problem_of(target: RestoreTarget, err: BaseException) -> str:
    """The problem of `target` for an error while fetching it, or raise what ends the drill.

    Fatal S3 errors are raised as they are; a full disk as PrerequisiteError (space is
    reserved before a file is mapped, so it is this error, never a SIGBUS); anything unknown
    is raised too.
    """
    if isinstance(err, FlexibleChecksumError):
        return ("the bytes received do not match the checksum S3 stored for the object, "
                "also after retrying")
    if isinstance(err, BROKEN_STREAM):
        return f"download broke off and was not completed: {describe_error(err)}"
    if isinstance(err, S3_ERRORS):
        if is_fatal(err):
            raise err
        if error_code(err) in ("NoSuchKey", "404"):
            return "vanished from the bucket"
        return f"GET failed: {describe_error(err)}"
    if isinstance(err, OSError) and err.errno in _DISK_FULL:
        raise PrerequisiteError(
            f"the restore folder's disk filled up while restoring {target.relative_key} "
            f"({err.strerror}); pass --restore-dir on a larger disk or verify a sample"
        ) from err
    raise err
