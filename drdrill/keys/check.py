"""Which encrypted secrets in a repository open with the key files given, one verdict each."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from drdrill.keys import sealed, sops
from drdrill.keys.keyfiles import AgeKeys, SealingKeys

SOPS = "sops"
SEALED_SECRET = "sealed-secret"  # noqa: S105 (a kind, not a password)


@dataclass(frozen=True)
class SecretCheck:
    """The verdict on one encrypted document: `opened`, `failed` or `unchecked`."""

    repository: str
    file: str
    kind: str  # "sops" | "sealed-secret"
    object_kind: str
    name: str
    namespace: str | None
    status: str
    reason: str = ""

    @property
    def object(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.object_kind} {where}{self.name}"

    def describe(self) -> str:
        text = f"{self.repository}:{self.file}: {self.kind} {self.object}"
        return f"{text}: {self.reason}" if self.reason else text


def _is_sealed(doc: Mapping[str, Any]) -> bool:
    return doc.get("kind") == "SealedSecret" and str(doc.get("apiVersion", "")).startswith(
        "bitnami.com/")


def check_file(
    *, repository: str, file: str, content: bytes, age: AgeKeys | None,
    sealing: SealingKeys | None, on_value: Callable[[str], None],
) -> list[SecretCheck]:
    """A verdict for every SOPS document and SealedSecret in one file (none for others).
    `on_value` gets every decrypted value (for the log redaction); nothing else keeps one."""
    try:
        documents = [d for d in sops.load_documents(content) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []
    found: list[SecretCheck] = []
    for doc in documents:
        metadata = doc.get("metadata") or {}
        namespace = str(metadata["namespace"]) if metadata.get("namespace") else None

        def verdict(kind: str, status: str, reason: str, *, _doc: dict[str, Any] = doc,
                    _namespace: str | None = namespace) -> SecretCheck:
            return SecretCheck(
                repository=repository, file=file, kind=kind,
                object_kind=str(_doc.get("kind") or "document"),
                name=str((_doc.get("metadata") or {}).get("name") or "(no name)"),
                namespace=_namespace, status=status, reason=reason)

        if isinstance(doc.get("sops"), dict):
            if age is None:
                found.append(verdict(SOPS, "unchecked",
                                     "no age key named (spec.gitops.keys.age)"))
                continue
            opened = sops.check_document(doc, age.identities, on_value=on_value)
            found.append(verdict(SOPS, "opened" if opened.opened else "failed",
                                 opened.reason))
        elif _is_sealed(doc):
            if sealing is None:
                found.append(verdict(SEALED_SECRET, "unchecked",
                                     "no sealing key named (spec.gitops.keys.sealingKeys)"))
                continue
            outcome = sealed.check_document(doc, sealing.keys, on_value=on_value)
            found.append(verdict(SEALED_SECRET, outcome.status, outcome.reason))
    return found
