"""s3:// URIs the workloads in Git point at, and whether a verified backup set holds them.

A model server that comes back in the new cluster is useless if the artifacts it loads are
gone, so every string of every applied object is searched for `s3://` URIs (KServe
`storageUri`, environment variables, arguments, annotations, ConfigMap data...). Secrets are
not read, and neither are `managedFields` and the last-applied annotation, which repeat the
object. A URI is restorable when it lies inside a set that verified and that set holds the
object itself or something under it (a model folder), and every object it points at was
downloaded and matched: in a sampled set, the objects Git points at join the sample.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from drdrill.backups.setcheck import SetCatalog
from drdrill.logs import redact_text
from drdrill.results import ModelReference

S3_URI = re.compile(r"(?<![A-Za-z0-9+./-])s3://[^\s\"'<>`,;()\[\]{}]+")
_SKIPPED_KINDS = frozenset({"Secret"})
_SKIPPED_PATHS = frozenset({"metadata.managedFields"})
_SKIPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})


def _object_name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") if isinstance(meta, Mapping) else None
    name = meta.get("name", "?") if isinstance(meta, Mapping) else "?"
    where = f"{namespace}/{name}" if namespace else str(name)
    return f"{obj.get('kind', 'object')} {where}"


def _walk(value: Any, path: str) -> Iterable[tuple[str, str]]:
    """Every string below `value`, with a dotted path to it (list items as [i])."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else str(key)
            if child_path in _SKIPPED_PATHS:
                continue
            if path == "metadata.annotations" and key in _SKIPPED_ANNOTATIONS:
                continue
            yield from _walk(child, child_path)
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            yield from _walk(child, f"{path}[{index}]")


def find_s3_references(objects: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(uri, where it was found) for every s3:// URI in the objects, without duplicates."""
    found: dict[tuple[str, str], None] = {}
    for obj in objects:
        if not isinstance(obj, Mapping) or obj.get("kind") in _SKIPPED_KINDS:
            continue
        name = _object_name(obj)
        for path, text in _walk(obj, ""):
            for match in S3_URI.finditer(text):
                uri = match.group(0).rstrip(".:")
                found[(uri, f"{name}: {path}")] = None
    return list(found)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> (`bucket`, `some/key`)."""
    rest = uri[len("s3://"):]
    bucket, _, key = rest.partition("/")
    return bucket, key


def _holds(catalog: SetCatalog, key: str) -> bool:
    if not key.startswith(catalog.prefix) and key + "/" != catalog.prefix:
        return False
    relative = key[len(catalog.prefix):].strip("/")
    if not relative:
        return bool(catalog.keys)
    return relative in catalog.keys or any(k.startswith(relative + "/") for k in catalog.keys)


def _verified(catalog: SetCatalog, key: str) -> bool:
    """Every object the reference points at was downloaded and matched (not just listed)."""
    relative = key[len(catalog.prefix):].strip("/")
    if relative in catalog.keys:
        return catalog.was_verified(relative)
    under = [k for k in catalog.keys if not relative or k.startswith(relative + "/")]
    return bool(under) and all(catalog.was_verified(k) for k in under)


def match_references(
    references: Iterable[tuple[str, str]], catalogs: Sequence[SetCatalog]
) -> list[ModelReference]:
    """One ModelReference per (uri, source): restorable if a verified set holds the URI."""
    records: list[ModelReference] = []
    for uri, source in references:
        bucket, key = split_s3_uri(uri)
        covering = sorted(
            (c for c in catalogs if c.bucket == bucket and _holds(c, key)),
            key=lambda c: (not c.verified, -len(c.prefix)),
        )
        chosen = covering[0] if covering else None
        records.append(
            ModelReference(
                uri=redact_text(uri),
                source=redact_text(source),
                backup_set=chosen.name if chosen else None,
                restorable=bool(chosen and _verified(chosen, key)),
            )
        )
    return records
