"""S3 network paths: a private CA (AWS_CA_BUNDLE), a proxy (HTTPS_PROXY, NO_PROXY), and an
interrupt during a restore that returns at once instead of sitting out read timeouts."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import SSLError

from drdrill.backups.restore import RestoreTarget, restore_objects
from drdrill.backups.s3client import S3Endpoint, make_s3_client
from drdrill.backups.signed_get import SignedGetter
from drdrill.engine.signals import interrupts_raise
from drdrill.errors import DrillInterrupted
from drdrill.timing import Deadline
from tests.unit.backups.netfixtures import (
    BODY,
    connect_proxy,
    make_private_ca,
    stalling_server,
    tls_object_server,
)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY",
                 "no_proxy", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_private_ca(tmp_path_factory.mktemp("ca"))


def _getter(url: str) -> SignedGetter:
    endpoint = S3Endpoint(endpoint_url=url)
    getter = SignedGetter.for_client(make_s3_client(endpoint=endpoint), endpoint=endpoint)
    assert getter is not None
    return getter


@pytest.mark.usefixtures("credentials")
def test_signed_gets_trust_aws_ca_bundle_and_go_through_https_proxy(
        private_ca: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ca, cert, key = private_ca
    with tls_object_server(cert, key) as port, connect_proxy() as (proxy_port, proxy):
        monkeypatch.setenv("AWS_CA_BUNDLE", str(ca))
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
        getter = _getter(f"https://localhost:{port}")
        try:
            got = getter.stream_object(bucket="models", key="llm/v1/model.bin", fd=None)
        finally:
            getter.close()
        assert got.size == len(BODY)
        assert proxy.tunnels == [f"localhost:{port}"]


@pytest.mark.usefixtures("credentials")
def test_botocore_requests_trust_aws_ca_bundle_and_use_the_proxy(
        private_ca: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ca, cert, key = private_ca
    with tls_object_server(cert, key) as port, connect_proxy() as (proxy_port, proxy):
        monkeypatch.setenv("AWS_CA_BUNDLE", str(ca))
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
        client = make_s3_client(endpoint=S3Endpoint(endpoint_url=f"https://localhost:{port}"))
        body = client.get_object(Bucket="models", Key="manifest.json")["Body"].read()
        assert body == BODY
        assert proxy.tunnels == [f"localhost:{port}"]


@pytest.mark.usefixtures("credentials")
def test_no_proxy_exempts_the_endpoint(private_ca: tuple[Path, Path, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    ca, cert, key = private_ca
    with tls_object_server(cert, key) as port, connect_proxy() as (proxy_port, proxy):
        monkeypatch.setenv("AWS_CA_BUNDLE", str(ca))
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
        monkeypatch.setenv("NO_PROXY", "localhost")
        getter = _getter(f"https://localhost:{port}")
        try:
            assert getter.stream_object(bucket="b", key="k", fd=None).size == len(BODY)
        finally:
            getter.close()
        assert proxy.tunnels == []


@pytest.mark.usefixtures("credentials")
def test_an_untrusted_certificate_is_still_refused(private_ca: tuple[Path, Path, Path]) -> None:
    _, cert, key = private_ca
    with tls_object_server(cert, key) as port:
        getter = _getter(f"https://localhost:{port}")
        try:
            with pytest.raises(SSLError, match=r"CERTIFICATE_VERIFY_FAILED"):
                getter.stream_object(bucket="b", key="k", fd=None)
        finally:
            getter.close()


@pytest.mark.usefixtures("credentials")
def test_ctrl_c_during_a_restore_returns_at_once(tmp_path: Path) -> None:
    """Four GETs hang mid-body (read timeout 60 s, retries after it): the interrupt must not
    wait for them."""
    with stalling_server() as port:
        endpoint = S3Endpoint(endpoint_url=f"http://127.0.0.1:{port}", max_concurrency=4)
        client = make_s3_client(endpoint=endpoint, read_timeout=60)
        folder = tmp_path / "restore"
        folder.mkdir()
        targets = [RestoreTarget(f"p/{i}.bin", f"{i}.bin", 1_000_000) for i in range(8)]
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
        started = time.monotonic()
        with pytest.raises(DrillInterrupted), interrupts_raise():
            restore_objects(client, endpoint=endpoint, bucket="b", targets=targets,
                            folder=folder, concurrency=4, deadline=Deadline.after(300))
        assert time.monotonic() - started < 5.0
        assert not [t for t in threading.enumerate() if t.name.startswith("drdrill-restore")]


@pytest.mark.usefixtures("credentials")
def test_ctrl_c_during_an_obstore_restore_returns_at_once(tmp_path: Path) -> None:
    """As above, for objects with a manifest sha256 (the obstore engine)."""
    with stalling_server() as port:
        endpoint = S3Endpoint(endpoint_url=f"http://127.0.0.1:{port}", max_concurrency=4)
        client = make_s3_client(endpoint=endpoint, read_timeout=60)
        folder = tmp_path / "restore"
        folder.mkdir()
        targets = [RestoreTarget(f"p/{i}.bin", f"{i}.bin", 1_000_000, "0" * 64)
                   for i in range(8)]
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
        started = time.monotonic()
        with pytest.raises(DrillInterrupted), interrupts_raise():
            restore_objects(client, endpoint=endpoint, bucket="b", targets=targets,
                            folder=folder, concurrency=4, deadline=Deadline.after(300))
        assert time.monotonic() - started < 5.0
