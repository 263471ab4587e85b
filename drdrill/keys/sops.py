"""Open one SOPS-encrypted document with age identities, as `sops --decrypt` would.

The data key is decrypted from the document's age recipients; every `ENC[AES256_GCM,...]`
value must authenticate under it (AES-256-GCM, the value's tree path as additional data) and
the document's MAC (SHA-512 over the values in tree order, itself encrypted with the data key
and the `lastmodified` time as additional data) must match, so a wrong key, a tampered value,
or a value added or removed after encryption is named. A decrypted value lives only long
enough to be hashed; it is registered with the log redaction and never returned.

Only age is supported; a document whose only recipients are gpg, KMS or Vault keys is reported
as not checkable with the given keys. Each document is checked on its own, as
kustomize-controller decrypts each resource on its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import yaml

from drdrill.logs import register_secret

try:  # libyaml's parser where PyYAML has it: an order of magnitude faster
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

_ENC = re.compile(
    r"^ENC\[AES256_GCM,data:(?P<data>[^,]*),iv:(?P<iv>[^,]+),tag:(?P<tag>[^,]+),"
    r"type:(?P<type>[a-z]+)\]$"
)
# SOPS seeds the MAC with these bytes when `mac_only_encrypted` is set.
_MAC_ONLY_ENCRYPTED_SEED = bytes.fromhex(
    "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69")
_OTHER_KEY_TYPES = ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms")


class SopsLoader(_SafeLoader):
    """YAML as SOPS reads it (yaml.v3): only true/false are booleans and timestamps stay
    strings, so the MAC is computed over the same values SOPS hashed."""


SopsLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SopsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))


def load_documents(content: bytes) -> list[Any]:
    """The documents of a YAML or JSON file, read as SOPS reads them (`sops` writes JSON
    indented with tabs, which is not YAML)."""
    try:
        return list(yaml.load_all(content, Loader=SopsLoader))
    except yaml.YAMLError:
        if not content.lstrip().startswith(b"{"):
            raise
    try:
        return [json.loads(content)]
    except ValueError:
        raise yaml.YAMLError("neither YAML nor JSON") from None


@dataclass(frozen=True)
class SopsVerdict:
    opened: bool
    reason: str = ""


class _NotOpened(Exception):
    pass


def _go_bytes(value: Any) -> bytes:
    """The bytes SOPS hashes for a value (its `ToBytes`)."""
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text.encode()
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def _leaves(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Leaves in SOPS' walk order: mapping keys extend the path, list items do not."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _leaves(value, (*path, str(key)))
    elif isinstance(node, list):
        for item in node:
            yield from _leaves(item, path)
    elif node is not None:
        yield path, node


def _open_value(text: str, *, key: bytes, additional: str) -> tuple[bytes, str]:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    match = _ENC.match(text)
    if match is None:
        raise _NotOpened("a value is not in SOPS' ENC[AES256_GCM,...] form")
    try:
        data, iv, tag = (base64.b64decode(match[k], validate=True) for k in ("data", "iv", "tag"))
    except (binascii.Error, ValueError):
        raise _NotOpened("a value's ENC[...] fields are not base64") from None
    try:
        plain = AESGCM(key).decrypt(iv, data + tag, additional.encode())
    except (InvalidTag, ValueError):
        raise _NotOpened("does not authenticate") from None
    return plain, match["type"]


def _decoded(value: bytes) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def _mac_bytes(plain: bytes, kind: str) -> bytes | None:
    """What SOPS hashes for a decrypted value of `kind` (None: comments are not hashed)."""
    if kind == "comment":
        return None
    if kind == "bool":
        return b"True" if plain.decode() in ("1", "t", "T", "true", "TRUE", "True") else b"False"
    if kind == "int":
        return str(int(plain.decode())).encode()
    if kind == "float":
        return _go_bytes(float(plain.decode()))
    return plain


def _rfc3339(value: Any) -> str:
    """`lastmodified` as Go's time.Format(RFC3339) prints it (the MAC's additional data)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(
        str(value).replace("Z", "+00:00"))
    offset = moment.utcoffset()
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if offset is None or offset == timedelta(0):
        return stamp + "Z"
    total = int(offset.total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total), 60)
    return f"{stamp}{sign}{hours:02d}:{minutes:02d}"


def _age_entries(metadata: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    groups = metadata.get("key_groups")
    if isinstance(groups, list) and groups:
        if len(groups) > 1:
            raise _NotOpened(f"{len(groups)} key groups (Shamir secret sharing) are not "
                             "supported by the key check")
        metadata = groups[0] if isinstance(groups[0], Mapping) else {}
    return [e for e in metadata.get("age") or [] if isinstance(e, Mapping)]


def data_key(metadata: Mapping[str, Any], identities: tuple[Any, ...]) -> bytes:
    """The document's 32-byte data key from its age recipients; raises `_NotOpened`."""
    import pyrage

    entries = _age_entries(metadata)
    if not entries:
        others = [k for k in _OTHER_KEY_TYPES if metadata.get(k)]
        raise _NotOpened("no age recipient (encrypted for " + (", ".join(others) or "nobody")
                         + " only; the key check opens age only)")
    for entry in entries:
        try:
            key = pyrage.decrypt(str(entry.get("enc") or "").encode(), list(identities))
        except pyrage.DecryptError:
            continue
        if len(key) != 32:
            raise _NotOpened("the data key is not 32 bytes")
        return bytes(key)
    recipients = ", ".join(str(e.get("recipient") or "?") for e in entries)
    raise _NotOpened(f"no key given is one of its age recipients ({recipients})")


def check_document(
    document: Mapping[str, Any], identities: tuple[Any, ...],
    *, on_value: Callable[[str], None] = register_secret,
) -> SopsVerdict:
    """Whether `document` (one SOPS-encrypted YAML/JSON document) opens with `identities`.

    `on_value` receives each decrypted string value (by default: the log redaction), so a
    value that ever appears in an output is masked; nothing else keeps it."""
    metadata = document.get("sops")
    if not isinstance(metadata, Mapping):
        return SopsVerdict(False, "no sops metadata")
    try:
        key = data_key(metadata, identities)
        only_encrypted = bool(metadata.get("mac_only_encrypted"))
        digest = hashlib.sha512()
        if only_encrypted:
            digest.update(_MAC_ONLY_ENCRYPTED_SEED)
        tree = {k: v for k, v in document.items() if k != "sops"}
        for path, value in _leaves(tree, ()):
            if isinstance(value, str) and value.startswith("ENC[AES256_GCM,"):
                where = ":".join(path) + ":"
                try:
                    plain, kind = _open_value(value, key=key, additional=where)
                except _NotOpened as err:
                    raise _NotOpened(f"the value at {'.'.join(path)} {err} under the data "
                                     "key (changed after encryption)") from None
                hashed = _mac_bytes(plain, kind)
                if kind == "str":
                    on_value(plain.decode("utf-8", "replace"))
                    if path[:1] == ("data",):  # a Secret's data: the value is base64
                        on_value(_decoded(plain))
                del plain
                if hashed is not None:
                    digest.update(hashed)
            elif not only_encrypted:
                digest.update(_go_bytes(value))
        mac = str(metadata.get("mac") or "")
        if not mac:
            return SopsVerdict(False, "the document has no MAC")
        try:
            stored, _ = _open_value(mac, key=key, additional=_rfc3339(metadata.get("lastmodified")))
        except ValueError:
            return SopsVerdict(False, "lastmodified is not a time")
        except _NotOpened:
            return SopsVerdict(False, "its MAC does not authenticate under the data key")
        if stored.decode("ascii", "replace").upper() != digest.hexdigest().upper():
            return SopsVerdict(False, "MAC mismatch: a value was changed, added or removed "
                                      "after encryption")
    except _NotOpened as err:
        return SopsVerdict(False, str(err))
    return SopsVerdict(True)
