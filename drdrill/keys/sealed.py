"""Open one Bitnami SealedSecret with the controller's private sealing keys, offline.

The scheme is the one the controller (and `kubeseal --recovery-unseal`) uses: each value is
`len(rsa) (2 bytes, big-endian) | RSA-OAEP-SHA256(session key, label) | AES-256-GCM(value)`
with a single-use 32-byte session key and an all-zero nonce. The OAEP label binds the value
to its scope: `namespace/name` (strict, the default), `namespace` (namespace-wide, annotation
`sealedsecrets.bitnami.com/namespace-wide`) or empty (cluster-wide). A decrypted value is
registered with the log redaction and dropped.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from drdrill.logs import register_secret

CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"
NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"
_NONCE = bytes(12)


@dataclass(frozen=True)
class SealedVerdict:
    status: str  # "opened" | "failed" | "unchecked"
    reason: str = ""


def _annotations(document: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    template = ((document.get("spec") or {}).get("template") or {}).get("metadata") or {}
    for metadata in (template, document.get("metadata") or {}):
        found.update(metadata.get("annotations") or {})
    return found


def scope_label(document: Mapping[str, Any]) -> tuple[str, bytes | None]:
    """The scope and the OAEP label the values were sealed with (None: unknown, no namespace
    in Git for a scope that needs one)."""
    metadata = document.get("metadata") or {}
    name, namespace = str(metadata.get("name") or ""), str(metadata.get("namespace") or "")
    annotations = _annotations(document)
    if str(annotations.get(CLUSTER_WIDE, "")).lower() == "true":
        return "cluster-wide", b""
    if str(annotations.get(NAMESPACE_WIDE, "")).lower() == "true":
        return "namespace-wide", namespace.encode() if namespace else None
    return "strict", f"{namespace}/{name}".encode() if namespace else None


def _open(blob: bytes, keys: tuple[Any, ...], label: bytes) -> bytes | str:
    """The plaintext, or why it does not open."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(blob) < 2:
        return "too short to be sealed"
    size = int.from_bytes(blob[:2], "big")
    sealed_key, payload = blob[2:2 + size], blob[2 + size:]
    if len(sealed_key) != size or not payload:
        return "truncated"
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()),
                        algorithm=hashes.SHA256(), label=label or None)
    for key in keys:
        try:
            session = key.decrypt(sealed_key, oaep)
        except ValueError:
            continue
        try:
            return bytes(AESGCM(session).decrypt(_NONCE, payload, None))
        except (InvalidTag, ValueError):
            return "its session key opens but the value does not authenticate (changed after " \
                   "sealing)"
    return "no sealing key given opens its session key"


def check_document(
    document: Mapping[str, Any], keys: tuple[Any, ...],
    *, on_value: Callable[[str], None] = register_secret,
) -> SealedVerdict:
    spec = document.get("spec") or {}
    scope, label = scope_label(document)
    if label is None:
        return SealedVerdict("unchecked", f"{scope} scope but no metadata.namespace in Git (set "
                             "by a kustomization?): the label it was sealed with is unknown")
    values: dict[str, Any] = dict(spec.get("encryptedData") or {})
    if spec.get("data"):
        values["(spec.data)"] = spec["data"]
    if not values:
        return SealedVerdict("failed", "no encryptedData")
    for item, value in values.items():
        try:
            blob = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            return SealedVerdict("failed", f"encryptedData.{item} is not base64")
        opened = _open(blob, keys, label)
        if isinstance(opened, str):
            shown = label.decode() or "(empty)"
            return SealedVerdict("failed", f"encryptedData.{item}: {opened} ({scope} scope, "
                                 f"label {shown})")
        on_value(opened.decode("utf-8", "replace"))
        del opened
    return SealedVerdict("opened")
