"""The streamed manifest reader yields what the whole parse gives, and gives up (so the whole
parse decides) on everything the whole parse would refuse."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from drdrill.backups.manifest import ManifestEntry, ManifestError, parse_manifest, render_manifest
from drdrill.backups.manifest_stream import NotStreamable, OutOfTime, StreamedManifest
from drdrill.timing import Deadline

SHA = "c" * 64
GOOD = {"format": "drdrill-manifest/v1", "createdAt": "2026-11-27T03:00:00Z",
        "algorithm": "sha256", "entries": [{"key": "a", "size": 3, "sha256": SHA}]}


def _read(data: bytes) -> tuple[list[ManifestEntry], datetime]:
    manifest = StreamedManifest(io.BytesIO(data), deadline=None, what="m.json")
    entries = list(manifest.entries())
    return entries, manifest.finish()


def test_what_render_manifest_writes_streams_back_sorted() -> None:
    written = [ManifestEntry(k, i, SHA) for i, k in enumerate(["b/x", "a", "é", "Z", "a/b"])]
    data = render_manifest(created_at=datetime(2026, 1, 2, tzinfo=UTC), entries=written)
    entries, created = _read(data)
    whole = parse_manifest(data)
    assert entries == list(whole.entries.values())
    assert [e.key for e in entries] == sorted(e.key for e in written)
    assert created == whole.created_at


def test_header_after_the_entries_is_read_by_finish() -> None:
    doc = {"entries": GOOD["entries"], "algorithm": "sha256", "format": "drdrill-manifest/v1",
           "createdAt": "2026-11-27T04:00:00+01:00"}
    entries, created = _read(json.dumps(doc).encode())
    assert [e.key for e in entries] == ["a"]
    assert created == parse_manifest(json.dumps(doc).encode()).created_at


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        json.dumps({**GOOD, "format": "other"}).encode(),
        json.dumps({**GOOD, "extra": 1}).encode(),
        json.dumps({**GOOD, "createdAt": "2026-11-27T03:00:00"}).encode(),
        json.dumps({**GOOD, "entries": [{"key": "a", "size": 1.0, "sha256": SHA}]}).encode(),
        json.dumps({**GOOD, "entries": [{"key": "a", "size": True, "sha256": SHA}]}).encode(),
        json.dumps({**GOOD, "entries": [{"key": "a", "size": -1, "sha256": SHA}]}).encode(),
        json.dumps({**GOOD, "entries": [{"key": "", "size": 1, "sha256": SHA}]}).encode(),
        json.dumps({**GOOD, "entries": [{"key": "a", "size": 1, "sha256": "A" * 64}]}).encode(),
        json.dumps({**GOOD, "entries": [{"key": "a", "size": 1}]}).encode(),
        b'{"format": "drdrill-manifest/v1", "format": "drdrill-manifest/v1", "entries": []}',
        b'{"entries": [{"key": "a", "key": "b", "size": 1, "sha256": "' + SHA.encode() + b'"}]}',
        json.dumps(GOOD).encode() + b" {}",
        json.dumps(GOOD).encode()[:-3],
    ],
    ids=["not-json", "array", "format", "unknown-field", "naive-time", "float-size",
         "bool-size", "negative-size", "empty-key", "upper-hex", "no-sha", "dup-top-key",
         "dup-entry-key", "trailing-data", "truncated"],
)
def test_what_the_whole_parse_refuses_is_not_streamed(data: bytes) -> None:
    with pytest.raises(ManifestError):
        parse_manifest(data)
    with pytest.raises(NotStreamable):
        _read(data)


def test_an_expired_deadline_stops_the_read() -> None:
    manifest = StreamedManifest(io.BytesIO(json.dumps(GOOD).encode()),
                                deadline=Deadline.after(0), what="m.json")
    with pytest.raises(OutOfTime, match=r"m\.json not read within the phase budget"):
        list(manifest.entries())
