"""Key files: what loads, and one line (no key material) for what does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from drdrill.errors import ExitCode
from drdrill.keys.keyfiles import KeyFileError, load_age_keys, load_sealing_keys
from drdrill.logs import forget_registered_secrets, redact_text

AGE_KEY = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQSE3DD5"


def _age_file(tmp_path: Path) -> tuple[Path, str]:
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    path = tmp_path / "age.agekey"
    path.write_text(f"# created: 2026-11-30\n# public key: {identity.to_public()}\n{identity}\n")
    return path, str(identity)


def test_age_key_file_loads_and_its_key_is_redacted(tmp_path: Path) -> None:
    forget_registered_secrets()
    path, secret = _age_file(tmp_path)
    keys = load_age_keys([path])
    assert len(keys.identities) == 1
    assert secret not in redact_text(f"leaked {secret}")
    forget_registered_secrets()


@pytest.mark.parametrize(("content", "expected"), [
    ("", "no AGE-SECRET-KEY-... line"),
    ("# only a comment\n", "no AGE-SECRET-KEY-... line"),
    ("ssh-ed25519 AAAAC3Nza\n", "line 1 is not an age identity"),
    ("AGE-SECRET-KEY-1NOTAKEY\n", "line 1 is not a valid age identity"),
])
def test_bad_age_key_file_is_one_line_bad_input(tmp_path: Path, content: str,
                                                expected: str) -> None:
    path = tmp_path / "bad.agekey"
    path.write_text(content)
    with pytest.raises(KeyFileError) as raised:
        load_age_keys([path])
    message = str(raised.value)
    assert expected in message and str(path) in message
    assert "\n" not in message and "NOTAKEY" not in message
    assert raised.value.exit_code is ExitCode.BAD_INPUT


def test_missing_key_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read it"):
        load_age_keys([tmp_path / "absent.agekey"])
    with pytest.raises(KeyFileError, match="cannot read it"):
        load_sealing_keys([tmp_path / "absent.pem"])


@pytest.mark.parametrize("content", [
    "hello\n",
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    "apiVersion: v1\nkind: List\nitems: []\n",
])
def test_file_without_a_sealing_key(tmp_path: Path, content: str) -> None:
    path = tmp_path / "key.pem"
    path.write_text(content)
    with pytest.raises(KeyFileError, match="no RSA private key in it"):
        load_sealing_keys([path])


def test_damaged_pem_is_named_without_its_text(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_text("-----BEGIN RSA PRIVATE KEY-----\nTUlJQm9nSUJBQUtD\n"
                    "-----END RSA PRIVATE KEY-----\n")
    with pytest.raises(KeyFileError) as raised:
        load_sealing_keys([path])
    assert "does not load" in str(raised.value)
    assert "TUlJ" not in str(raised.value)
