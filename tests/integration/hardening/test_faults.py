"""Faults on the real local test bed: the apiserver killed and restarted in each phase, the
git server killed as Flux fetches, and an S3 endpoint answering 503 and 500 (a small in-test
proxy in front of versitygw). A drill may then pass, fail or (its infrastructure broke) not be
carried out, but it says why in its report, never crashes, never claims a pass for objects it
could not read, and leaves nothing behind. (Further faults: tests/integration/backups/
test_faults.py for S3 resets, latency and cuts; test_s3_bounds.py for a full disk.)"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from drdrill.backups.s3client import S3Endpoint, make_s3_client
from drdrill.backups.setcheck import check_backup_set
from drdrill.scenario.models import BackupSet
from drdrill.timing import Deadline
from tests.integration.gitops.test_apiserver_restart import restart_apiserver
from tests.integration.hardening.campaign import (
    Interruption,
    Moment,
    kill_leaked,
    run_interrupted,
    write_platform,
)
from tests.integration.hardening.test_signal_campaign import drill  # noqa: F401 - fixture
from tests.integration.http_forward import forward
from tests.integration.s3_server import S3Server, credential_env

APISERVER_MOMENTS = [
    # the cluster phase: once kwokctl has started the apiserver, while the nodes register
    Moment("cluster create", r'"drill started"', 4.0),
    Moment("bootstrap script", r'"bootstrap script starting"', 0.5),
    Moment("gitops wait", r'"controller": "kustomize-controller"', 0.3),
    Moment("workloads wait", r'"phase": "bootstrap", "status"', 0.3),
    Moment("restore", r'"phase": "workloads", "status"', 0.3),
]


def _apiserver_pid_file(tmpdir: Path) -> Path:
    """The pid file kwokctl wrote for the drill's apiserver (waiting for it, and for the
    configuration that says how to start it again, while the cluster is being created)."""
    ends = time.monotonic() + 60
    while time.monotonic() < ends:
        found = list(tmpdir.glob("drdrill-kwok-*/clusters/drdrill-*/pids/kube-apiserver.pid"))
        if (found and found[0].read_text().strip()
                and (found[0].parent.parent / "kwok.yaml").is_file()):
            return found[0]
        time.sleep(0.1)
    raise AssertionError("the drill's apiserver never started")


def _restart_apiserver(tmpdir: Path) -> None:
    restart_apiserver(_apiserver_pid_file(tmpdir).parent.parent)


def _kill_apiserver(tmpdir: Path) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(int(_apiserver_pid_file(tmpdir).read_text()), signal.SIGKILL)


@pytest.mark.parametrize("moment", APISERVER_MOMENTS, ids=lambda m: m.name)
def test_the_apiserver_killed_and_restarted(drill: tuple[Path, dict[str, str]],  # noqa: F811
                                            tmp_path: Path, moment: Moment) -> None:
    scenario, env = drill
    # Budgets per phase: a wait that never recovers ends as a failure, not at the 10 m RTO.
    document = yaml.safe_load(scenario.read_text())
    document["spec"]["sla"]["phases"] = {"bootstrap": "2m", "workloads": "90s", "backups": "90s"}
    bounded = scenario.with_name(f"bounded-{moment.name.replace(' ', '-')}.yaml")
    bounded.write_text(yaml.safe_dump(document, sort_keys=False))
    outcome = run_interrupted(bounded, Interruption(moment, signal.SIGKILL, False), env=env,
                              workdir=tmp_path, fault=_restart_apiserver)
    print(f"{moment.name}: exit {outcome.exit_code}, {outcome.verdict}, {outcome.seconds}s")
    kill_leaked(outcome.leaked_pids)
    assert outcome.fired, outcome.stderr_tail
    assert outcome.leaks == []
    # Passed, failed, or (the infrastructure broke: a controller that could not start while
    # the apiserver was down) not carried out: always said in a report, never a crash.
    assert (outcome.exit_code, outcome.verdict) in ((0, "pass"), (1, "fail"), (3, "error")), (
        outcome.stderr_tail)
    assert "unexpected" not in outcome.stderr_tail


def test_the_apiserver_killed_during_teardown_leaves_nothing(
        drill: tuple[Path, dict[str, str]], tmp_path: Path) -> None:  # noqa: F811
    """Teardown stops the cluster's processes by their pids, not through the apiserver: with
    the apiserver dead as teardown begins, the verdict stands and nothing is left."""
    scenario, env = drill
    moment = Moment("teardown", r'"phase": "backups", "status"', 0.0)
    outcome = run_interrupted(scenario, Interruption(moment, signal.SIGKILL, False), env=env,
                              workdir=tmp_path, fault=_kill_apiserver)
    kill_leaked(outcome.leaked_pids)
    assert outcome.fired, outcome.stderr_tail
    assert outcome.leaks == []
    assert (outcome.exit_code, outcome.verdict) == (0, "pass"), outcome.stderr_tail
    assert "unexpected" not in outcome.stderr_tail


@pytest.fixture
def external_git(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The platform repository served by a separate process, so the test can kill it."""
    write_platform(tmp_path, s3_uri="s3://none/x/")
    code = ("import sys, time; from pathlib import Path; "
            "from drdrill.gitops.gitserver import serve_repository; "
            "s = serve_repository(Path(sys.argv[1])); print(s.url, flush=True); time.sleep(600)")
    server = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "platform")],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    yield url, server
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=10)


def test_the_git_server_killed_as_flux_fetches(tmp_path: Path,
                                               external_git: tuple[str, subprocess.Popen[str]],
                                               ) -> None:
    url, server = external_git
    document = {
        "apiVersion": "drdrill/v1alpha1", "kind": "Drill",
        "metadata": {"name": f"gitdies-{uuid.uuid4().hex[:6]}"},
        "spec": {"cluster": {"provider": "kwok", "nodePools": [{"name": "cpu", "count": 1}]},
                 "gitops": {"engine": "flux", "version": "v2.7", "repository": {"url": url},
                            "ref": {"branch": "main"},
                            "path": "./clusters/drill"},
                 "sla": {"rto": "5m", "phases": {"bootstrap": "40s"}}},
    }
    scenario = tmp_path / "drill.yaml"
    scenario.write_text(yaml.safe_dump(document))

    def kill_git(_tmpdir: Path) -> None:
        os.killpg(server.pid, signal.SIGKILL)

    moment = Moment("git server killed", r'"controller": "source-controller"', 0.0)
    outcome = run_interrupted(scenario, Interruption(moment, signal.SIGKILL, False),
                              env=dict(os.environ), workdir=tmp_path / "run", fault=kill_git)
    kill_leaked(outcome.leaked_pids)
    assert outcome.fired and outcome.leaks == []
    if outcome.exit_code == 0:  # Flux had its artifact before the server went: a real pass
        return
    assert outcome.exit_code == 1 and outcome.verdict == "fail", outcome.stderr_tail
    assert '"phase": "bootstrap", "status": "failed"' in outcome.stderr_tail


class _FaultyS3(BaseHTTPRequestHandler):
    """Forwards to versitygw; the first GET of each path answers 503, one key always 500."""

    upstream: tuple[str, int] = ("127.0.0.1", 0)
    seen: set[str] = set()
    broken_suffix = "/broken.bin"
    lock = threading.Lock()
    answered: dict[int, int] = {}

    def do_GET(self) -> None:
        with self.lock:
            first = self.path not in self.seen and "list-type" not in self.path
            self.seen.add(self.path)
        if self.path.split("?")[0].endswith(self.broken_suffix):
            return self._error(500, "InternalError")
        if first and "MANIFEST" not in self.path:
            return self._error(503, "SlowDown")
        return self._forward()

    do_HEAD = do_GET

    def _error(self, status: int, code: str) -> None:
        body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
        with self.lock:
            self.answered[status] = self.answered.get(status, 0) + 1
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self) -> None:
        forward(self, self.upstream, timeout=30)

    def log_message(self, format: str, *args: object) -> None:
        return None


def test_s3_503_is_retried_and_500_on_one_key_fails_only_that_key(
        s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in credential_env(s3_server).items():
        monkeypatch.setenv(name, value)
    client = s3_server.client()
    bucket = f"faulty-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    for key in ("a.bin", "b.bin", "c.bin", "broken.bin"):
        client.put_object(Bucket=bucket, Key=f"set/{key}", Body=key.encode() * 1000)
    _FaultyS3.upstream = ("127.0.0.1", s3_server.port)
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _FaultyS3)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        endpoint = S3Endpoint(endpoint_url=f"http://127.0.0.1:{proxy.server_address[1]}")
        result, _ = check_backup_set(
            make_s3_client(endpoint=endpoint), backup_set=BackupSet(
                name="models", bucket=bucket, prefix="set/", holds="artifacts"),
            endpoint=endpoint, rpo_seconds=None, folder=tmp_path / "r",
            deadline=Deadline.after(120), now=datetime.now(UTC))
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert _FaultyS3.answered.get(503, 0) >= 3 and _FaultyS3.answered.get(500, 0) >= 1
    assert not result.verified
    assert [f.key for f in result.failures] == ["broken.bin"]
    assert result.objects_checked == 3
