"""The kwok provider's plain values: stages, node manifests, kwokctl's configuration."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pytest

from drdrill.clusters.kwok import (
    KwokCluster,
    KwokPorts,
    cluster_name,
    kwok_from_environment,
    kwokctl_configuration,
    load_stages,
)
from drdrill.clusters.nodes import GPU_RESOURCE, node_manifest
from drdrill.errors import BadInputError, PrerequisiteError
from drdrill.scenario.models import KwokSettings, NodePool, Taint
from drdrill.timing import Deadline

READINESS_STAGES = {"drdrill-pod-ready", "drdrill-pod-complete"}


def by_name(stages: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {s["metadata"]["name"]: s for s in stages}


def test_stages_get_the_readiness_delay_and_jitter() -> None:
    stages = by_name(load_stages(KwokSettings(readiness_delay="2s", readiness_jitter="3s")))
    assert set(stages) >= READINESS_STAGES
    for name in READINESS_STAGES:
        delay = stages[name]["spec"]["delay"]
        assert delay["durationMilliseconds"] == 2000, name
        # kwok's jitter is the latest moment, not a spread: delay + jitter.
        assert delay["jitterDurationMilliseconds"] == 5000, name
        assert "annotations" not in stages[name]["metadata"]


def test_stages_without_jitter_have_none() -> None:
    stages = by_name(load_stages(KwokSettings(readiness_delay="250ms")))
    delay = stages["drdrill-pod-ready"]["spec"]["delay"]
    assert delay["durationMilliseconds"] == 250
    assert "jitterDurationMilliseconds" not in delay
    # The per-pod override stays in place.
    assert "durationFrom" in delay


def test_other_stages_keep_their_own_delays() -> None:
    stages = by_name(load_stages(KwokSettings(readiness_delay="9s")))
    assert "delay" not in stages["drdrill-node-ready"]["spec"]
    assert stages["drdrill-node-heartbeat"]["spec"]["delay"]["durationMilliseconds"] == 15000
    assert stages["drdrill-pod-crash-loop"]["spec"]["delay"]["durationMilliseconds"] == 500
    assert all(s["kind"] == "Stage" and s["apiVersion"] == "kwok.x-k8s.io/v1alpha1"
               for s in stages.values())


def test_stages_are_for_nodes_and_pods_only() -> None:
    # Custom resources get their status from the simulated operator, not from kwok Stages
    # (kwok starts a custom resource's Stage only if its CRD existed first, and never retries).
    stages = load_stages(KwokSettings())
    assert {s["spec"]["resourceRef"]["kind"] for s in stages} == {"Node", "Pod"}


def test_loading_twice_gives_the_same_stages() -> None:
    settings = KwokSettings(readiness_delay="1s", readiness_jitter="1s")
    assert load_stages(settings) == load_stages(settings)


GPU_POOL = NodePool(name="gpu", count=2, cpu="64", memory="512Gi", gpus=8,
                    labels={"accelerator": "nvidia-h100"},
                    taints=(Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule"),))


def test_gpu_node_manifest() -> None:
    node = node_manifest(GPU_POOL, 1)
    assert node["kind"] == "Node"
    assert node["metadata"]["name"] == "gpu-1"
    labels = node["metadata"]["labels"]
    assert labels["drdrill.dev/pool"] == "gpu"
    assert labels["accelerator"] == "nvidia-h100"
    assert labels["kubernetes.io/hostname"] == "gpu-1"
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert node["spec"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    ]
    for field in ("capacity", "allocatable"):
        assert node["status"][field] == {"cpu": "64", "memory": "512Gi", "pods": "110",
                                         GPU_RESOURCE: "8"}


def test_cpu_node_manifest_has_no_gpu_and_no_taints() -> None:
    node = node_manifest(NodePool(name="cpu", count=1), 0)
    assert GPU_RESOURCE not in node["status"]["capacity"]
    assert node["spec"]["taints"] == []


def test_kwokctl_configuration_binds_loopback_and_uses_stage_crds() -> None:
    ports = KwokPorts(apiserver=41001, etcd=41002, etcd_peer=41003, controller_manager=41004,
                      scheduler=41005, kwok=41006)
    names = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
             "kubectl")
    config = kwokctl_configuration(ports=ports, binaries={n: f"/tb/bin/{n}" for n in names})
    assert config["kind"] == "KwokctlConfiguration"
    options = config["options"]
    assert options["runtime"] == "binary"
    assert options["bindAddress"] == "127.0.0.1"
    assert options["enableCRDs"] == ["Stage"]
    assert options["kubeApiserverPort"] == 41001
    assert options["etcdPort"] == 41002
    assert options["etcdPeerPort"] == 41003
    assert options["kubeApiserverBinary"] == "/tb/bin/kube-apiserver"
    assert options["kwokControllerBinary"] == "/tb/bin/kwok"
    assert options["kubeVersion"].startswith("v1.")


def test_ports_are_distinct_and_an_explicit_busy_port_is_refused() -> None:
    import socket

    ports = KwokPorts.pick()
    values = [ports.apiserver, ports.etcd, ports.etcd_peer, ports.controller_manager,
              ports.scheduler, ports.kwok]
    assert all(0 < v < 65536 for v in values)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        busy = held.getsockname()[1]
        with pytest.raises(BadInputError, match=f"port 127.0.0.1:{busy} is already in use"):
            KwokPorts.pick(busy)


def test_cluster_name_is_short_and_has_no_trailing_dash() -> None:
    name = cluster_name("a" * 31 + "-" + "b" * 10)
    assert len(name) <= 40
    assert not name.endswith("-")


@pytest.mark.parametrize("value", ["abc", "0", "70000", "-1"])
def test_bad_apiserver_port_from_environment(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRDRILL_KWOK_APISERVER_PORT", value)
    with pytest.raises(BadInputError, match="DRDRILL_KWOK_APISERVER_PORT"):
        kwok_from_environment()


def test_apiserver_port_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRDRILL_KWOK_APISERVER_PORT", raising=False)
    assert kwok_from_environment() is None
    monkeypatch.setenv("DRDRILL_KWOK_APISERVER_PORT", "6443")
    assert kwok_from_environment() == 6443


def test_create_with_a_missing_binary_says_make_testbed_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "testbed" / "bin").mkdir(parents=True)
    monkeypatch.setenv("DRDRILL_TESTBED_DIR", str(tmp_path / "testbed"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    provider = KwokCluster(drill="missing-bin", settings=KwokSettings(),
                           pools=(NodePool(name="cpu", count=1),))
    with pytest.raises(PrerequisiteError, match="run `make testbed`"):
        provider.create(deadline=Deadline.after(10))
    assert list((tmp_path / "tmp").iterdir()) == []


def test_process_checks_tell_running_from_exited(tmp_path: Path) -> None:
    import subprocess

    from drdrill.clusters.kwok import _runs_from, _threads_gone

    marker = tmp_path / "component"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", str(marker)],
                            start_new_session=True)
    try:
        for _ in range(200):  # until exec has replaced the forked copy of this process
            if b"time.sleep(30)" in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
                break
            time.sleep(0.01)
        assert _runs_from(proc.pid, tmp_path)
        assert not _runs_from(proc.pid, tmp_path / "other-cluster")
        assert not _threads_gone(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert not _runs_from(proc.pid, tmp_path)
    assert _threads_gone(proc.pid)
