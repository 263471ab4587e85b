"""A repository behind https-style basic auth (a small proxy in front of drdrill's own read-only
git server that answers 401 without the right credentials): the bootstrap scripts register
the username and password from the scenario's secret files, and the real Flux and Argo CD
controllers clone with them. A wrong password fails the drill with the controller's own
reason, inside the budget; the password is in no output."""

from __future__ import annotations

import base64
import http.client
import secrets
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from drdrill.gitops.gitserver import serve_repository
from tests.integration.gitops.drills import base_env, phase, run_drill, write_scenario
from tests.integration.gitops.fleet import commit, deployment, kustomize_file, namespace, write

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
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                connection = http.client.HTTPConnection(*target, timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "authorization", "connection")}
                connection.request(self.command, self.path, body=body or None, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection",
                                           "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                connection.close()

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
           ) -> tuple[subprocess.CompletedProcess[str], dict[str, object], str]:
    (tmp_path / "username").write_text(f"{USER}\n")
    (tmp_path / "password").write_text(f"{password}\n")
    gitops = {"repository": {"url": proxy.url}, "path": "./apps/serving",
              "secretFiles": {"username": "./username", "password": "./password"}}
    if engine == "argocd":
        gitops |= {"engine": "argocd", "version": "v3.1", "root": {}, "path": "apps/serving"}
    scenario = write_scenario(tmp_path, name=f"auth-{engine}", gitops=gitops, sla={
        "rto": "5m", "phases": {"bootstrap": "2m", "workloads": "90s"}})
    result, report = run_drill(scenario, env=base_env(tmp_path))
    outputs = [result.stdout, result.stderr] + [
        p.read_text(errors="replace") for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    return result, report, "\n".join(outputs)


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
