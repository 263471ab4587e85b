"""The kind provider's plain values: node image, generated kind config, the commands it runs."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

import drdrill.clusters.kind as kind_module
from drdrill.clusters.docker_engine import DockerEngine
from drdrill.clusters.kind import (
    DEFAULT_NODE_VERSION,
    MAX_WORKERS_PER_POOL,
    KindCluster,
    cluster_name,
    create_command,
    delete_command,
    gpu_patches,
    kind_config,
    load_command,
    node_image,
)
from drdrill.errors import PrerequisiteError
from drdrill.scenario.models import NodePool, Taint
from drdrill.timing import Deadline


@pytest.mark.parametrize(("version", "image"), [
    ("1.35", "kindest/node:v1.35.0"),
    ("v1.35", "kindest/node:v1.35.0"),
    ("1.34.2", "kindest/node:v1.34.2"),
    ("v1.33.1", "kindest/node:v1.33.1"),
    (None, f"kindest/node:{DEFAULT_NODE_VERSION}"),
])
def test_node_image_follows_the_kubernetes_version(version: str | None, image: str) -> None:
    assert node_image(version, None) == image


def test_an_explicit_node_image_wins_over_the_version() -> None:
    explicit = "registry.example.com/kindest/node:v1.30.0@sha256:abc"
    assert node_image("1.35", explicit) == explicit


GPU = NodePool(name="gpu", count=2, gpus=4, labels={"accelerator": "h100"},
               taints=(Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule"),
                       Taint(key="dedicated", value="ml", effect="NoExecute")))
CPU = NodePool(name="cpu", count=50)


def test_kind_config_has_one_control_plane_and_workers_per_pool() -> None:
    config = kind_config((GPU, CPU))
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    roles = [node["role"] for node in config["nodes"]]
    assert roles == ["control-plane"] + ["worker"] * (2 + MAX_WORKERS_PER_POOL)


def test_kind_workers_carry_pool_labels_and_taints() -> None:
    workers = [n for n in kind_config((GPU, CPU))["nodes"] if n["role"] == "worker"]
    gpu_workers = [w for w in workers if w["labels"]["drdrill.dev/pool"] == "gpu"]
    cpu_workers = [w for w in workers if w["labels"]["drdrill.dev/pool"] == "cpu"]
    assert len(gpu_workers) == 2
    assert len(cpu_workers) == MAX_WORKERS_PER_POOL  # 50 asked for, capped per pool
    for worker in gpu_workers:
        assert worker["labels"] == {"drdrill.dev/pool": "gpu", "accelerator": "h100"}
        (patch,) = worker["kubeadmConfigPatches"]
        parsed = yaml.safe_load(patch)
        assert parsed["kind"] == "JoinConfiguration"
        taints = parsed["nodeRegistration"]["kubeletExtraArgs"]["register-with-taints"]
        assert taints == "nvidia.com/gpu=present:NoSchedule,dedicated=ml:NoExecute"
    assert all("kubeadmConfigPatches" not in w for w in cpu_workers)


def test_kind_config_round_trips_through_yaml() -> None:
    config = kind_config((GPU,))
    assert yaml.safe_load(yaml.safe_dump(config)) == config


def test_create_and_delete_commands(tmp_path: Path) -> None:
    config, kubeconfig = tmp_path / "kind.yaml", tmp_path / "kubeconfig"
    create = create_command(drill="nightly", image="kindest/node:v1.35.0", config=config,
                            kubeconfig=kubeconfig, wait_seconds=300)
    assert create.argv == (
        "kind", "create", "cluster", "--name", "drdrill-nightly",
        "--image", "kindest/node:v1.35.0", "--config", str(config),
        "--kubeconfig", str(kubeconfig), "--wait", "300s",
    )
    delete = delete_command(drill="nightly", kubeconfig=kubeconfig)
    assert delete.argv == ("kind", "delete", "cluster", "--name", "drdrill-nightly",
                           "--kubeconfig", str(kubeconfig))


def test_cluster_name_is_capped() -> None:
    assert len(cluster_name("x" * 80)) <= 40
    assert cluster_name("x" * 80).startswith("drdrill-")


def test_describe_names_the_image_and_the_config_source(tmp_path: Path) -> None:
    generated = KindCluster(drill="d", pools=(GPU,), kubernetes_version="1.34")
    assert "kindest/node:v1.34.0" in generated.describe()[0]
    assert "generated from the node pools" in generated.describe()[0]
    given = KindCluster(drill="d", pools=(GPU,), config_file=tmp_path / "kind.yaml")
    assert str(tmp_path / "kind.yaml") in given.describe()[0]


def test_create_without_kind_is_a_prerequisite_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(kind_module, "testbed_kind_files", dict)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(PrerequisiteError, match="kind is not installed"):
        KindCluster(drill="d", pools=(GPU,)).create(deadline=Deadline.after(10))
    assert list(tmp_path.iterdir()) == []


def test_cgroup_v1_hosts_get_fail_cgroup_v1_false_for_every_kubelet() -> None:
    assert "kubeadmConfigPatches" not in kind_config((GPU,))
    (patch,) = kind_config((GPU,), cgroup_v1=True)["kubeadmConfigPatches"]
    assert yaml.safe_load(patch) == {"kind": "KubeletConfiguration", "failCgroupV1": False}


def test_gpu_pools_get_their_gpus_as_extended_resources_on_their_nodes() -> None:
    nodes = [
        {"metadata": {"name": "cp", "labels": {}}},
        {"metadata": {"name": "w1", "labels": {"drdrill.dev/pool": "gpu"}}},
        {"metadata": {"name": "w2", "labels": {"drdrill.dev/pool": "cpu"}}},
    ]
    assert gpu_patches((GPU, CPU), nodes) == {
        "w1": {"status": {"capacity": {"nvidia.com/gpu": "4"}}},
    }


def test_load_command_names_the_cluster_and_every_image() -> None:
    command = load_command(drill="d", images=("a:1", "b:2"), kind="/opt/kind")
    assert command.argv == ("/opt/kind", "load", "docker-image", "--name", "drdrill-d",
                            "a:1", "b:2")


def test_plan_says_what_is_capped_and_what_is_emulated() -> None:
    lines = KindCluster(drill="d", pools=(GPU, CPU), load_images=("x:1",)).describe()
    text = "\n".join(lines)
    assert f"pool cpu: {MAX_WORKERS_PER_POOL} worker(s) (capped from 50" in text
    assert "pool gpu: 2 worker(s), 4 nvidia.com/gpu each" in text and "emulated" in text
    assert "load images: x:1" in text


@dataclass(frozen=True)
class FakeDocker(DockerEngine):
    """Answers `docker` calls from a table: args prefix -> (exit code, stdout)."""

    table: dict[tuple[str, ...], tuple[int, str]] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        for prefix, (code, out) in self.table.items():
            if args[:len(prefix)] == prefix:
                return subprocess.CompletedProcess(args, code, out, "")
        return subprocess.CompletedProcess(args, 1, "", "no such object")


def test_an_existing_cluster_of_the_same_name_is_refused_and_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docker = FakeDocker(host=None, table={("info",): (0, "1"),
                                          ("image", "inspect"): (0, "sha256:x"),
                                          ("ps",): (0, "abc123\n")})
    monkeypatch.setattr(kind_module, "find_kind", lambda: "/opt/kind")
    monkeypatch.setattr(kind_module, "find_docker", lambda: docker)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(PrerequisiteError, match=r"drdrill-d already exists.*never deletes"):
        KindCluster(drill="d", pools=(GPU,)).create(deadline=Deadline.after(10))
    assert not any(call[0] in ("rm", "network") for call in docker.calls)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_local_node_image_says_how_to_build_it(monkeypatch: pytest.MonkeyPatch) -> None:
    docker = FakeDocker(host=None, table={("info",): (0, "1")})
    monkeypatch.setattr(kind_module, "find_kind", lambda: "/opt/kind")
    monkeypatch.setattr(kind_module, "find_docker", lambda: docker)
    with pytest.raises(PrerequisiteError, match=r"drdrill\.local/kind-node:v1\.35\.4 is not in "
                       r"Docker.*make testbed"):
        KindCluster(drill="d", pools=(), image="drdrill.local/kind-node:v1.35.4").create(
            deadline=Deadline.after(10))


def test_images_to_load_must_be_in_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    docker = FakeDocker(host=None,
                        table={("image", "inspect", "--format", "{{.Id}}", "node"): (0, "x")})
    monkeypatch.setattr(kind_module, "find_kind", lambda: "/opt/kind")
    monkeypatch.setattr(kind_module, "find_docker", lambda: docker)
    with pytest.raises(PrerequisiteError, match="loadImages: model:1 not in Docker"):
        KindCluster(drill="d", pools=(), image="node", load_images=("model:1",)).create(
            deadline=Deadline.after(10))
