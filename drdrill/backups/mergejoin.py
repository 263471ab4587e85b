"""Compare a set's manifest with its listing as two sorted streams, in constant memory.

S3's ListObjectsV2 returns keys in UTF-8 binary order, which is the order of Python's `str`
comparison (code points), and drdrill writes manifests sorted by key (`render_manifest`).
Walking both at once finds every missing object, size mismatch and extra object without
holding either side. A stream that turns out not to be strictly increasing (a manifest
written by hand or by another tool, a server that does not sort, a duplicate entry) raises
`NotSorted`: the caller then compares the two whole (bounded by the manifest size limit)
instead of giving a wrong answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from drdrill.backups.checks import RestoreTarget
from drdrill.backups.keys import safe_key_problem
from drdrill.backups.manifest import ManifestEntry

MISSING = "listed in the manifest but missing from the bucket"
EXTRA = "in the bucket but not in the manifest"


class Listed(NamedTuple):
    """One listed object: its key relative to the set's prefix, and its size."""

    relative_key: str
    size: int


class Problem(NamedTuple):
    key: str
    text: str


class NotSorted(Exception):
    """One of the two streams is not in strictly increasing key order."""


def entry_problem(entry: ManifestEntry, found: int | None) -> str | None:
    """What is wrong with a manifest entry given the size listed for it (None: not listed)."""
    unsafe = safe_key_problem(entry.key)
    if unsafe is not None:
        return f"refused, unsafe key: {unsafe}"
    if found is None:
        return MISSING
    if found != entry.size:
        return f"size {found} bytes in the bucket, manifest says {entry.size}"
    return None


def _checked(stream: Iterable[ManifestEntry], what: str) -> Iterator[ManifestEntry]:
    previous: str | None = None
    for item in stream:
        if previous is not None and item.key <= previous:
            raise NotSorted(f"{what} is not sorted by key ({item.key!r} after {previous!r})")
        previous = item.key
        yield item


def _checked_listing(stream: Iterable[Listed]) -> Iterator[Listed]:
    previous: str | None = None
    for item in stream:
        if previous is not None and item.relative_key <= previous:
            raise NotSorted(f"the listing is not sorted by key ({item.relative_key!r} after "
                            f"{previous!r})")
        previous = item.relative_key
        yield item


def merge_join(
    entries: Iterable[ManifestEntry], listed: Iterable[Listed], *, prefix: str
) -> Iterator[RestoreTarget | Problem]:
    """Targets to restore and problems found, in key order, holding one item of each side.

    Raises NotSorted as soon as either side goes backwards or repeats a key; what was yielded
    before then must be thrown away by the caller.
    """
    manifest_side = _checked(entries, "the manifest")
    listing_side = _checked_listing(listed)
    entry = next(manifest_side, None)
    item = next(listing_side, None)
    while entry is not None or item is not None:
        if item is None or (entry is not None and entry.key < item.relative_key):
            assert entry is not None
            yield Problem(entry.key, entry_problem(entry, None) or MISSING)
            entry = next(manifest_side, None)
        elif entry is None or item.relative_key < entry.key:
            yield Problem(item.relative_key, EXTRA)
            item = next(listing_side, None)
        else:
            problem = entry_problem(entry, item.size)
            if problem is None:
                yield RestoreTarget(prefix + entry.key, entry.key, entry.size, entry.sha256)
            else:
                yield Problem(entry.key, problem)
            entry = next(manifest_side, None)
            item = next(listing_side, None)
