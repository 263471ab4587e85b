"""The merge-join of a sorted manifest and a sorted listing gives what the in-memory comparison
(`setcheck._targets`) gives, and refuses to guess when a side is not sorted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drdrill.backups.checks import RestoreTarget
from drdrill.backups.manifest import Manifest, ManifestEntry
from drdrill.backups.mergejoin import EXTRA, MISSING, Listed, NotSorted, Problem, merge_join
from drdrill.backups.setcheck import Listing, _targets

SHA = "b" * 64


def _entry(key: str, size: int = 1) -> ManifestEntry:
    return ManifestEntry(key=key, size=size, sha256=SHA)


def _split(
    steps: list[RestoreTarget | Problem],
) -> tuple[list[RestoreTarget], list[tuple[str, str]]]:
    targets = [s for s in steps if isinstance(s, RestoreTarget)]
    problems = [(s.key, s.text) for s in steps if isinstance(s, Problem)]
    return targets, problems


def test_missing_extra_and_size_mismatch() -> None:
    entries = [_entry("a"), _entry("b", 5), _entry("c"), _entry("e")]
    listed = [Listed("a", 1), Listed("b", 4), Listed("d", 9), Listed("e", 1), Listed("f", 2)]
    targets, problems = _split(list(merge_join(entries, listed, prefix="p/")))
    assert [(t.key, t.relative_key, t.expected_size, t.expected_sha256) for t in targets] == [
        ("p/a", "a", 1, SHA), ("p/e", "e", 1, SHA)]
    assert problems == [
        ("b", "size 4 bytes in the bucket, manifest says 5"),
        ("c", MISSING),
        ("d", EXTRA),
        ("f", EXTRA),
    ]


@pytest.mark.parametrize(
    ("key", "why"),
    [("../etc/passwd", "'..' path component"), ("/abs", "starts with '/'"),
     ("a\x00b", "NUL or control"), ("a\\b", "backslash"), ("x//y", "'empty' path component")],
)
def test_hostile_keys_are_refused_whether_listed_or_not(key: str, why: str) -> None:
    listed_too = _split(list(merge_join([_entry(key)], [Listed(key, 1)], prefix="")))
    only_manifest = _split(list(merge_join([_entry(key)], [], prefix="")))
    for targets, problems in (listed_too, only_manifest):
        assert targets == []
        assert len(problems) == 1
        assert problems[0][0] == key
        assert problems[0][1].startswith("refused, unsafe key:")
        assert why in problems[0][1]


@pytest.mark.parametrize(
    ("entries", "listed"),
    [
        ([_entry("b"), _entry("a")], [Listed("a", 1), Listed("b", 1)]),
        ([_entry("a"), _entry("a")], [Listed("a", 1)]),
        ([_entry("a"), _entry("b")], [Listed("b", 1), Listed("a", 1)]),
    ],
    ids=["manifest-unsorted", "manifest-duplicate", "listing-unsorted"],
)
def test_a_side_out_of_order_raises_not_sorted(
    entries: list[ManifestEntry], listed: list[Listed]
) -> None:
    with pytest.raises(NotSorted, match="not sorted by key"):
        list(merge_join(entries, listed, prefix=""))


def test_streams_are_consumed_lazily() -> None:
    """One item of each side at a time: a million-key stream is never materialised."""
    pulled: list[str] = []

    def entries() -> object:
        for i in range(10**9):
            pulled.append(f"m{i}")
            yield _entry(f"k{i:012d}")

    def listed() -> object:
        for i in range(10**9):
            yield Listed(f"k{i:012d}", 1)

    joined = merge_join(entries(), listed(), prefix="")  # type: ignore[arg-type]
    first = [next(joined) for _ in range(3)]
    assert all(isinstance(s, RestoreTarget) for s in first)
    assert len(pulled) <= 4


KEYS = st.text(alphabet=st.sampled_from("ab/é\u00ff\u4e2d\U0001f600"), min_size=1, max_size=4)


@given(
    manifest=st.dictionaries(KEYS, st.integers(0, 3), max_size=12),
    listing=st.dictionaries(KEYS, st.integers(0, 3), max_size=12),
)
def test_same_answer_as_the_in_memory_comparison(
    manifest: dict[str, int], listing: dict[str, int]
) -> None:
    entries = {k: _entry(k, v) for k, v in manifest.items()}
    old_targets, old_problems = _targets(
        prefix="p/", listed=Listing("p/", dict(listing)),
        manifest=Manifest(created_at=datetime(2026, 1, 1, tzinfo=UTC), entries=entries),
    )
    # S3's order is UTF-8 binary order; it must be the order the join expects.
    ordered_listing = sorted(listing.items(), key=lambda kv: kv[0].encode("utf-8"))
    joined = list(merge_join(sorted(entries.values(), key=lambda e: e.key),
                             [Listed(k, v) for k, v in ordered_listing], prefix="p/"))
    targets, problems = _split(joined)
    assert sorted(targets, key=lambda t: t.key) == sorted(old_targets, key=lambda t: t.key)
    assert sorted(problems) == sorted(old_problems)
