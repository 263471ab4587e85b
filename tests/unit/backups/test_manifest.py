from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from drdrill.backups.manifest import (
    MAX_MANIFEST_BYTES,
    ManifestEntry,
    ManifestError,
    parse_manifest,
    render_manifest,
)

SHA = "a" * 64


def _doc(**overrides: object) -> bytes:
    doc: dict[str, object] = {
        "format": "drdrill-manifest/v1",
        "createdAt": "2026-11-27T03:00:00Z",
        "algorithm": "sha256",
        "entries": [{"key": "m/model.bin", "size": 3, "sha256": SHA}],
    }
    doc.update(overrides)
    return json.dumps(doc).encode()


def test_round_trip() -> None:
    entries = [ManifestEntry("b", 2, "b" * 64), ManifestEntry("a", 1, SHA)]
    created = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    parsed = parse_manifest(render_manifest(created_at=created, entries=entries))
    assert parsed.created_at == created
    assert list(parsed.entries) == ["a", "b"]
    assert parsed.entries["b"] == ManifestEntry("b", 2, "b" * 64)


def test_empty_manifest_renders_valid_json() -> None:
    parsed = parse_manifest(render_manifest(created_at=datetime.now(UTC), entries=[]))
    assert parsed.entries == {}


def test_valid_document() -> None:
    manifest = parse_manifest(_doc())
    assert manifest.entries["m/model.bin"].size == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (_doc(format="other/v9"), "format"),
        (_doc(algorithm="md5"), "algorithm"),
        (_doc(createdAt="2026-11-27T03:00:00"), "createdAt"),
        (_doc(createdAt="yesterday"), "createdAt"),
        (_doc(entries=[{"key": "a", "size": 10**16, "sha256": SHA}]), "size"),
        (_doc(entries=[{"key": "a", "size": -1, "sha256": SHA}]), "size"),
        (_doc(entries=[{"key": "a", "size": "3", "sha256": SHA}]), "size"),
        (_doc(entries=[{"key": "a", "size": 3, "sha256": "xyz"}]), "sha256"),
        (_doc(entries=[{"key": "a", "size": 3, "sha256": SHA, "extra": 1}]), "extra"),
        (_doc(entries=[{"key": "a", "size": 1, "sha256": SHA}] * 2), "listed twice"),
        (b'{"format": "drdrill-manifest/v1", "format": "x"}', "duplicate JSON key"),
    ],
)
def test_bad_manifests_fail_with_one_line(data: bytes, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_oversized_manifest_is_refused_before_parsing() -> None:
    with pytest.raises(ManifestError, match="larger than"):
        parse_manifest(b" " * (MAX_MANIFEST_BYTES + 1))
