"""Restore objects into a scratch folder as streams, hashing while they arrive.

An object is never held whole in memory: it is read in chunks, each chunk hashed and written.
A download that breaks off mid-way is started again from scratch (the whole object, a few
times, with backoff), and so are throttling and 5xx. Whatever happens, a
short, long or altered object ends as a problem for that key, never as a pass.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from drdrill.backups.checks import ObjectCheck, RestoreTarget, judge, open_restore_file, problem_of
from drdrill.backups.obstore_get import ObstoreGetter
from drdrill.backups.ranged import RANGED_MIN_BYTES, stream_ranged
from drdrill.backups.s3client import S3Client, S3Endpoint
from drdrill.backups.signed_get import SignedGetter
from drdrill.backups.streaming import stream_with_retries
from drdrill.errors import BadInputError, PrerequisiteError
from drdrill.timing import Deadline

__all__ = ["ObjectCheck", "RestoreTarget", "judge", "restore_objects"]

# "auto": obstore for whole objects with a manifest sha256 (the fastest measured), today's
# signed http.client GETs (or botocore) for the rest; "http": never obstore.
Engine = Literal["auto", "http"]
# Called with (objects, bytes) as each object is judged.
Progress = Callable[[int, int], None]
# Room left on the disk beyond the objects themselves.
FREE_SPACE_MARGIN = 64 * 1024 * 1024


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
    fd = open_restore_file(target, root_fd=root_fd, deadline=deadline)
    if isinstance(fd, ObjectCheck):
        return fd
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
    except Exception as err:  # judged (or re-raised) by problem_of
        return ObjectCheck(target.relative_key, problem=problem_of(target, err))
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
    engine: Engine = "auto",
    progress: Progress | None = None,
) -> list[ObjectCheck]:
    """Restore `targets` into `folder` with `concurrency` parallel downloads.

    Large objects go one after the other, each fetched in `concurrency` parallel parts.
    Whole objects with a manifest sha256 go through obstore (`engine="auto"`), the others
    `concurrency` at a time through a `SignedGetter` when the client allows, else botocore.
    Each check names the engine that fetched it; `progress` hears of every object judged.
    """
    signed = SignedGetter.for_client(client, endpoint=endpoint)
    config: Any = client.meta.config
    fast = (ObstoreGetter.for_endpoint(endpoint, endpoint_url=client.meta.endpoint_url,
                                       read_timeout=float(config.read_timeout))
            if engine == "auto" else None)
    root_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    large = [t for t in targets if t.expected_size >= RANGED_MIN_BYTES and concurrency > 1]
    whole = [t for t in targets if t.expected_size < RANGED_MIN_BYTES or concurrency == 1]
    by_obstore = [t for t in whole if fast is not None and t.expected_sha256 is not None]
    small = [t for t in whole if fast is None or t.expected_sha256 is None]
    http_engine = "signed-http" if signed is not None else "botocore"
    checks: list[ObjectCheck] = []
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="drdrill-restore")

    def judged(check: ObjectCheck, name: str) -> ObjectCheck:
        if progress is not None:
            progress(1, check.bytes_read)
        return replace(check, engine=name)

    try:
        checks += [
            judged(restore_one(client, bucket=bucket, target=t, root_fd=root_fd,
                               deadline=deadline, part_concurrency=concurrency, signed=signed),
                   f"ranged-{http_engine}")
            for t in large
        ]
        if fast is not None and by_obstore:
            checks += [replace(c, engine=fast.name) for c in fast.restore(
                bucket=bucket, targets=by_obstore, root_fd=root_fd, concurrency=concurrency,
                deadline=deadline, progress=progress)]
        futures: list[Future[ObjectCheck]] = [
            pool.submit(
                restore_one, client, bucket=bucket, target=t, root_fd=root_fd,
                deadline=deadline, signed=signed,
            )
            for t in small
        ]
        for future in as_completed(futures):
            checks.append(judged(future.result(), http_engine))
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
