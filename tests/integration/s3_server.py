"""A real S3 server (versitygw, posix backend) and a toxiproxy for integration tests.

Both run as subprocesses in their own process group on 127.0.0.1 and free ports, from the
test bed (`drdrill.testbed.testbed_binary`, `DRDRILL_TESTBED_DIR` to override). Tests reach
S3 through boto3's default credential chain: `s3_credentials` sets the AWS_* variables.
The secret key is a canary: it must never appear in any report or log drdrill writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from drdrill.testbed import testbed_binary

ACCESS_KEY = "drdrilltestroot"
CANARY_SECRET = "CANARY-s3cr3t-7d1f0c9e-do-not-log"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    host: str
    port: int
    access_key: str
    secret_key: str
    root: Path

    def client(self, endpoint: str | None = None) -> Any:
        """An admin client for test set-up (keys passed explicitly, unlike drdrill)."""
        return boto3.client(
            "s3",
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=REGION,
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_http(url: str, *, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answered, even if with 403/404
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def running_versitygw(workdir: Path) -> Iterator[S3Server]:
    """Start versitygw on a free port, serving buckets from `workdir/data`."""
    binary = testbed_binary("versitygw")
    data = workdir / "data"
    data.mkdir(parents=True)
    port = free_port()
    env = {**os.environ, "ROOT_ACCESS_KEY_ID": ACCESS_KEY, "ROOT_SECRET_ACCESS_KEY": CANARY_SECRET}
    with (workdir / "versitygw.log").open("wb") as log:
        process = subprocess.Popen(
            [str(binary), "--port", f"127.0.0.1:{port}", "--keep-alive", "--quiet",
             "--region", REGION, "posix", str(data)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        _wait_for_http(endpoint, process=process, timeout=30)
        yield S3Server(endpoint, "127.0.0.1", port, ACCESS_KEY, CANARY_SECRET, data)
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running_versitygw(tmp_path_factory.mktemp("versitygw")) as server:
        yield server


def credential_env(server: S3Server | None) -> dict[str, str]:
    """Environment for boto3's default chain: only these keys, nothing from ~/.aws or IMDS."""
    env = {
        "AWS_CONFIG_FILE": "/nonexistent/drdrill-test-aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/drdrill-test-aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if server is not None:
        env["AWS_ACCESS_KEY_ID"] = server.access_key
        env["AWS_SECRET_ACCESS_KEY"] = server.secret_key
    return env


_CLEARED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")


@pytest.fixture
def s3_credentials(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in credential_env(s3_server).items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture
def no_s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in credential_env(None).items():
        monkeypatch.setenv(name, value)


class Toxiproxy:
    """toxiproxy's HTTP API, with urllib."""

    def __init__(self, api: str) -> None:
        self.api = api

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.api + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def proxy(self, name: str, *, upstream: str) -> str:
        """Create (or re-create) a proxy; returns its http:// endpoint."""
        with contextlib.suppress(urllib.error.HTTPError):
            self._call("DELETE", f"/proxies/{name}")
        port = free_port()
        self._call("POST", "/proxies", {
            "name": name, "listen": f"127.0.0.1:{port}", "upstream": upstream, "enabled": True,
        })
        return f"http://127.0.0.1:{port}"

    def add_toxic(self, proxy: str, *, name: str, kind: str, stream: str = "downstream",
                  toxicity: float = 1.0, **attributes: Any) -> None:
        self._call("POST", f"/proxies/{proxy}/toxics", {
            "name": name, "type": kind, "stream": stream, "toxicity": toxicity,
            "attributes": attributes,
        })

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")


@pytest.fixture(scope="session")
def toxiproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Toxiproxy]:
    binary = testbed_binary("toxiproxy-server")
    port = free_port()
    log_path = tmp_path_factory.mktemp("toxiproxy") / "toxiproxy.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(binary), "-host", "127.0.0.1", "-port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        api = f"http://127.0.0.1:{port}"
        _wait_for_http(api + "/version", process=process, timeout=30)
        yield Toxiproxy(api)
    finally:
        _stop(process)
