from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, SSLError

from drdrill.backups.obstore_get import ObstoreGetter, as_botocore_error, store_options
from drdrill.backups.s3client import S3Endpoint, error_code
from drdrill.backups.streaming import BROKEN_STREAM, is_server_busy

_NETWORK_ENV = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY",
                "no_proxy", "AWS_CA_BUNDLE", "ALL_PROXY", "all_proxy")


@pytest.fixture(autouse=True)
def no_network_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _NETWORK_ENV:
        monkeypatch.delenv(name, raising=False)


def test_path_style_plain_http_without_proxy() -> None:
    options = store_options(S3Endpoint(), endpoint_url="http://127.0.0.1:9000", read_timeout=30)
    assert options["endpoint"] == "http://127.0.0.1:9000"
    assert options["virtual_hosted_style_request"] is False
    assert options["client_options"]["allow_http"] is True
    assert "proxy_url" not in options["client_options"]
    assert options["retry_config"]["max_retries"] == 0  # one retry policy: ours


def test_https_proxy_unless_no_proxy_exempts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "proxy.corp:3128")
    options = store_options(S3Endpoint(), endpoint_url="https://s3.corp:443", read_timeout=30)
    assert options["client_options"]["proxy_url"] == "http://proxy.corp:3128"
    assert options["client_options"]["allow_http"] is False
    monkeypatch.setenv("NO_PROXY", ".corp")
    options = store_options(S3Endpoint(), endpoint_url="https://s3.corp:443", read_timeout=30)
    assert "proxy_url" not in options["client_options"]


def test_ca_bundle_from_the_scenario_else_aws_ca_bundle(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    scenario_ca, env_ca = tmp_path / "scenario.pem", tmp_path / "env.pem"
    scenario_ca.write_bytes(b"SCENARIO CA")
    env_ca.write_bytes(b"ENV CA")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(env_ca))
    url = "https://s3.corp"
    assert store_options(S3Endpoint(), endpoint_url=url, read_timeout=30)[
        "client_options"]["root_certificate"] == b"ENV CA"
    assert store_options(S3Endpoint(ca_bundle=scenario_ca), endpoint_url=url, read_timeout=30)[
        "client_options"]["root_certificate"] == b"SCENARIO CA"
    unverified = store_options(S3Endpoint(verify_tls=False), endpoint_url=url, read_timeout=30)
    assert unverified["client_options"]["allow_invalid_certificates"] is True


def test_virtual_hosted_addressing_keeps_the_other_engines(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    url = "https://s3.example"
    assert ObstoreGetter.for_endpoint(S3Endpoint(addressing_style="virtual"),
                                      endpoint_url=url, read_timeout=30) is None
    assert ObstoreGetter.for_endpoint(S3Endpoint(), endpoint_url=url, read_timeout=30)


_REFUSED = ("The operation lacked the necessary privileges: Error performing GET "
            "http://127.0.0.1:1/b/k in 1ms - Server returned non-2xx status code: 403 Forbidden: "
            "<Error><Code>SignatureDoesNotMatch</Code><Message>no match</Message>"
            "<AWSAccessKeyId>AKIDEXAMPLE</AWSAccessKeyId></Error>")


def test_s3_error_answers_keep_code_and_message_only() -> None:
    err = as_botocore_error(RuntimeError(_REFUSED), endpoint_url="http://127.0.0.1:1")
    assert isinstance(err, ClientError)
    assert error_code(err) == "SignatureDoesNotMatch"
    assert "AKIDEXAMPLE" not in str(err)
    busy = as_botocore_error(RuntimeError(
        "Server returned non-2xx status code: 503 Service Unavailable: "
        "<Error><Code>SlowDown</Code></Error>"), endpoint_url="http://x")
    assert is_server_busy(busy)


def test_connection_and_certificate_failures() -> None:
    refused = as_botocore_error(RuntimeError("HTTP error: error sending request\n kind: Connect"),
                                endpoint_url="http://127.0.0.1:1")
    assert isinstance(refused, EndpointConnectionError)
    untrusted = as_botocore_error(RuntimeError("invalid peer certificate: UnknownIssuer"),
                                  endpoint_url="https://localhost:1")
    assert isinstance(untrusted, SSLError)
    cut = as_botocore_error(RuntimeError("error decoding response body"),
                            endpoint_url="http://127.0.0.1:1")
    assert isinstance(cut, BROKEN_STREAM)
