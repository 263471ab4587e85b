"""A repository behind https-style basic auth (a small proxy in front of drdrill's own read-only
git server that answers 401 without the right credentials): the bootstrap scripts register
the username and password from the scenario's secret files, and the real Flux and Argo CD
controllers clone with them. A wrong password fails the drill with the controller's own
reason, inside the budget; the password is in no output."""

from __future__ import annotations

import base64
import secrets
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from drdrill.gitops.gitserver import serve_repository
from tests.integration.gitops.drills import phase, repository_drill
from tests.integration.gitops.fleet import commit, deployment, kustomize_file, namespace, write
from tests.integration.http_forward import forward

USER = "drill-bot"


class AuthProxy:
    """Forwards to `upstream` only requests with the right basic-auth header."""

    def __init__(self, upstream: str, password: str) -> None:
        parts = urlsplit(upstream)
        target, expected = (parts.hostname or "", parts.port or 80), "Basic " + base64.b64encode(
            f"{USER}:{password}".encode()).decode()
        self.refused = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                if self.headers.get("Authorization") != expected:
                    proxy.refused += 1
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                forward(self, target, drop=("authorization",))

            do_GET = _forward
            do_POST = _forward

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{parts.path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def private_repo(tmp_path: Path) -> Iterator[tuple[AuthProxy, str]]:
    repo = tmp_path / "platform"
    folder = repo / "apps" / "serving"
    write(folder, "objects.yaml", [namespace("ml-serving"), deployment("serve", "ml-serving")])
    kustomize_file(folder, ["objects.yaml"])
    commit(repo)
    password = f"pw-{secrets.token_urlsafe(18)}"
    served = serve_repository(repo)
    proxy = AuthProxy(served.url, password)
    try:
        yield proxy, password
    finally:
        proxy.stop()
        served.stop()


def _drill(tmp_path: Path, proxy: AuthProxy, password: str, *, engine: str
           ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    (tmp_path / "username").write_text(f"{USER}\n")
    (tmp_path / "password").write_text(f"{password}\n")
    return repository_drill(tmp_path, engine=engine, url=proxy.url, secret_files={
        "username": "./username", "password": "./password"})


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_controllers_clone_with_the_scenarios_credentials(
        tmp_path: Path, private_repo: tuple[AuthProxy, str], engine: str) -> None:
    proxy, password = private_repo
    result, report, outputs = _drill(tmp_path, proxy, password, engine=engine)
    assert report.get("verdict") == "pass", (result.stderr[-3000:], report.get("phases"))
    assert password not in outputs


def test_a_wrong_password_fails_with_the_controllers_reason(
        tmp_path: Path, private_repo: tuple[AuthProxy, str]) -> None:
    proxy, password = private_repo
    result, report, outputs = _drill(tmp_path, proxy, "wrong-" + password, engine="flux")
    assert result.returncode == 1, result.stderr[-3000:]
    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "failed"
    assert "authentication" in str(bootstrap["message"]).lower(), bootstrap["message"]
    assert proxy.refused > 0
    assert password not in outputs
