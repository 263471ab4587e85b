"""The apiserver dies and comes back during the workloads wait: the drill carries on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tests.integration.gitops.drills import (
    NAMESPACE,
    base_env,
    deployment,
    phase,
    write_repo,
    write_scenario,
)


def apiserver_component(workdir: Path) -> dict[str, Any]:
    for document in yaml.safe_load_all((workdir / "kwok.yaml").read_text()):
        if document and document.get("kind") == "KwokctlConfiguration":
            return next(c for c in document["components"] if c["name"] == "kube-apiserver")
    raise AssertionError("no kube-apiserver component in kwok.yaml")


def restart_apiserver(cluster_dir: Path) -> None:
    """SIGKILL the apiserver by its pid, then start it again exactly as kwokctl did (unless
    the drill has torn its cluster down in the meantime)."""
    pid_file = cluster_dir / "pids" / "kube-apiserver.pid"
    component = apiserver_component(cluster_dir)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    time.sleep(3)
    if not pid_file.exists():
        return
    with (cluster_dir / "logs" / "kube-apiserver.log").open("ab") as log:
        process = subprocess.Popen(
            [component["binary"], *component["args"]], cwd=component["workDir"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    # Teardown stops components by the pids kwokctl recorded: keep that true.
    pid_file.write_text(str(process.pid))


def test_drill_survives_an_apiserver_restart_during_the_wait(tmp_path: Path) -> None:
    write_repo(tmp_path, [NAMESPACE, deployment("slow-a", replicas=2),
                          deployment("slow-b")])
    scenario = write_scenario(
        tmp_path, name="restart", gitops={},
        kwok={"readinessDelay": "20s"}, pools=[{"name": "cpu", "count": 2}],
        sla={"rto": "5m", "phases": {"workloads": "3m"}},
    )
    env = {**base_env(tmp_path), "TMPDIR": str(tmp_path)}
    drill = subprocess.Popen(
        [sys.executable, "-m", "drdrill", "--log-format", "json", "run", str(scenario),
         "--report-dir", str(tmp_path / "reports")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert drill.stderr is not None
    restarted = False
    for line in drill.stderr:
        event = json.loads(line) if line.startswith("{") else {}
        if event.get("event") == "phase finished" and event.get("phase") == "bootstrap":
            assert event["status"] == "passed", event
            cluster_dir = next(tmp_path.glob("drdrill-kwok-restart-*/clusters/drdrill-restart"))
            restart_apiserver(cluster_dir)
            restarted = True
    assert drill.wait(timeout=300) in (0, 1)
    assert restarted
    report = json.loads((tmp_path / "reports" / "restart" / "latest" / "report.json").read_text())
    workloads = phase(report, "workloads")
    assert workloads["status"] == "passed", workloads
    assert {w["name"] for w in report["workloads"] if w["healthy"]} >= {"slow-a", "slow-b"}
    assert phase(report, "teardown")["status"] == "passed"
