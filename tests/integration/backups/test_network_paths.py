"""The restore's obstore engine on the network paths botocore honours, against real S3.

versitygw serves HTTPS with a certificate from a private CA made for this session; a CONNECT
proxy on 127.0.0.1 records the tunnels it opens. The CA comes from AWS_CA_BUNDLE or the
scenario's caBundle, the proxy from HTTPS_PROXY, NO_PROXY exempts the endpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import SSLError

from drdrill.backups.restore import RestoreTarget, restore_objects
from drdrill.backups.s3client import S3Endpoint, make_s3_client
from drdrill.timing import Deadline
from tests.integration.backups.helpers import payload, put_set
from tests.integration.backups.tls_s3 import PrivateCa, make_private_ca, running_tls_versitygw
from tests.integration.s3_server import S3Server, credential_env
from tests.unit.backups.netfixtures import connect_proxy

pytestmark = pytest.mark.integration

OBJECTS = {f"shard-{i}.bin": payload(f"tls-{i}", 70_000 + i) for i in range(6)}
_NETWORK_ENV = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY",
                "no_proxy", "AWS_CA_BUNDLE", "ALL_PROXY", "all_proxy")


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCa:
    return make_private_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def tls_s3(tmp_path_factory: pytest.TempPathFactory, private_ca: PrivateCa) -> Iterator[S3Server]:
    with running_tls_versitygw(tmp_path_factory.mktemp("tls-s3"), private_ca) as server, \
            pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_CA_BUNDLE", str(private_ca.ca_pem))  # for the set-up client only
        client = server.client()
        client.create_bucket(Bucket="models")
        put_set(client, "models", OBJECTS)
        yield server


@pytest.fixture
def clean_env(tls_s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for name in _NETWORK_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in credential_env(tls_s3).items():
        monkeypatch.setenv(name, value)
    return tls_s3


def _restore(server: S3Server, folder: Path, endpoint: S3Endpoint | None = None) -> list[str]:
    endpoint = endpoint or S3Endpoint(endpoint_url=server.endpoint, max_concurrency=4)
    folder.mkdir()
    targets = [RestoreTarget("set/" + k, k, len(d), hashlib.sha256(d).hexdigest())
               for k, d in OBJECTS.items()]
    checks = restore_objects(make_s3_client(endpoint=endpoint), endpoint=endpoint,
                             bucket="models", targets=targets, folder=folder, concurrency=4,
                             deadline=Deadline.after(60))
    assert [c.problem for c in checks] == [None] * len(OBJECTS)
    for key, data in OBJECTS.items():
        assert (folder / key).read_bytes() == data
    return sorted({c.engine for c in checks})


def test_a_private_ca_from_aws_ca_bundle_through_an_https_proxy(
        clean_env: S3Server, private_ca: PrivateCa, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    with connect_proxy() as (proxy_port, proxy):
        monkeypatch.setenv("AWS_CA_BUNDLE", str(private_ca.ca_pem))
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
        assert _restore(clean_env, tmp_path / "restore") == ["obstore"]
    assert proxy.tunnels
    assert set(proxy.tunnels) == {f"localhost:{clean_env.port}"}


def test_no_proxy_exempts_the_endpoint(clean_env: S3Server, private_ca: PrivateCa,
                                       monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with connect_proxy() as (proxy_port, proxy):
        monkeypatch.setenv("AWS_CA_BUNDLE", str(private_ca.ca_pem))
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
        monkeypatch.setenv("NO_PROXY", "localhost")
        assert _restore(clean_env, tmp_path / "restore") == ["obstore"]
    assert proxy.tunnels == []


def test_the_scenarios_ca_bundle_is_trusted(clean_env: S3Server, private_ca: PrivateCa,
                                            tmp_path: Path) -> None:
    endpoint = S3Endpoint(endpoint_url=clean_env.endpoint, ca_bundle=private_ca.ca_pem,
                          max_concurrency=4)
    assert _restore(clean_env, tmp_path / "restore", endpoint) == ["obstore"]


def test_a_certificate_nobody_trusts_is_refused(clean_env: S3Server, tmp_path: Path) -> None:
    with pytest.raises(SSLError):
        _restore(clean_env, tmp_path / "restore")
