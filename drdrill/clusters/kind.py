"""A kind cluster, driven through the `kind` CLI (needs a container engine).

The commands and the kind config are built as plain values first, so they are unit-tested
without a container engine; only `create` / `delete` run them.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from drdrill.clusters.base import ClusterInfo, RunningSimulation
from drdrill.errors import PrerequisiteError
from drdrill.proc import Command, run_checked
from drdrill.scenario.models import NodePool
from drdrill.timing import Deadline

# Upstream kind publishes node images per Kubernetes patch release.
DEFAULT_NODE_VERSION = "v1.35.0"
MAX_WORKERS_PER_POOL = 3  # kind nodes are real containers: keep a laptop alive


def node_image(kubernetes_version: str | None, explicit: str | None) -> str:
    if explicit:
        return explicit
    version = kubernetes_version or DEFAULT_NODE_VERSION
    if not version.startswith("v"):
        version = f"v{version}"
    if version.count(".") == 1:
        version = f"{version}.0"
    return f"kindest/node:{version}"


def kind_config(pools: tuple[NodePool, ...]) -> dict[str, Any]:
    """One control plane and a few labelled (and tainted) workers per pool."""
    nodes: list[dict[str, Any]] = [{"role": "control-plane"}]
    for pool in pools:
        for _ in range(min(pool.count, MAX_WORKERS_PER_POOL)):
            worker: dict[str, Any] = {
                "role": "worker",
                "labels": {"drdrill.dev/pool": pool.name, **pool.labels},
            }
            if pool.taints:
                taints = ",".join(f"{t.key}={t.value}:{t.effect}" for t in pool.taints)
                worker["kubeadmConfigPatches"] = [
                    "kind: JoinConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n"
                    f"    register-with-taints: \"{taints}\"\n"
                ]
            nodes.append(worker)
    return {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "nodes": nodes}


def cluster_name(drill: str) -> str:
    return f"drdrill-{drill}"[:40]


def create_command(
    *, drill: str, image: str, config: Path, kubeconfig: Path, wait_seconds: int
) -> Command:
    return Command((
        "kind", "create", "cluster", "--name", cluster_name(drill), "--image", image,
        "--config", str(config), "--kubeconfig", str(kubeconfig), "--wait", f"{wait_seconds}s",
    ))


def delete_command(*, drill: str, kubeconfig: Path) -> Command:
    return Command((
        "kind", "delete", "cluster", "--name", cluster_name(drill),
        "--kubeconfig", str(kubeconfig),
    ))


@dataclass(frozen=True)
class KindCluster:
    drill: str
    pools: tuple[NodePool, ...]
    kubernetes_version: str | None = None
    image: str | None = None
    config_file: Path | None = None

    @property
    def name(self) -> str:
        return "kind"

    def describe(self) -> list[str]:
        image = node_image(self.kubernetes_version, self.image)
        source = str(self.config_file) if self.config_file else "generated from the node pools"
        return [f"kind cluster {cluster_name(self.drill)} with {image}, config {source}"]

    def create(self, *, deadline: Deadline) -> ClusterInfo:
        if shutil.which("kind") is None:
            raise PrerequisiteError("kind is not installed; see https://kind.sigs.k8s.io")
        workdir = Path(tempfile.mkdtemp(prefix=f"drdrill-kind-{self.drill}-"))
        config = self.config_file or workdir / "kind.yaml"
        if self.config_file is None:
            config.write_text(yaml.safe_dump(kind_config(self.pools), sort_keys=False))
        kubeconfig = workdir / "kubeconfig"
        image = node_image(self.kubernetes_version, self.image)
        command = create_command(drill=self.drill, image=image, config=config,
                                 kubeconfig=kubeconfig, wait_seconds=int(deadline.remaining()))
        info = ClusterInfo(name=self.drill, provider="kind", kubeconfig=kubeconfig,
                           context=f"kind-{cluster_name(self.drill)}", workdir=workdir,
                           components={"kind-node-image": image})
        try:
            run_checked(command, timeout=deadline.remaining() + 30, what="kind create cluster")
        except BaseException:
            self.delete(info)
            raise
        return info

    def start_simulation(self, *, info: ClusterInfo) -> RunningSimulation | None:
        return None  # real nodes, real controllers: nothing is simulated

    def delete(self, info: ClusterInfo) -> None:
        if shutil.which("kind") is not None:
            run_checked(delete_command(drill=self.drill, kubeconfig=info.kubeconfig),
                        timeout=120, what="kind delete cluster")
        if info.workdir is not None:
            shutil.rmtree(info.workdir, ignore_errors=True)
