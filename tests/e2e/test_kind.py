"""End to end: a real kind cluster made by drdrill's kind provider on drdrill's own node image.

pytest-kind-ng's `KindCluster` is the independent client here: it is pointed at the test
bed's kind and kubectl binaries (no downloads) and at the kubeconfig drdrill wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_kind import KindCluster  # type: ignore[import-untyped]

from tests.e2e.conftest import KindTestbed


def drdrill(*args: str, env: dict[str, str], cwd: Path,
            timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "drdrill", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def ready(node: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in node["status"].get("conditions", []))


pytestmark = pytest.mark.timeout(1200)


def docker_leftovers(testbed: KindTestbed, name: str) -> list[str]:
    """Containers, networks and volumes of cluster `name` still in Docker."""
    env = {"DOCKER_HOST": testbed.docker_host} if testbed.docker_host else {}
    import os

    env = {**os.environ, **env}
    found = []
    for what, args in (("container", ["ps", "-aq", "--filter",
                                      f"label=io.x-k8s.kind.cluster={name}"]),
                       ("network", ["network", "ls", "-q", "--filter", f"name=^{name}$"]),
                       ("volume", ["volume", "ls", "-q", "--filter", "dangling=true"])):
        out = subprocess.run(["docker", *args], capture_output=True, text=True, env=env,
                             check=True).stdout.split()
        found += [f"{what} {item}" for item in out]
    return found


def test_kind_cluster_up_nodes_ready_gpus_advertised_then_down(
    tmp_path: Path, monkeypatch: Any, kind_testbed: KindTestbed
) -> None:
    monkeypatch.chdir(tmp_path)  # KindCluster keeps its files under ./.pytest-kind
    drill = f"e2e-kind-{uuid.uuid4().hex[:6]}"
    name = f"drdrill-{drill}"
    scenario = tmp_path / "drill.yaml"
    scenario.write_text(yaml.safe_dump({
        "apiVersion": "drdrill/v1alpha1", "kind": "Drill", "metadata": {"name": drill},
        "spec": {
            "cluster": {
                "provider": "kind",
                "kubernetesVersion": "1.35",
                "kind": {"image": kind_testbed.node_image},
                "nodePools": [
                    {"name": "gpu", "count": 1, "gpus": 2, "labels": {"accelerator": "test"},
                     "taints": [{"key": "nvidia.com/gpu", "value": "present",
                                 "effect": "NoSchedule"}]},
                    {"name": "cpu", "count": 1},
                ],
            },
            "sla": {"rto": "30m", "phases": {"cluster": "10m"}},
        },
    }))
    env = kind_testbed.env(tmp_path)
    try:
        started = time.monotonic()
        up = drdrill("cluster", "up", str(scenario), env=env, cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        print(f"kind 1+2 workers: cluster up (every node Ready) in "
              f"{time.monotonic() - started:.1f} s")
        kubeconfig = Path(up.stdout.strip().splitlines()[-1])
        cluster = KindCluster(name, kubeconfig=kubeconfig, kind_path=kind_testbed.kind,
                              kubectl_path=kind_testbed.kubectl)

        listed = json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"]
        assert len(listed) == 3 and all(ready(n) for n in listed)
        pools = sorted(n["metadata"]["labels"].get("drdrill.dev/pool", "-") for n in listed)
        assert pools == ["-", "cpu", "gpu"]  # the control plane has no pool
        (gpu,) = [n for n in listed if n["metadata"]["labels"].get("drdrill.dev/pool") == "gpu"]
        assert gpu["metadata"]["labels"]["accelerator"] == "test"
        assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in (
            gpu["spec"].get("taints", []))
        assert gpu["status"]["capacity"]["nvidia.com/gpu"] == "2"
        assert all(n["status"]["nodeInfo"]["kubeletVersion"] == "v1.35.4" for n in listed)

        status = drdrill("cluster", "status", str(scenario), env=env, cwd=tmp_path)
        assert "3/3 nodes Ready" in status.stdout, status.stdout + status.stderr

        down = drdrill("cluster", "down", str(scenario), env=env, cwd=tmp_path)
        assert down.returncode == 0, down.stderr
        assert docker_leftovers(kind_testbed, name) == []
        assert not (tmp_path / "home" / ".kube" / "config").exists()
    finally:
        subprocess.run([str(kind_testbed.kind), "delete", "cluster", "--name", name],
                       capture_output=True, check=False, timeout=300, env=env)


def _drill_file(tmp_path: Path, image: str) -> Path:
    file = tmp_path / "bad.yaml"
    file.write_text(yaml.safe_dump({
        "apiVersion": "drdrill/v1alpha1", "kind": "Drill", "metadata": {"name": "e2e-bad"},
        "spec": {"cluster": {"provider": "kind", "kind": {"image": image}},
                 "sla": {"rto": "5m"}},
    }))
    return file


def test_no_docker_is_exit_3_with_the_reason(tmp_path: Path, kind_testbed: KindTestbed) -> None:
    env = {**kind_testbed.env(tmp_path), "DOCKER_HOST": f"unix://{tmp_path}/none.sock",
           "DRDRILL_DOCKER_DIR": str(tmp_path / "no-testbed-docker")}
    result = drdrill("cluster", "up", str(_drill_file(tmp_path, kind_testbed.node_image)),
                     env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 3, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("drdrill error:")]
    assert "no Docker answers" in line and "dockerd.sh start" in line


def test_a_missing_node_image_is_exit_3_saying_how_to_build_it(
    tmp_path: Path, kind_testbed: KindTestbed
) -> None:
    result = drdrill("cluster", "up", str(_drill_file(tmp_path, "drdrill.local/kind-node:v0.0.1")),
                     env=kind_testbed.env(tmp_path), cwd=tmp_path, timeout=120)
    assert result.returncode == 3, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("drdrill error:")]
    assert "drdrill.local/kind-node:v0.0.1 is not in Docker" in line and "make testbed" in line
