"""A real etcd + kube-apiserver for the health watcher's integration tests (no controllers).

Without controllers nothing changes status by itself, so the tests patch the status
subresource to play the controllers' part: exactly what measuring detection lag needs. This is
a stop-gap until the shared test-bed fixture lands; processes run in their own process group on
127.0.0.1 and are stopped by pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from drdrill.errors import PrerequisiteError
from drdrill.testbed import testbed_binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@dataclass
class LocalApiServer:
    workdir: Path
    port: int = field(default_factory=_free_port)
    etcd_port: int = field(default_factory=_free_port)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    watch_cache: bool = True
    etcd: subprocess.Popen[bytes] | None = None
    apiserver: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start_etcd(self) -> None:
        peer = _free_port()
        self.etcd = _start([
            str(testbed_binary("etcd")), "--name", "health-test",
            "--data-dir", str(self.workdir / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{self.etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{self.etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"health-test=http://127.0.0.1:{peer}",
            "--unsafe-no-fsync",
        ], self.workdir / "etcd.log")

    def start_apiserver(self) -> None:
        key = self.workdir / "sa.key"
        if not key.exists():
            subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                           capture_output=True)
            (self.workdir / "tokens.csv").write_text(
                f"{self.token},admin,admin,system:masters\n", encoding="utf-8")
        self.apiserver = _start([
            str(testbed_binary("kube-apiserver")),
            "--etcd-servers", f"http://127.0.0.1:{self.etcd_port}",
            "--bind-address", "127.0.0.1", "--secure-port", str(self.port),
            "--cert-dir", str(self.workdir / "certs"),
            "--token-auth-file", str(self.workdir / "tokens.csv"),
            "--authorization-mode", "AlwaysAllow",
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-account-key-file", str(key),
            "--service-account-signing-key-file", str(key),
            "--service-cluster-ip-range", "10.96.0.0/16",
            "--disable-admission-plugins", "ServiceAccount",
            "--enable-priority-and-fairness=false",
            # Compact etcd often, so that an old resourceVersion really expires (410 Gone).
            "--etcd-compaction-interval", "2s",
            f"--watch-cache={str(self.watch_cache).lower()}",
        ], self.workdir / "apiserver.log")
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        client = self.client()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.apiserver is not None
            if self.apiserver.poll() is not None:
                raise PrerequisiteError(f"kube-apiserver exited; see {self.workdir}/apiserver.log")
            try:
                client.call_api("/readyz", "GET", auth_settings=["BearerToken"],
                                _request_timeout=2, _preload_content=False)
                return
            except Exception:
                time.sleep(0.2)
        raise PrerequisiteError("kube-apiserver did not become ready in time")

    def kill_apiserver(self) -> None:
        assert self.apiserver is not None
        _stop(self.apiserver, signal.SIGKILL)

    def client(self) -> Any:
        from kubernetes import client

        config = client.Configuration()
        config.host = self.host
        config.verify_ssl = False
        config.api_key = {"BearerToken": self.token}
        config.api_key_prefix = {"BearerToken": "Bearer"}
        return client.ApiClient(config)

    def stop(self) -> None:
        for process in (self.apiserver, self.etcd):
            if process is not None:
                _stop(process)


def _running(tmp_path_factory: pytest.TempPathFactory, **options: Any) -> Iterator[LocalApiServer]:
    try:
        testbed_binary("etcd")
        testbed_binary("kube-apiserver")
    except PrerequisiteError as err:
        pytest.fail(f"{err} (`make test` builds the test bed)")
    server = LocalApiServer(workdir=tmp_path_factory.mktemp("apiserver"), **options)
    try:
        server.start_etcd()
        server.start_apiserver()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApiServer]:
    yield from _running(tmp_path_factory)


@pytest.fixture
def uncached_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApiServer]:
    """Watches go straight to etcd, so a compacted resourceVersion really answers 410 Gone.

    (With the watch cache on, an API server that has not evicted anything yet replays its
    current state for an old version instead of refusing it.)
    """
    yield from _running(tmp_path_factory, watch_cache=False)
