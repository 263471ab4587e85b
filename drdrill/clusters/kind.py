"""A kind cluster, driven through the `kind` CLI on a Docker daemon.

Node pools become labelled and tainted workers (a few per pool: every node is a container);
GPU pools get their `gpus` as `nvidia.com/gpu` extended resources on those nodes' status, so GPU
scheduling and shortage behave as on kwok. Each cluster gets its own Docker network, created
and removed with it, and its own kubeconfig file (never ~/.kube/config). An existing kind
cluster of the same name is refused and never touched.

The commands, the kind config and the GPU patches are plain values, unit-tested without a
container engine; only `create` / `delete` run them.

The Docker daemon may die while a drill runs: a failing `kind` or `docker` call is then reported
as the daemon having stopped answering (not as kind's own last line), and a teardown that cannot
reach it says what is left and how to remove it once Docker answers again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog
import yaml

from drdrill.clusters.base import ClusterInfo, GitOpsPlacement, RunningSimulation
from drdrill.clusters.docker_engine import DockerEngine, find_docker
from drdrill.clusters.nodes import GPU_RESOURCE, wait_nodes_ready
from drdrill.errors import DrdrillError, InfrastructureError, PrerequisiteError
from drdrill.kubeapi import call_with_retries, new_api_client
from drdrill.proc import Command, run_checked
from drdrill.scenario.models import NodePool
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)

# Upstream kind publishes node images per Kubernetes patch release.
DEFAULT_NODE_VERSION = "v1.35.0"
MAX_WORKERS_PER_POOL = 3  # kind nodes are real containers: keep a laptop alive
POOL_LABEL = "drdrill.dev/pool"
CLUSTER_LABEL = "io.x-k8s.kind.cluster"  # kind labels every node container with it
# Images under this prefix are built locally (testbed/kind/build.sh), never pulled.
LOCAL_IMAGE_PREFIX = "drdrill.local/"
_REPO_ROOT = Path(__file__).resolve().parents[2]
KIND_TESTBED_BUILD = _REPO_ROOT / "testbed" / "kind" / "build.sh"


def node_image(kubernetes_version: str | None, explicit: str | None) -> str:
    if explicit:
        return explicit
    version = kubernetes_version or DEFAULT_NODE_VERSION
    if not version.startswith("v"):
        version = f"v{version}"
    if version.count(".") == 1:
        version = f"{version}.0"
    return f"kindest/node:{version}"


def workers_per_pool(pool: NodePool) -> int:
    return min(pool.count, MAX_WORKERS_PER_POOL)


def kind_config(pools: tuple[NodePool, ...], *, cgroup_v1: bool = False) -> dict[str, Any]:
    """One control plane and a few labelled (and tainted) workers per pool.

    On a cgroup v1 host every kubelet gets `failCgroupV1: false` (Kubernetes 1.35 refuses
    cgroup v1 otherwise)."""
    nodes: list[dict[str, Any]] = [{"role": "control-plane"}]
    for pool in pools:
        for _ in range(workers_per_pool(pool)):
            worker: dict[str, Any] = {
                "role": "worker",
                "labels": {POOL_LABEL: pool.name, **pool.labels},
            }
            if pool.taints:
                taints = ",".join(f"{t.key}={t.value}:{t.effect}" for t in pool.taints)
                worker["kubeadmConfigPatches"] = [
                    "kind: JoinConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n"
                    f"    register-with-taints: \"{taints}\"\n"
                ]
            nodes.append(worker)
    config: dict[str, Any] = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4",
                              "nodes": nodes}
    if cgroup_v1:
        config["kubeadmConfigPatches"] = [
            "kind: KubeletConfiguration\nfailCgroupV1: false\n"
        ]
    return config


def cluster_name(drill: str) -> str:
    return f"drdrill-{drill}"[:40]


def network_name(drill: str) -> str:
    """The cluster's own Docker network (kind's shared `kind` network is never used)."""
    return cluster_name(drill)


def create_command(
    *, drill: str, image: str, config: Path, kubeconfig: Path, wait_seconds: int,
    kind: str = "kind",
) -> Command:
    return Command((
        kind, "create", "cluster", "--name", cluster_name(drill), "--image", image,
        "--config", str(config), "--kubeconfig", str(kubeconfig), "--wait", f"{wait_seconds}s",
    ))


def delete_command(*, drill: str, kubeconfig: Path, kind: str = "kind") -> Command:
    return Command((
        kind, "delete", "cluster", "--name", cluster_name(drill),
        "--kubeconfig", str(kubeconfig),
    ))


def load_command(*, drill: str, images: Sequence[str], kind: str = "kind") -> Command:
    return Command((kind, "load", "docker-image", "--name", cluster_name(drill), *images))


def gpu_patches(pools: Sequence[NodePool], nodes: Sequence[dict[str, Any]]
                ) -> dict[str, dict[str, Any]]:
    """Node name -> status patch giving a GPU pool's nodes `gpus` nvidia.com/gpu (capacity;
    the kubelet copies extended resources into allocatable)."""
    gpus = {pool.name: pool.gpus for pool in pools if pool.gpus}
    patches = {}
    for node in nodes:
        metadata = node.get("metadata") or {}
        pool = (metadata.get("labels") or {}).get(POOL_LABEL)
        if pool in gpus:
            patches[metadata["name"]] = {"status": {"capacity": {GPU_RESOURCE: str(gpus[pool])}}}
    return patches


def testbed_kind_files() -> dict[str, str]:
    """What `make testbed` built for kind (KIND, NODE_IMAGE, FLUX_INSTALL), or {}."""
    if not KIND_TESTBED_BUILD.is_file():
        return {}
    try:
        out = subprocess.run(["bash", str(KIND_TESTBED_BUILD), "--print-dir"], text=True,
                             capture_output=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    env = Path(out) / "env"
    if not (Path(out) / ".complete").is_file() or not env.is_file():
        return {}
    pairs = (line.split("=", 1) for line in env.read_text(encoding="utf-8").splitlines()
             if "=" in line)
    return {key: value for key, value in pairs}


def find_kind() -> str:
    found = shutil.which("kind")
    if found:
        return found
    built = testbed_kind_files().get("KIND")
    if built and os.access(built, os.X_OK):
        return built
    raise PrerequisiteError(
        "kind is not installed: put it on PATH (https://kind.sigs.k8s.io) or run `make testbed`, "
        "which builds it"
    )


@dataclass(frozen=True)
class KindCluster:
    drill: str
    pools: tuple[NodePool, ...]
    kubernetes_version: str | None = None
    image: str | None = None
    config_file: Path | None = None
    load_images: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return "kind"

    def describe(self) -> list[str]:
        image = node_image(self.kubernetes_version, self.image)
        source = str(self.config_file) if self.config_file else "generated from the node pools"
        lines = [f"kind cluster {cluster_name(self.drill)} with {image}, config {source}"]
        if self.config_file is None:
            for pool in self.pools:
                workers = workers_per_pool(pool)
                line = f"pool {pool.name}: {workers} worker(s)"
                if workers < pool.count:
                    line += f" (capped from {pool.count}: every kind node is a container)"
                if pool.gpus:
                    line += (f", {pool.gpus} {GPU_RESOURCE} each advertised as an extended "
                             "resource (emulated: no GPU device)")
                lines.append(line)
        if self.load_images:
            lines.append(f"load images: {', '.join(self.load_images)}")
        lines.append("storage: the node image's default StorageClass `standard` (local-path "
                     "provisioner: a folder on the claiming pod's node, gone with the cluster)")
        return lines

    def start_simulation(self, *, info: ClusterInfo) -> RunningSimulation | None:
        return None  # real nodes, real controllers: nothing is simulated

    def gitops_placement(self, *, info: ClusterInfo) -> GitOpsPlacement:
        """Flux runs as pods (install manifests); a local repository is served on the host's
        address on the cluster's own Docker network, which every node (and pod) reaches."""
        docker = DockerEngine(host=info.components.get("docker-host") or None)
        network = info.components.get("kind-network") or network_name(self.drill)
        gateways = docker.network_gateways(network)
        if not gateways:
            raise InfrastructureError(f"docker network {network} has no IPv4 gateway: the "
                                      "cluster's pods could not reach a local repository")
        return GitOpsPlacement(controllers_in_cluster=True, serve_host=gateways[0])

    def _check_images(self, docker: DockerEngine, image: str) -> None:
        if not docker.has_image(image) and image.startswith(LOCAL_IMAGE_PREFIX):
            raise PrerequisiteError(
                f"node image {image} is not in Docker ({docker.describe()}): build it with "
                "`make testbed` (testbed/kind/build.sh)"
            )
        missing = [i for i in self.load_images if not docker.has_image(i)]
        if missing:
            raise PrerequisiteError(
                f"spec.cluster.kind.loadImages: {', '.join(missing)} not in Docker "
                f"({docker.describe()}): build or pull them first"
            )

    def _refuse_existing(self, docker: DockerEngine) -> None:
        name = cluster_name(self.drill)
        if docker.containers(label=f"{CLUSTER_LABEL}={name}"):
            raise PrerequisiteError(
                f"a kind cluster named {name} already exists ({docker.describe()}); drdrill "
                f"never deletes a cluster it did not create: remove it yourself (`kind delete "
                f"cluster --name {name}`) or rename the drill"
            )

    def create(self, *, deadline: Deadline) -> ClusterInfo:
        kind = find_kind()
        docker = find_docker()
        image = node_image(self.kubernetes_version, self.image)
        self._check_images(docker, image)
        self._refuse_existing(docker)
        cgroup_v1 = docker.run("info", "--format", "{{.CgroupVersion}}").stdout.strip() == "1"
        network = network_name(self.drill)
        network_created = not docker.network_exists(network)
        workdir = Path(tempfile.mkdtemp(prefix=f"drdrill-kind-{self.drill}-"))
        config = self.config_file or workdir / "kind.yaml"
        if self.config_file is None:
            config.write_text(yaml.safe_dump(kind_config(self.pools, cgroup_v1=cgroup_v1),
                                             sort_keys=False))
        kubeconfig = workdir / "kubeconfig"
        env = {**docker.env(), "KIND_EXPERIMENTAL_DOCKER_NETWORK": network}
        info = ClusterInfo(
            name=self.drill, provider="kind", kubeconfig=kubeconfig,
            context=f"kind-{cluster_name(self.drill)}", workdir=workdir,
            components={"kind-node-image": image, "kind": kind,
                        "docker-host": docker.host or "", "kind-network": network,
                        "kind-network-created": "yes" if network_created else "no"},
        )
        try:
            try:
                server = self._start(info, kind=kind, image=image, config=config, env=env,
                                     deadline=deadline)
            except DrdrillError as err:
                if docker.answers():
                    raise
                # kind's and docker's own last lines then only echo a refused connection
                raise InfrastructureError(
                    f"the Docker daemon ({docker.describe()}) stopped answering while the kind "
                    f"cluster was being created: {err}") from err
        except BaseException as err:
            self._undo_failed_create(info, err)
            raise
        return replace(info, server=str(server))

    def _start(self, info: ClusterInfo, *, kind: str, image: str, config: Path,
               env: dict[str, str], deadline: Deadline) -> str:
        """`kind create cluster`, the images to load, every node Ready, GPUs advertised; returns
        the API server's address."""
        kubeconfig = info.kubeconfig
        command = create_command(drill=self.drill, image=image, config=config,
                                 kubeconfig=kubeconfig, kind=kind,
                                 wait_seconds=max(1, int(deadline.remaining())))
        run_checked(Command(command.argv, env=env), timeout=deadline.remaining() + 30,
                    what="kind create cluster")
        if self.load_images:
            load = load_command(drill=self.drill, images=self.load_images, kind=kind)
            run_checked(Command(load.argv, env=env), timeout=max(deadline.remaining(), 60),
                        what="kind load docker-image")
        api = new_api_client(kubeconfig=kubeconfig)
        try:
            expected = 1 + sum(workers_per_pool(p) for p in self.pools)
            if self.config_file is None:
                wait_nodes_ready(api, expected=expected, deadline=deadline)
            self._advertise_gpus(api, deadline=deadline)
            return str(api.configuration.host)
        finally:
            api.close()

    def _undo_failed_create(self, info: ClusterInfo, err: BaseException) -> None:
        """Remove what a failed create left; a teardown that fails too is part of the error
        (an interruption stays an interruption, its teardown problem is logged)."""
        try:
            self.delete(info)
        except DrdrillError as cleanup:
            if not isinstance(err, DrdrillError):
                log.error("kind cluster teardown after an interruption failed", error=str(cleanup))
                return
            raise InfrastructureError(f"{err}; cleanup attempted: {cleanup}") from err

    def _advertise_gpus(self, api: Any, *, deadline: Deadline) -> None:
        from kubernetes import client

        core = client.CoreV1Api(api)
        nodes = call_with_retries(lambda: core.list_node().to_dict(), deadline=deadline)
        items = [{"metadata": {"name": n["metadata"]["name"],
                               "labels": n["metadata"].get("labels") or {}}}
                 for n in nodes["items"]]
        for node, patch in gpu_patches(self.pools, items).items():
            _patch_status(core, node=node, patch=patch, deadline=deadline)
            log.info("GPUs advertised as extended resources", node=node,
                     gpus=patch["status"]["capacity"][GPU_RESOURCE])

    def delete(self, info: ClusterInfo) -> None:
        """Delete the cluster's containers (and their volumes), its own network and workdir;
        errors name what is left."""
        components = info.components
        docker = DockerEngine(host=components.get("docker-host") or None)
        env = {**docker.env(), "KIND_EXPERIMENTAL_DOCKER_NETWORK": network_name(self.drill)}
        kind = components.get("kind") or shutil.which("kind")
        problems = []
        if kind and Path(kind).exists():
            try:
                command = delete_command(drill=self.drill, kubeconfig=info.kubeconfig, kind=kind)
                run_checked(Command(command.argv, env=env), timeout=120,
                            what="kind delete cluster")
            except InfrastructureError as err:
                problems.append(str(err))
        name = cluster_name(self.drill)
        try:
            left = docker.containers(label=f"{CLUSTER_LABEL}={name}")
            if left:  # kind missing or failed: remove the node containers and their volumes
                if docker.thaw(left):  # a frozen runc init keeps a node from being killed
                    log.warning("kind teardown: thawed frozen cgroups in node containers",
                                containers=left)
                docker.run("rm", "--force", "--volumes", *left, timeout=120)
                left = docker.containers(label=f"{CLUSTER_LABEL}={cluster_name(self.drill)}")
            if left:
                problems.append(f"containers left: {' '.join(left)}")
            network = components.get("kind-network")
            if network and components.get("kind-network-created") == "yes":
                docker.remove_network(network)
        except (InfrastructureError, PrerequisiteError) as err:
            problems.append(str(err))
        if info.workdir is not None:
            shutil.rmtree(info.workdir, ignore_errors=True)
        if problems and not docker.answers():
            network = components.get("kind-network")
            created = network and components.get("kind-network-created") == "yes"
            raise InfrastructureError(
                f"kind cluster {name} teardown: the Docker daemon ({docker.describe()}) does not "
                f"answer, so the node containers labelled {CLUSTER_LABEL}={name}, their volumes"
                + (f" and the network {network}" if created else "")
                + f" may be left; once Docker answers again: `kind delete cluster --name {name}`"
                + (f", `docker network rm {network}`" if created else "")
                + f" (what failed: {'; '.join(problems)})")
        if problems:
            raise InfrastructureError(f"kind cluster {name} teardown: " + "; ".join(problems))


def _patch_status(core: Any, *, node: str, patch: dict[str, Any], deadline: Deadline) -> None:
    call_with_retries(lambda: core.patch_node_status(node, patch), deadline=deadline)
