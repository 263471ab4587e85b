"""No credential, token or signed URL reaches a log line."""

from __future__ import annotations

import json

import pytest
import structlog

from drdrill.logs import configure_logging, redact_text

SIGNED = ("https://bucket.s3.amazonaws.com/model.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256"
          "&X-Amz-Credential=AKIAABCDEFGHIJKLMNOP%2F20261127&X-Amz-Signature=deadbeefcafe")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (SIGNED, "deadbeefcafe"),
        (SIGNED, "AKIAABCDEFGHIJKLMNOP"),
        ("clone https://drill:hunter2@git.example.com/platform.git", "hunter2"),
        ("key id AKIAIOSFODNN7EXAMPLE in use", "AKIAIOSFODNN7EXAMPLE"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi.payload.sig"),
        ("legacy ?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=abc%2Fdef", "abc%2Fdef"),
    ],
    ids=["sigv4-signature", "sigv4-credential", "url-password", "key-id", "bearer", "sigv2"],
)
def test_redact_text_removes_the_secret(text: str, secret: str) -> None:
    redacted = redact_text(text)
    assert secret not in redacted
    assert "redacted" in redacted


def test_plain_text_is_left_alone() -> None:
    text = "restored s3://demo-models/llm/v3/config.json (4096 bytes)"
    assert redact_text(text) == text


def test_log_events_are_redacted_by_key_and_by_value(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(log_format="json")
    structlog.get_logger("t").info(
        "fetched", url=SIGNED, aws_secret_access_key="canary-s3cr3t", token="canary-t0ken",
        note="nothing secret",
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    event = json.loads(line)
    assert "canary-s3cr3t" not in line and "canary-t0ken" not in line
    assert "deadbeefcafe" not in line
    assert event["note"] == "nothing secret"
    assert event["aws_secret_access_key"] == "[redacted]"
