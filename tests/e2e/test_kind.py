"""Opt-in end to end: a real kind cluster made by drdrill's kind provider, as CI would run it.

Needs a container engine and the `kind` binary, so it is not part of `make test` (pyproject's
addopts deselect the `kind` marker). Run it with:

    .venv/bin/python -m pytest -m kind tests/e2e

pytest-kind-ng's `KindCluster` is the independent client here: it is pointed at the kind and
kubectl binaries already installed (no downloads) and at the kubeconfig drdrill wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_kind import KindCluster  # type: ignore[import-untyped]

pytestmark = pytest.mark.kind

KUBERNETES_VERSION = os.environ.get("DRDRILL_KIND_KUBERNETES_VERSION", "1.35")


def container_engine_problem() -> str | None:
    """Why this machine cannot run kind, or None when it can."""
    engine = os.environ.get("KIND_EXPERIMENTAL_PROVIDER", "docker")
    if shutil.which("kind") is None:
        return "no `kind` binary on PATH (https://kind.sigs.k8s.io)"
    if shutil.which(engine) is None:
        return f"no container engine: `{engine}` is not installed"
    try:
        info = subprocess.run([engine, "info"], capture_output=True, text=True, timeout=30,
                              check=False)
    except subprocess.TimeoutExpired:
        return f"no container engine: `{engine} info` did not answer in 30s"
    if info.returncode != 0:
        why = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return f"no container engine: `{engine} info` failed ({why})"
    return None


def kubectl_binary() -> Path | None:
    found = shutil.which("kubectl")
    if found:
        return Path(found)
    from drdrill.testbed import testbed_dir

    bundled = testbed_dir() / "bin" / "kubectl"
    return bundled if bundled.is_file() else None


def drdrill(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "drdrill", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900, check=False)


def ready(node: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in node["status"].get("conditions", []))


@pytest.fixture
def kind_available() -> None:
    problem = container_engine_problem()
    if problem is not None:
        pytest.skip(f"kind end-to-end test needs a container engine and kind: {problem}")
    if kubectl_binary() is None:
        pytest.skip("kind end-to-end test needs kubectl (on PATH or from `make testbed`)")


@pytest.mark.usefixtures("kind_available")
def test_kind_cluster_up_nodes_ready_then_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
                "kubernetesVersion": KUBERNETES_VERSION,
                "nodePools": [
                    {"name": "gpu", "count": 1, "gpus": 1, "labels": {"accelerator": "test"},
                     "taints": [{"key": "nvidia.com/gpu", "value": "present",
                                 "effect": "NoSchedule"}]},
                    {"name": "cpu", "count": 1},
                ],
            },
            "sla": {"rto": "30m", "phases": {"cluster": "10m"}},
        },
    }))
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHONUNBUFFERED": "1"}
    kind = Path(str(shutil.which("kind")))
    try:
        up = drdrill("cluster", "up", str(scenario), env=env, cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        kubeconfig = Path(up.stdout.strip().splitlines()[-1])
        cluster = KindCluster(name, kubeconfig=kubeconfig, kind_path=kind,
                              kubectl_path=kubectl_binary())

        def nodes() -> list[dict[str, Any]]:
            return list(json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"])

        ends = time.monotonic() + 300
        while not (all(ready(n) for n in nodes()) and len(nodes()) == 3):
            assert time.monotonic() < ends, "kind nodes not all Ready in 300s"
            time.sleep(2)
        listed = nodes()
        pools = sorted(n["metadata"]["labels"].get("drdrill.dev/pool", "-") for n in listed)
        assert pools == ["-", "cpu", "gpu"]  # the control plane has no pool
        (gpu,) = [n for n in listed if n["metadata"]["labels"].get("drdrill.dev/pool") == "gpu"]
        assert gpu["metadata"]["labels"]["accelerator"] == "test"
        assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in (
            gpu["spec"].get("taints", []))
        assert all(n["status"]["nodeInfo"]["kubeletVersion"].startswith(f"v{KUBERNETES_VERSION}")
                   for n in listed)

        status = drdrill("cluster", "status", str(scenario), env=env, cwd=tmp_path)
        assert "kind cluster up" in status.stdout
        assert "3/3 nodes Ready" in status.stdout

        down = drdrill("cluster", "down", str(scenario), env=env, cwd=tmp_path)
        assert down.returncode == 0, down.stderr
        clusters = subprocess.run([str(kind), "get", "clusters"], capture_output=True,
                                  text=True, check=True).stdout.split()
        assert name not in clusters
    finally:
        subprocess.run([str(kind), "delete", "cluster", "--name", name], capture_output=True,
                       check=False, timeout=300)
