"""The parts of SOPS' MAC that are easy to get wrong: how values become bytes (Go's
formatting), the `lastmodified` additional data, and YAML read as SOPS reads it."""

from __future__ import annotations

import pytest

from drdrill.keys.sops import _go_bytes, _rfc3339, load_documents


@pytest.mark.parametrize(("value", "expected"), [
    (True, b"True"), (False, b"False"), (42, b"42"), (1.0, b"1"), (1.5, b"1.5"),
    (1e20, b"100000000000000000000"), (0.0001, b"0.0001"), ("x", b"x"),
])
def test_values_hash_as_sops_formats_them(value: object, expected: bytes) -> None:
    assert _go_bytes(value) == expected


@pytest.mark.parametrize(("stored", "expected"), [
    ("2026-11-30T12:00:00Z", "2026-11-30T12:00:00Z"),
    ("2026-11-30T12:00:00.123456Z", "2026-11-30T12:00:00Z"),
    ("2026-11-30T13:00:00+01:00", "2026-11-30T13:00:00+01:00"),
])
def test_lastmodified_as_go_prints_it(stored: str, expected: str) -> None:
    assert _rfc3339(stored) == expected


def test_yaml_read_as_sops_reads_it() -> None:
    [doc] = load_documents(b"a: yes\nb: true\nc: 2026-11-30\nd: 3\n")
    assert doc == {"a": "yes", "b": True, "c": "2026-11-30", "d": 3}
