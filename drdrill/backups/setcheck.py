"""Check one backup set end to end: list it, read its manifest, measure its age, restore it.

The listing and the manifest are compared in full (cheap: metadata only), so objects missing
from the bucket and objects the manifest does not know are found even when only a sample is
restored. Fatal S3 errors (credentials, unreachable endpoint) are raised; everything else
that is wrong with the set ends up in its `BackupResult.failures`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from drdrill.backups.keys import safe_key_problem
from drdrill.backups.manifest import MAX_MANIFEST_BYTES, Manifest, ManifestError, parse_manifest
from drdrill.backups.progress_bar import restore_progress
from drdrill.backups.restore import (
    RestoreTarget,
    check_free_space,
    restore_objects,
)
from drdrill.backups.s3client import (
    S3_ERRORS,
    S3Client,
    S3Endpoint,
    describe_error,
    error_code,
    raise_if_fatal,
)
from drdrill.backups.sampling import choose_sample, new_seed, sample_size
from drdrill.logs import redact_text
from drdrill.results import BackupFailure, BackupResult
from drdrill.scenario.models import BackupSet, VerifySample
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)

MAX_REPORTED_FAILURES = 200
CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class Listing:
    """The objects under a prefix: relative key -> size, and the newest LastModified.

    Only what the checks need is kept (no per-object time or full key): a million keys take
    about half the memory of a record per object.
    """

    prefix: str
    sizes: dict[str, int] = field(default_factory=dict)
    newest: datetime | None = None

    def key(self, relative: str) -> str:
        return self.prefix + relative

    def __len__(self) -> int:
        return len(self.sizes)

    def __contains__(self, relative: object) -> bool:
        return relative in self.sizes

    def __iter__(self) -> Iterator[str]:
        return iter(self.sizes)


@dataclass(frozen=True)
class SetCatalog:
    """What the reference matcher needs to know about a checked set."""

    name: str
    bucket: str
    prefix: str
    verified: bool
    keys: frozenset[str] = field(default_factory=frozenset)
    # Keys whose object was downloaded and matched; None: every key (a full, verified set).
    # In a sampled set, a key the sample left out was never read, so it proves nothing.
    verified_keys: frozenset[str] | None = None

    def was_verified(self, key: str) -> bool:
        return self.verified and (self.verified_keys is None or key in self.verified_keys)


class _SetUnusable(Exception):
    """The set cannot be checked further; the message is its one failure."""


def folder_prefix(prefix: str) -> str:
    """A set's prefix is a folder: `models` and `models/` both mean `models/`."""
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


class _OutOfTime(Exception):
    """The listing or the manifest did not finish within the phase's deadline."""


def list_set(client: S3Client, *, bucket: str, prefix: str, deadline: Deadline | None = None,
             exclude: str | None = None) -> Listing:
    """Every object under `prefix` but `exclude` (a full key); folder markers are left out.

    Page by page (1,000 keys each), never past `deadline`: a bucket of millions of keys ends
    as a clear failure of the set when the budget runs out, not as a phase that overruns it.
    """
    listed = Listing(prefix)
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key, size = item["Key"], int(item["Size"])
            if (key.endswith("/") and size == 0) or key == exclude:
                continue
            listed.sizes[key[len(prefix):]] = size
            modified = item["LastModified"]
            if listed.newest is None or modified > listed.newest:
                listed.newest = modified
        if deadline is not None and deadline.expired():
            raise _OutOfTime(f"listing s3://{bucket}/{prefix} did not finish within the phase "
                             f"budget ({len(listed)} objects listed so far)")
    return listed


def read_manifest(client: S3Client, *, bucket: str, key: str,
                  deadline: Deadline | None = None) -> Manifest:
    """GET and parse the manifest, reading at most MAX_MANIFEST_BYTES from the stream, in
    chunks, and never past `deadline`."""
    response: Any = client.get_object(Bucket=bucket, Key=key)
    body = response["Body"]
    chunks: list[bytes] = []
    read = 0
    try:
        if int(response.get("ContentLength", 0)) > MAX_MANIFEST_BYTES:
            raise ManifestError(f"larger than {MAX_MANIFEST_BYTES} bytes")
        while read <= MAX_MANIFEST_BYTES:
            chunk = body.read(min(1024 * 1024, MAX_MANIFEST_BYTES + 1 - read))
            if not chunk:
                break
            chunks.append(chunk)
            read += len(chunk)
            if deadline is not None and deadline.expired():
                raise _OutOfTime(f"manifest {key} not read within the phase budget "
                                 f"({read} bytes so far)")
    finally:
        body.close()
    return parse_manifest(b"".join(chunks))


def _failures(problems: Iterable[tuple[str, str]]) -> list[BackupFailure]:
    ordered = sorted(problems)
    kept = [BackupFailure(key=redact_text(k), problem=redact_text(p)) for k, p in ordered]
    if len(kept) > MAX_REPORTED_FAILURES:
        more = len(kept) - MAX_REPORTED_FAILURES
        kept = [*kept[:MAX_REPORTED_FAILURES], BackupFailure(key="", problem=f"and {more} more")]
    return kept


def _targets(
    *, prefix: str, listed: Listing, manifest: Manifest | None
) -> tuple[list[RestoreTarget], list[tuple[str, str]]]:
    """What can be restored, and the problems found by comparing listing and manifest."""
    if manifest is None:
        return [RestoreTarget(listed.key(k), k, size) for k, size in listed.sizes.items()], []
    problems: list[tuple[str, str]] = []
    targets: list[RestoreTarget] = []
    for key, entry in manifest.entries.items():
        found = listed.sizes.get(key)
        unsafe = safe_key_problem(key)
        if unsafe is not None:
            problems.append((key, f"refused, unsafe key: {unsafe}"))
        elif found is None:
            problems.append((key, "listed in the manifest but missing from the bucket"))
        elif found != entry.size:
            problems.append(
                (key, f"size {found} bytes in the bucket, manifest says {entry.size}")
            )
        else:
            targets.append(RestoreTarget(prefix + key, key, entry.size, entry.sha256))
    problems.extend(
        (key, "in the bucket but not in the manifest")
        for key in listed
        if key not in manifest.entries
    )
    return targets, problems


def with_referenced(all_targets: list[RestoreTarget], chosen: set[str],
                    referenced: Sequence[str]) -> set[str]:
    """The sample, plus every target that a Git reference points at (the object itself or
    what lies under its folder): a reference counts only once its objects were read."""
    extra = {
        t.relative_key for t in all_targets
        for ref in referenced
        if t.key == ref or (ref and t.key.startswith(ref.rstrip("/") + "/"))
    }
    return chosen | extra


def check_backup_set(
    client: S3Client,
    *,
    backup_set: BackupSet,
    endpoint: S3Endpoint,
    rpo_seconds: float | None,
    folder: Path,
    deadline: Deadline,
    now: datetime,
    referenced: Sequence[str] = (),
    progress_bar: bool = False,
) -> tuple[BackupResult, SetCatalog]:
    """Freshness and integrity of one set; `folder` is created and restored into.

    Raises PrerequisiteError when the objects would not fit on the disk (nothing is
    downloaded then) or S3 refuses the credentials, InfrastructureError when it is unreachable.
    `referenced` are keys of this bucket that Git points at: a sample always includes them.
    With `progress_bar`, a terminal on stderr shows the restore's progress.
    """
    bucket, prefix = backup_set.bucket, folder_prefix(backup_set.prefix)
    sample = backup_set.verify if isinstance(backup_set.verify, VerifySample) else None
    seed = None if sample is None else (sample.seed if sample.seed is not None else new_seed())
    base: dict[str, Any] = {
        "name": backup_set.name, "bucket": bucket, "prefix": backup_set.prefix,
        "holds": backup_set.holds, "rpo_seconds": rpo_seconds, "sample_seed": seed,
    }
    listed = Listing(prefix)
    try:
        try:
            listed = list_set(client, bucket=bucket, prefix=prefix, deadline=deadline,
                              exclude=backup_set.manifest_key)
            manifest = None
            if backup_set.manifest_key:
                manifest = read_manifest(client, bucket=bucket, key=backup_set.manifest_key,
                                         deadline=deadline)
        except S3_ERRORS as err:
            raise_if_fatal(err, endpoint=endpoint, bucket=bucket)
            if error_code(err) == "NoSuchBucket":
                raise _SetUnusable(f"bucket {bucket} does not exist") from err
            if error_code(err) in ("NoSuchKey", "404"):
                raise _SetUnusable(f"manifest {backup_set.manifest_key} not found") from err
            raise _SetUnusable(f"cannot read the set: {describe_error(err)}") from err
        except ManifestError as err:
            raise _SetUnusable(f"manifest {backup_set.manifest_key} is unusable: {err}") from err
        except _OutOfTime as err:
            raise _SetUnusable(str(err)) from err
    except _SetUnusable as unusable:
        result = BackupResult(**base, failures=_failures([("", str(unusable))]))
        return result, SetCatalog(backup_set.name, bucket, prefix, False, frozenset(listed.sizes),
                                  frozenset())

    problems: list[tuple[str, str]] = []
    newest = manifest.created_at if manifest else listed.newest
    age = None if newest is None else (now - newest).total_seconds()
    if newest is not None and newest > now + CLOCK_SKEW:
        problems.append(("", f"backup time {newest.isoformat()} lies in the future"))
    targets, listing_problems = _targets(prefix=prefix, listed=listed, manifest=manifest)
    problems.extend(listing_problems)
    if not listed and not (manifest and manifest.entries):
        problems.append(("", f"no objects under s3://{bucket}/{prefix}"))
    if sample is not None and seed is not None:
        size = sample_size(len(targets), count=sample.count, percent=sample.percent)
        chosen = set(choose_sample((t.relative_key for t in targets), size=size, seed=seed))
        chosen = with_referenced(targets, chosen, referenced)
        targets = [t for t in targets if t.relative_key in chosen]

    folder.mkdir(mode=0o700)
    needed = sum(t.expected_size for t in targets)
    check_free_space(folder, needed=needed, what=f"backup set {backup_set.name}")
    started = time.monotonic()
    try:
        with restore_progress(name=backup_set.name, objects=len(targets), total_bytes=needed,
                              enabled=progress_bar) as progress:
            checks = restore_objects(
                client, endpoint=endpoint, bucket=bucket, targets=targets, folder=folder,
                concurrency=endpoint.max_concurrency, deadline=deadline, progress=progress,
            )
    except S3_ERRORS as err:
        raise_if_fatal(err, endpoint=endpoint, bucket=bucket)
        raise
    restore_seconds = time.monotonic() - started
    problems.extend((c.relative_key, c.problem) for c in checks if c.problem is not None)
    verified = not problems
    bytes_checked = sum(c.bytes_read for c in checks)
    result = BackupResult(
        **base,
        objects_checked=sum(1 for c in checks if c.bytes_read or c.verified),
        bytes_checked=bytes_checked,
        restore_seconds=round(restore_seconds, 3),
        bytes_per_second=round(bytes_checked / restore_seconds, 1) if restore_seconds else None,
        engine="+".join(sorted({c.engine for c in checks if c.engine})),
        verified=verified,
        age_seconds=None if age is None else round(age, 3),
        rpo_met=age is not None and (rpo_seconds is None or age <= rpo_seconds),
        newest_backup_at=newest,
        failures=_failures(problems),
    )
    log.info("backup set checked", set=backup_set.name, objects=len(checks),
             bytes=bytes_checked, restore_seconds=result.restore_seconds,
             engine=result.engine, verified=verified, age_seconds=result.age_seconds,
             failures=len(problems))
    verified_keys = frozenset(c.relative_key for c in checks if c.verified)
    return result, SetCatalog(backup_set.name, bucket, prefix, verified, frozenset(listed.sizes),
                              verified_keys)
