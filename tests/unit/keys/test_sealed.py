"""Sealed Secrets opened offline with the sealing key: scopes, several keys, wrong keys,
tampering; values sealed here with the public key by the controller's scheme."""

from __future__ import annotations

from pathlib import Path

import pytest

from drdrill.keys import sealed
from drdrill.keys.keyfiles import load_sealing_keys
from tests.unit.keys.material import key_backup, seal_value, sealed_secret, sealing_key


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object, object]:
    folder = tmp_path_factory.mktemp("sealing")
    pem, crt, key = sealing_key(folder, name="one")
    pem2, crt2, key2 = sealing_key(folder, name="two")
    backup = folder / "backup.yaml"
    key_backup(backup, [pem, pem2], [crt, crt2])
    return pem, backup, key, key2


def test_strict_scope_opens_with_the_namespace_and_name_label(keys) -> None:
    pem, _, key, _ = keys
    value = seal_value(key.public_key(), b"s3cr3t-value", b"ml-serving/hf-token")
    doc = sealed_secret("hf-token", "ml-serving", {"token": value})
    seen: list[str] = []
    verdict = sealed.check_document(doc, load_sealing_keys([pem]).keys, on_value=seen.append)
    assert verdict.status == "opened", verdict.reason
    assert seen == ["s3cr3t-value"]  # handed to the redaction only


def test_a_value_moved_to_another_name_does_not_open(keys) -> None:
    pem, _, key, _ = keys
    doc = sealed_secret("other", "ml-serving",
                        {"token": seal_value(key.public_key(), b"v", b"ml-serving/hf-token")})
    verdict = sealed.check_document(doc, load_sealing_keys([pem]).keys)
    assert verdict.status == "failed"
    assert "no sealing key given opens" in verdict.reason
    assert "label ml-serving/other" in verdict.reason


@pytest.mark.parametrize(("annotation", "label"), [
    ("sealedsecrets.bitnami.com/namespace-wide", b"ml-serving"),
    ("sealedsecrets.bitnami.com/cluster-wide", b""),
])
def test_wider_scopes(keys, annotation: str, label: bytes) -> None:
    pem, _, key, _ = keys
    doc = sealed_secret("s", "ml-serving", {"a": seal_value(key.public_key(), b"x", label)},
                        annotations={annotation: "true"})
    assert sealed.check_document(doc, load_sealing_keys([pem]).keys).status == "opened"


def test_key_backup_with_several_keys_opens_a_secret_sealed_with_the_older_one(keys) -> None:
    _, backup, _, key2 = keys
    loaded = load_sealing_keys([backup])
    assert len(loaded.keys) == 2
    doc = sealed_secret("s", "ns", {"a": seal_value(key2.public_key(), b"x", b"ns/s")})
    assert sealed.check_document(doc, loaded.keys).status == "opened"


def test_wrong_key_and_tampered_value_are_told_apart(keys) -> None:
    pem, _, key, key2 = keys
    only_first = load_sealing_keys([pem]).keys
    wrong = sealed_secret("s", "ns", {"a": seal_value(key2.public_key(), b"x", b"ns/s")})
    assert "no sealing key given opens" in sealed.check_document(wrong, only_first).reason
    import base64

    blob = bytearray(base64.b64decode(seal_value(key.public_key(), b"value", b"ns/s")))
    blob[-1] ^= 1
    tampered = sealed_secret("s", "ns", {"a": base64.b64encode(bytes(blob)).decode()})
    verdict = sealed.check_document(tampered, only_first)
    assert verdict.status == "failed" and "does not authenticate" in verdict.reason


def test_strict_scope_without_a_namespace_is_not_checked(keys) -> None:
    pem, _, key, _ = keys
    doc = sealed_secret("s", "ns", {"a": seal_value(key.public_key(), b"x", b"ns/s")})
    del doc["metadata"]["namespace"]
    del doc["spec"]["template"]["metadata"]["namespace"]
    verdict = sealed.check_document(doc, load_sealing_keys([pem]).keys)
    assert verdict.status == "unchecked" and "no metadata.namespace" in verdict.reason
