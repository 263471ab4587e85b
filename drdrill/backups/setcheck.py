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
from drdrill.backups.manifest import (
    MAX_MANIFEST_BYTES,
    Manifest,
    ManifestEntry,
    ManifestError,
    parse_manifest,
)
from drdrill.backups.manifest_stream import NotStreamable, OutOfTime, StreamedManifest
from drdrill.backups.mergejoin import Listed, NotSorted, Problem, merge_join
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
from drdrill.backups.sampling import SampleCandidates, choose_sample, new_seed, sample_size
from drdrill.logs import redact_text
from drdrill.results import BackupFailure, BackupResult
from drdrill.scenario.models import BackupSet, VerifySample
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)

MAX_REPORTED_FAILURES = 200
CATALOG_ALL_KEYS = 100_000
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


@dataclass
class ListingStats:
    """What a streamed listing saw besides its keys: how many objects, the newest time."""

    count: int = 0
    newest: datetime | None = None


def iter_listing(client: S3Client, *, bucket: str, prefix: str, stats: ListingStats,
                 deadline: Deadline | None = None, exclude: str | None = None
                 ) -> Iterator[Listed]:
    """Every object under `prefix` but `exclude` (a full key), folder markers left out, in the
    server's order (UTF-8 binary order on S3), one page (1,000 keys) held at a time.

    Never past `deadline`: a bucket of millions of keys ends as a clear failure of the set
    when the budget runs out, not as a phase that overruns it.
    """
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key, size = item["Key"], int(item["Size"])
            if (key.endswith("/") and size == 0) or key == exclude:
                continue
            stats.count += 1
            modified = item["LastModified"]
            if stats.newest is None or modified > stats.newest:
                stats.newest = modified
            yield Listed(key[len(prefix):], size)
        if deadline is not None and deadline.expired():
            raise _OutOfTime(f"listing s3://{bucket}/{prefix} did not finish within the phase "
                             f"budget ({stats.count} objects listed so far)")


def list_set(client: S3Client, *, bucket: str, prefix: str, deadline: Deadline | None = None,
             exclude: str | None = None) -> Listing:
    """Every object under `prefix` but `exclude` held in memory (see `iter_listing`)."""
    listed = Listing(prefix)
    stats = ListingStats()
    for item in iter_listing(client, bucket=bucket, prefix=prefix, stats=stats,
                             deadline=deadline, exclude=exclude):
        listed.sizes[item.relative_key] = item.size
    listed.newest = stats.newest
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


class ProblemLog:
    """Problems of a set: how many, and the first MAX_REPORTED_FAILURES in key order (a set
    whose million objects are all missing does not hold a million messages)."""

    def __init__(self) -> None:
        self.count = 0
        self._kept: list[tuple[str, str]] = []

    def add(self, problem: tuple[str, str]) -> None:
        self.count += 1
        self._kept.append(problem)
        if len(self._kept) > 8 * MAX_REPORTED_FAILURES:
            self._kept = sorted(self._kept)[:MAX_REPORTED_FAILURES]

    def __bool__(self) -> bool:
        return self.count > 0

    def failures(self) -> list[BackupFailure]:
        kept = [BackupFailure(key=redact_text(k), problem=redact_text(p))
                for k, p in sorted(self._kept)[:MAX_REPORTED_FAILURES]]
        if self.count > MAX_REPORTED_FAILURES:
            more = self.count - MAX_REPORTED_FAILURES
            kept.append(BackupFailure(key="", problem=f"and {more} more"))
        return kept


def _relative_references(prefix: str, referenced: Sequence[str]) -> list[str]:
    """Git references under this set, relative to its prefix ("" for the whole set), as the
    reference matcher (`references._holds`) reads them."""
    return [ref[len(prefix):].strip("/") for ref in referenced
            if ref.startswith(prefix) or ref + "/" == prefix]


@dataclass
class _Compared:
    """The manifest compared with the listing: what to restore and what is wrong."""

    referenced: list[str]
    targets: list[RestoreTarget] = field(default_factory=list)
    # Every target that passed the comparison; `targets` may hold only the sample's candidates.
    target_count: int = 0
    candidates: int = 0
    problems: ProblemLog = field(default_factory=ProblemLog)
    listed_count: int = 0
    newest_listed: datetime | None = None
    manifest_entries: int = 0
    created_at: datetime | None = None
    # What the reference matcher learns of the listing: every listed key up to
    # CATALOG_ALL_KEYS, beyond that only those a Git reference given to the check points at
    # (all of them if one points at the whole set). The phase passes every reference into
    # the set's bucket, so the matcher needs no others.
    catalog_keys: set[str] = field(default_factory=set)
    catalog_complete: bool = True

    def reset(self) -> None:
        """Forget a comparison that is being done again (references stay)."""
        fresh = _Compared(referenced=self.referenced)
        self.__dict__.update(fresh.__dict__)

    def _pointed_at(self, relative_key: str) -> bool:
        return any(not ref or relative_key == ref or relative_key.startswith(ref + "/")
                   for ref in self.referenced)

    def note_listed(self, relative_key: str) -> None:
        if self.catalog_complete:
            self.catalog_keys.add(relative_key)
            if len(self.catalog_keys) > CATALOG_ALL_KEYS:
                self.catalog_complete = False
                self.catalog_keys = {k for k in self.catalog_keys if self._pointed_at(k)}
        elif self._pointed_at(relative_key):
            self.catalog_keys.add(relative_key)


def _referenced_target(target: RestoreTarget, referenced: Sequence[str]) -> bool:
    """The target is, or lies under, a key Git points at (as `with_referenced` decides)."""
    return any(target.key == ref or (ref and target.key.startswith(ref.rstrip("/") + "/"))
               for ref in referenced)


def _compare(client: S3Client, *, bucket: str, prefix: str, manifest_key: str | None,
             deadline: Deadline, into: _Compared, referenced_keys: Sequence[str],
             candidates: SampleCandidates | None) -> None:
    """Stream the listing (and the manifest) side by side; if the manifest cannot be read
    entry by entry in key order, compare the two whole instead (the manifest capped at
    MAX_MANIFEST_BYTES), saying so in one line."""
    if manifest_key:
        try:
            _compare_streamed(
                client, bucket=bucket, prefix=prefix, manifest_key=manifest_key,
                deadline=deadline, into=into, referenced_keys=referenced_keys,
                candidates=candidates)
            if candidates is not None and not candidates.enough(kept=into.candidates,
                                                                total=into.target_count):
                # Too few candidates to be sure of the exact sample: again, keeping them all.
                into.reset()
                _compare_streamed(
                    client, bucket=bucket, prefix=prefix, manifest_key=manifest_key,
                    deadline=deadline, into=into, referenced_keys=referenced_keys,
                    candidates=None)
        except (NotSorted, NotStreamable) as why:
            log.warning("manifest compared in memory", manifest=manifest_key,
                        reason=f"{why}; compared whole, up to {MAX_MANIFEST_BYTES} bytes")
        else:
            return
        into.reset()
    compared = into
    listed = list_set(client, bucket=bucket, prefix=prefix, deadline=deadline,
                      exclude=manifest_key)
    for key in listed:
        compared.note_listed(key)
    compared.listed_count, compared.newest_listed = len(listed), listed.newest
    manifest = None
    if manifest_key:
        manifest = read_manifest(client, bucket=bucket, key=manifest_key, deadline=deadline)
        compared.manifest_entries, compared.created_at = len(manifest.entries), manifest.created_at
    targets, problems = _targets(prefix=prefix, listed=listed, manifest=manifest)
    compared.targets, compared.target_count = targets, len(targets)
    for problem in problems:
        compared.problems.add(problem)


def _compare_streamed(client: S3Client, *, bucket: str, prefix: str, manifest_key: str,
                      deadline: Deadline, into: _Compared, referenced_keys: Sequence[str],
                      candidates: SampleCandidates | None) -> None:
    """The merge-join; with `candidates`, only targets that may be in the sample (or that Git
    points at) are kept, the others only counted."""
    compared = into
    prune_at = None if candidates is None or candidates.count is None else (
        4 * candidates.count + 10_000)
    stats = ListingStats()
    try:
        response: Any = client.get_object(Bucket=bucket, Key=manifest_key)
    except S3_ERRORS as err:
        if error_code(err) in ("NoSuchKey", "404"):
            # The reference matcher still learns which keys the (unusable) set holds.
            for item in iter_listing(client, bucket=bucket, prefix=prefix, stats=stats,
                                     deadline=deadline, exclude=manifest_key):
                compared.note_listed(item.relative_key)
        raise
    body = response["Body"]
    try:
        manifest = StreamedManifest(body, deadline=deadline, what=manifest_key)

        def entries() -> Iterator[ManifestEntry]:
            for entry in manifest.entries():
                compared.manifest_entries += 1
                yield entry

        def listed() -> Iterator[Listed]:
            for item in iter_listing(client, bucket=bucket, prefix=prefix, stats=stats,
                                     deadline=deadline, exclude=manifest_key):
                compared.note_listed(item.relative_key)
                yield item

        for step in merge_join(entries(), listed(), prefix=prefix):
            if isinstance(step, Problem):
                compared.problems.add((step.key, step.text))
                continue
            compared.target_count += 1
            candidate = candidates is None or candidates.keep(step.relative_key)
            compared.candidates += candidate
            if candidate or _referenced_target(step, referenced_keys):
                compared.targets.append(step)
            if (prune_at is not None and candidates is not None
                    and len(compared.targets) > prune_at):
                still = candidates.still_kept() or set()
                compared.targets = [t for t in compared.targets if t.relative_key in still
                                    or _referenced_target(t, referenced_keys)]
        compared.created_at = manifest.finish()
    finally:
        body.close()
    compared.listed_count, compared.newest_listed = stats.count, stats.newest


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
    compared = _Compared(referenced=_relative_references(prefix, referenced))
    try:
        try:
            _compare(client, bucket=bucket, prefix=prefix,
                                manifest_key=backup_set.manifest_key, deadline=deadline,
                                into=compared, referenced_keys=referenced,
                                candidates=None if sample is None or seed is None else
                                SampleCandidates(seed=seed, count=sample.count,
                                                 percent=sample.percent))
        except S3_ERRORS as err:
            raise_if_fatal(err, endpoint=endpoint, bucket=bucket)
            if error_code(err) == "NoSuchBucket":
                raise _SetUnusable(f"bucket {bucket} does not exist") from err
            if error_code(err) in ("NoSuchKey", "404"):
                raise _SetUnusable(f"manifest {backup_set.manifest_key} not found") from err
            raise _SetUnusable(f"cannot read the set: {describe_error(err)}") from err
        except ManifestError as err:
            raise _SetUnusable(f"manifest {backup_set.manifest_key} is unusable: {err}") from err
        except (_OutOfTime, OutOfTime) as err:
            raise _SetUnusable(str(err)) from err
    except _SetUnusable as unusable:
        result = BackupResult(**base, failures=_failures([("", str(unusable))]))
        return result, SetCatalog(backup_set.name, bucket, prefix, False,
                                  frozenset(compared.catalog_keys), frozenset())

    problems = compared.problems
    newest = compared.created_at if backup_set.manifest_key else compared.newest_listed
    age = None if newest is None else (now - newest).total_seconds()
    if newest is not None and newest > now + CLOCK_SKEW:
        problems.add(("", f"backup time {newest.isoformat()} lies in the future"))
    targets = compared.targets
    if not compared.listed_count and not compared.manifest_entries:
        problems.add(("", f"no objects under s3://{bucket}/{prefix}"))
    if sample is not None and seed is not None:
        size = sample_size(compared.target_count, count=sample.count, percent=sample.percent)
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
    for c in checks:
        if c.problem is not None:
            problems.add((c.relative_key, c.problem))
    verified = not problems.count
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
        failures=problems.failures(),
    )
    log.info("backup set checked", set=backup_set.name, objects=len(checks),
             bytes=bytes_checked, restore_seconds=result.restore_seconds,
             engine=result.engine, verified=verified, age_seconds=result.age_seconds,
             failures=problems.count)
    verified_keys = frozenset(c.relative_key for c in checks if c.verified)
    return result, SetCatalog(backup_set.name, bucket, prefix, verified,
                              frozenset(compared.catalog_keys), verified_keys)
