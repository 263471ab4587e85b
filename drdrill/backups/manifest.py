"""The drdrill manifest: what a backup set should contain, written when the backup is taken.

Format `drdrill-manifest/v1`, one JSON document:

    {
      "format": "drdrill-manifest/v1",
      "createdAt": "2026-11-27T03:00:00Z",      # when the backup was taken (ISO 8601, with zone)
      "algorithm": "sha256",
      "entries": [
        {"key": "sklearn/iris/model.joblib", "size": 1234, "sha256": "<64 lowercase hex>"}
      ]
    }

`key` is relative to the set's prefix (the prefix is a folder: `models` and `models/` mean the
same), `size` is in bytes. `createdAt` is what the RPO is measured against. The manifest is
untrusted input: duplicate JSON keys and duplicate entries are refused, and sizes beyond S3's
5 TiB object limit are refused. Entries are written sorted by key (code point order, which is
S3's UTF-8 binary listing order): the set check then reads them one by one
(`manifest_stream`, `mergejoin`) whatever their number; a manifest that is not sorted is
parsed whole here, read with a size cap.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

MANIFEST_FORMAT = "drdrill-manifest/v1"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_OBJECT_BYTES = 5 * 1024**4


class ManifestError(ValueError):
    """The manifest cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class ManifestEntry:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    created_at: datetime
    entries: Mapping[str, ManifestEntry]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    key: Annotated[str, StringConstraints(min_length=1)]
    size: int = Field(ge=0, le=MAX_OBJECT_BYTES)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["drdrill-manifest/v1"]
    created_at: AwareDatetime = Field(alias="createdAt")
    algorithm: Literal["sha256"]
    entries: list[_Entry]


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ManifestError(f"duplicate JSON key {key!r}")
        result[key] = value
    return result


def parse_manifest(data: bytes) -> Manifest:
    """Parse and validate manifest bytes; every problem becomes a one-line `ManifestError`."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        raw = json.loads(data, object_pairs_hook=_no_duplicate_keys)
    except ManifestError:
        raise
    except (ValueError, RecursionError) as err:
        raise ManifestError(f"not JSON ({type(err).__name__})") from err
    if not isinstance(raw, dict):
        raise ManifestError("not a JSON object")
    if raw.get("format") != MANIFEST_FORMAT:
        raise ManifestError(f"format is not {MANIFEST_FORMAT!r}")
    try:
        document = _Document.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise ManifestError(f"invalid at {where}: {first['msg']}") from err
    entries: dict[str, ManifestEntry] = {}
    for item in document.entries:
        if item.key in entries:
            raise ManifestError(f"entry {item.key!r} listed twice")
        entries[item.key] = ManifestEntry(key=item.key, size=item.size, sha256=item.sha256)
    return Manifest(created_at=document.created_at, entries=entries)


def render_manifest(*, created_at: datetime, entries: Iterable[ManifestEntry]) -> bytes:
    """The manifest document, entries sorted by key, one entry per line."""
    ordered = sorted(entries, key=lambda e: e.key)
    lines = [
        json.dumps({"key": e.key, "size": e.size, "sha256": e.sha256}, ensure_ascii=False)
        for e in ordered
    ]
    stamp = created_at.isoformat().replace("+00:00", "Z")
    head = (
        f'{{\n  "format": "{MANIFEST_FORMAT}",\n  "createdAt": "{stamp}",\n'
        f'  "algorithm": "sha256",\n  "entries": ['
    )
    body = ",\n    ".join(lines)
    text = f"{head}\n    {body}\n  ]\n}}\n" if lines else f"{head}]\n}}\n"
    return text.encode("utf-8")
