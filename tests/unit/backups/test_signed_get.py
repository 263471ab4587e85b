from __future__ import annotations

import pytest
from botocore.credentials import Credentials

from drdrill.backups.s3client import S3Endpoint, make_s3_client
from drdrill.backups.signed_get import SignedGetter, _xml_text

SECRET = "canary-secret-never-in-a-request"


def _getter(endpoint_url: str = "http://127.0.0.1:9000/base") -> SignedGetter:
    return SignedGetter(
        endpoint_url=endpoint_url, region="eu-west-1",
        credentials=Credentials("AKIDEXAMPLE", SECRET), connect_timeout=1.0,
        read_timeout=1.0, tls=None,
    )


def test_request_is_path_style_with_the_key_quoted() -> None:
    signed = _getter().sign_get(bucket="models", key="a b/ü+=~x.bin")
    assert signed.path == "/base/models/a%20b/%C3%BC%2B%3D~x.bin"


def test_request_is_signed_in_headers_and_asks_for_the_checksum() -> None:
    signed = _getter().sign_get(bucket="models", key="k")
    headers = {k.lower(): v for k, v in signed.headers.items()}
    assert headers["authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"
    )
    assert "/eu-west-1/s3/aws4_request" in headers["authorization"]
    assert headers["x-amz-checksum-mode"] == "ENABLED"
    assert "x-amz-date" in headers and "x-amz-content-sha256" in headers
    assert SECRET not in repr(signed)
    assert "X-Amz-Signature" not in signed.path


def test_ranged_request_names_the_bytes_and_the_version() -> None:
    signed = _getter().sign_get(bucket="b", key="k", byte_range=(0, 99), if_match='"etag"')
    assert signed.headers["Range"] == "bytes=0-99"
    assert signed.headers["If-Match"] == '"etag"'
    signed_headers = signed.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0]
    assert {"if-match", "range", "host"} <= set(signed_headers.split(";"))


def test_virtual_hosted_clients_keep_using_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    endpoint = S3Endpoint(endpoint_url="http://127.0.0.1:9", addressing_style="virtual")
    client = make_s3_client(endpoint=endpoint)
    assert SignedGetter.for_client(client, endpoint=endpoint) is None
    path_style = S3Endpoint(endpoint_url="http://127.0.0.1:9")
    getter = SignedGetter.for_client(make_s3_client(endpoint=path_style), endpoint=path_style)
    assert getter is not None
    getter.close()


def test_error_code_and_message_come_from_the_xml() -> None:
    body = (b'<?xml version="1.0"?><Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate &amp; retry</Message></Error>")
    assert _xml_text(body, "Code") == "SlowDown"
    assert _xml_text(body, "Message") == "Please reduce your request rate & retry"
    assert _xml_text(b"<html>bad gateway</html>", "Code") == ""
