"""SIGINT / SIGTERM to a real `drdrill run` once its cluster is up: exit code 3, a report with
verdict `interrupted`, and nothing left running (cluster components, Flux controllers, ports)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.clusters.processes import (
    apiserver_port,
    assert_port_closed,
    cluster_pids,
    command_line,
    descendants,
    left_over,
    saved_state,
    state_path,
    stop_leftovers,
    unique_drill,
    wait_until,
    write_scenario,
)


@pytest.fixture
def silent_git_server() -> Iterator[str]:
    """A git URL whose server accepts connections and never answers: Flux waits on it for
    its whole timeout, so the bootstrap phase is surely still running when the signal comes."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}/platform.git"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_run_exits_3_reports_interrupted_and_leaves_nothing(
    tmp_path: Path, drill_env: dict[str, str], silent_git_server: str, sig: signal.Signals
) -> None:
    drill = unique_drill(f"intr-{sig.name.lower()}")
    scenario = write_scenario(
        tmp_path, drill,
        cluster={"provider": "kwok", "nodePools": [{"name": "cpu", "count": 2}]},
        gitops={"engine": "flux", "version": "v2.7", "repository": {"url": silent_git_server},
                "ref": {"branch": "main"}, "path": "./"},
        phases={"cluster": "2m", "bootstrap": "5m"},
    )
    reports = tmp_path / "reports"
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    with stdout.open("w") as out, stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "drdrill", "run", str(scenario), "--report-dir", str(reports)],
            cwd=tmp_path, env=drill_env, stdout=out, stderr=err, start_new_session=True,
        )
    pids: dict[str, int] = {}
    children: set[int] = set()

    def still_running(what: str) -> None:
        if proc.poll() is not None:
            pytest.fail(f"drdrill run ended (exit {proc.returncode}) before {what}: "
                        f"{stderr.read_text()[-2000:]}")

    try:
        def cluster_saved() -> bool:
            still_running("the cluster was up")
            return state_path(drill_env, drill).exists()

        wait_until(cluster_saved, timeout=120, what="cluster state saved")
        state = saved_state(drill_env, drill)
        workdir = Path(state["workdir"])
        pids = wait_until(lambda: (found := cluster_pids(workdir, drill)) and len(found) == 5
                          and found, timeout=120, what="kwok pid files")
        port = apiserver_port(Path(state["kubeconfig"]))

        def flux_running() -> bool:
            still_running("the Flux controllers started")
            return any("source-controller" in command_line(pid)
                       for pid in descendants(proc.pid))

        # Mid-bootstrap: the script has run and the local Flux controllers are waiting on Git.
        wait_until(flux_running, timeout=90, what="local Flux controllers started")
        children = descendants(proc.pid)
        assert len(left_over(pids)) == 5

        os.kill(proc.pid, sig)
        exit_code = proc.wait(timeout=120)

        assert exit_code == 3, stderr.read_text()[-2000:]
        assert "interrupted" in stdout.read_text()
        report_file = reports / drill / "latest" / "report.json"
        report = json.loads(report_file.read_text())
        assert report["verdict"] == "interrupted"
        assert left_over(pids) == [], "kwok components left"
        assert left_over(children) == [], "drdrill's own children left"
        assert_port_closed(port)
        assert not workdir.exists()
        assert not state_path(drill_env, drill).exists()
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        stop_leftovers(pids)
        stop_leftovers(children)
