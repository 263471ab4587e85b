"""Key files from the team's DR vault: age identities and Sealed Secrets sealing keys.

A key file that cannot be read or holds no key is bad input (`KeyFileError`, one line, no
content quoted); the key material itself is registered with the log redaction as it is read.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from drdrill.errors import BadInputError
from drdrill.logs import register_secret

# A key file is small; a larger file is not a key file.
MAX_KEY_FILE_BYTES = 1024 * 1024
AGE_SECRET_PREFIX = "AGE-SECRET-KEY-"  # noqa: S105 (the format's prefix)


class KeyFileError(BadInputError):
    """A key file is missing, unreadable or holds no usable key."""


@dataclass(frozen=True)
class AgeKeys:
    """The age identities of one or more key files (`AGE-SECRET-KEY-1...` lines)."""

    files: tuple[Path, ...]
    identities: tuple[Any, ...]  # pyrage.x25519.Identity

    def describe(self) -> str:
        return ", ".join(str(f) for f in self.files)


@dataclass(frozen=True)
class SealingKeys:
    """RSA private keys of the Sealed Secrets controller (one file may hold several)."""

    files: tuple[Path, ...]
    keys: tuple[Any, ...]  # cryptography RSAPrivateKey

    def describe(self) -> str:
        return ", ".join(str(f) for f in self.files)


def _read(path: Path, *, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            content = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as err:
        raise KeyFileError(f"{what} {path}: cannot read it ({err.strerror or err})") from None
    if len(content) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{what} {path}: larger than {MAX_KEY_FILE_BYTES} bytes, not a key "
                           "file")
    register_secret(content.decode("utf-8", errors="replace"))
    return content


def load_age_keys(paths: Sequence[Path]) -> AgeKeys:
    """Every `AGE-SECRET-KEY-` line of the files (the format `age-keygen` writes and Flux's
    `*.agekey` Secret entries hold). Raises `KeyFileError` naming the file, never its text."""
    import pyrage

    identities: list[Any] = []
    for path in paths:
        content = _read(path, what="age key file")
        found = 0
        for number, raw in enumerate(content.decode("utf-8", "replace").splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not line.upper().startswith(AGE_SECRET_PREFIX):
                raise KeyFileError(f"age key file {path}: line {number} is not an age identity "
                                   f"({AGE_SECRET_PREFIX}...); ssh and plugin keys are not "
                                   "supported")
            try:
                identities.append(pyrage.x25519.Identity.from_str(line))
            except Exception:
                raise KeyFileError(f"age key file {path}: line {number} is not a valid age "
                                   "identity") from None
            found += 1
        if not found:
            raise KeyFileError(f"age key file {path}: no {AGE_SECRET_PREFIX}... line in it")
    return AgeKeys(files=tuple(paths), identities=tuple(identities))


def _pem_keys(content: bytes, *, path: Path, where: str) -> list[Any]:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    keys = []
    marker = b"-----BEGIN"
    blocks = [marker + part for part in content.split(marker)[1:]]
    for block in blocks:
        if b"PRIVATE KEY-----" not in block.split(b"\n", 1)[0]:
            continue  # a certificate beside the key
        try:
            key = load_pem_private_key(block, password=None)
        except (ValueError, TypeError):
            raise KeyFileError(f"sealing key file {path}{where}: a private key that does not "
                               "load (encrypted or damaged PEM)") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyFileError(f"sealing key file {path}{where}: not an RSA private key")
        keys.append(key)
    return keys


def _secret_documents(content: bytes) -> list[dict[str, Any]]:
    try:
        docs = [d for d in yaml.safe_load_all(content) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []
    found: list[dict[str, Any]] = []
    for doc in docs:
        if doc.get("kind") in ("List", "SecretList"):
            found.extend(i for i in doc.get("items") or [] if isinstance(i, dict))
        else:
            found.append(doc)
    return [d for d in found if d.get("kind") == "Secret"]


def load_sealing_keys(paths: Sequence[Path]) -> SealingKeys:
    """The controller's private keys: PEM files, or the key-backup YAML (`kubectl get secret
    -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`: a List of Secrets, each with
    `tls.key`). Raises `KeyFileError` naming the file, never its text."""
    keys: list[Any] = []
    for path in paths:
        content = _read(path, what="sealing key file")
        if b"-----BEGIN" in content and b"tls.key" not in content:
            found = _pem_keys(content, path=path, where="")
        else:
            found = []
            for secret in _secret_documents(content):
                name = str((secret.get("metadata") or {}).get("name") or "?")
                data = secret.get("data") or {}
                value = data.get("tls.key")
                if not isinstance(value, str):
                    continue
                try:
                    pem = base64.b64decode(value, validate=False)
                except ValueError:
                    raise KeyFileError(f"sealing key file {path} (Secret {name}): tls.key is not "
                                       "base64") from None
                register_secret(pem.decode("utf-8", "replace"))
                found += _pem_keys(pem, path=path, where=f" (Secret {name})")
        if not found:
            raise KeyFileError(f"sealing key file {path}: no RSA private key in it (a PEM file "
                               "or the controller's key-backup Secret YAML with tls.key)")
        keys += found
    return SealingKeys(files=tuple(paths), keys=tuple(keys))
