"""End to end on kind: whole drills whose pods really run, with Flux installed from the test
bed's install manifest (its controllers' images preloaded in the node image, the workload
images loaded through `loadImages`), real readiness probes, and failures only a real
cluster shows. After every drill (pass, fail, SIGINT) no
container, network or volume of it is left in Docker and ~/.kube/config was never written.

pytest-kind-ng's `KindCluster` is the independent client that looks at the pods while a drill
runs (kubeconfig from `kind get kubeconfig`, which writes no file of kind's own).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_kind import KindCluster  # type: ignore[import-untyped]

from tests.e2e.conftest import REPO, KindTestbed
from tests.e2e.test_kind import docker_leftovers

# a kind drill on 2 busy cores can take several minutes: more than pytest's default 600 s
pytestmark = pytest.mark.timeout(1500)
PLATFORMS = Path(__file__).parent / "platforms"
WORKLOAD_IMAGES = ("drdrill.local/model-server:1.0", "drdrill.local/never-ready:1.0",
                   "drdrill.local/crasher:1.0", "drdrill.local/batch-job:1.0")


def flux_images(testbed: KindTestbed) -> list[str]:
    text = testbed.flux_install.read_text()
    return sorted({line.split("image:", 1)[1].strip() for line in text.splitlines()
                   if line.strip().startswith("image:")})


def demo_kind_scenario(tmp_path: Path, testbed: KindTestbed, drill: str) -> Path:
    """scenarios/demo-kind.yaml as `make demo-kind` runs it (the test bed's Flux manifest,
    the platform's absolute path), under this test's drill name and without its backups."""
    document = yaml.safe_load((REPO / "scenarios" / "demo-kind.yaml").read_text())
    document["metadata"]["name"] = drill
    spec = document["spec"]
    assert spec["cluster"]["kind"]["image"] == testbed.node_image
    spec["gitops"]["installManifests"] = str(testbed.flux_install)
    spec["gitops"]["repository"]["path"] = str(REPO / "scenarios" / "demo" / "platform")
    del spec["backups"], spec["sla"]["phases"]["backups"], spec["sla"]["rpo"]
    file = tmp_path / f"{drill}.yaml"
    file.write_text(yaml.safe_dump(document, sort_keys=False))
    return file


CPU_POOL = {"name": "cpu", "count": 1}


def scenario(tmp_path: Path, testbed: KindTestbed, *, drill: str, platform: Path, path: str,
             workloads: dict[str, Any], budgets: dict[str, str],
             pools: tuple[dict[str, Any], ...] = (CPU_POOL,)) -> Path:
    file = tmp_path / f"{drill}.yaml"
    file.write_text(yaml.safe_dump({
        "apiVersion": "drdrill/v1alpha1", "kind": "Drill", "metadata": {"name": drill},
        "spec": {
            "cluster": {
                "provider": "kind",
                "kubernetesVersion": "1.35",
                # Flux's images are preloaded in the test bed's node image
                "kind": {"image": testbed.node_image, "loadImages": list(WORKLOAD_IMAGES)},
                "nodePools": list(pools),
            },
            "gitops": {"engine": "flux", "version": "v2.7",
                       "repository": {"path": str(platform)}, "ref": {"branch": "main"},
                       "path": path, "installManifests": str(testbed.flux_install)},
            "workloads": workloads,
            "sla": {"rto": "15m", "phases": budgets},
        },
    }))
    return file


class DrillWatch:
    """Runs `drdrill run` and, while it runs, looks at the cluster with pytest-kind."""

    def __init__(self, testbed: KindTestbed, tmp_path: Path, drill: str, file: Path,
                 *options: str) -> None:
        self.testbed, self.tmp_path, self.drill, self.file = testbed, tmp_path, drill, file
        self.name = f"drdrill-{drill}"
        self.env = testbed.env(tmp_path)
        self.volumes_before = self.volumes()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "drdrill", "run", str(file), "--report-dir",
             str(tmp_path / "reports"), *options], cwd=tmp_path, env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.started = time.monotonic()
        self._cluster: KindCluster | None = None

    def volumes(self) -> set[str]:
        env = {**os.environ, **({"DOCKER_HOST": self.testbed.docker_host}
                                if self.testbed.docker_host else {})}
        return set(subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True,
                                  text=True, env=env, check=True).stdout.split())

    def cluster(self) -> KindCluster | None:
        """A client for the drill's cluster once kind knows it, else None."""
        if self._cluster is not None:
            return self._cluster
        got = subprocess.run([str(self.testbed.kind), "get", "kubeconfig", "--name", self.name],
                             capture_output=True, text=True, env=self.env, check=False)
        if got.returncode != 0:
            return None
        kubeconfig = self.tmp_path / "watch-kubeconfig"
        kubeconfig.write_text(got.stdout)
        self._cluster = KindCluster(self.name, kubeconfig=kubeconfig,
                                    kind_path=self.testbed.kind,
                                    kubectl_path=self.testbed.kubectl)
        return self._cluster

    def pods(self, namespace: str) -> list[dict[str, Any]]:
        cluster = self.cluster()
        if cluster is None:
            return []
        try:
            out = cluster.kubectl("get", "pods", "-n", namespace, "-o", "json",
                                  stderr=subprocess.DEVNULL)
        except Exception:  # the API is not up yet, or already gone
            return []
        return list(json.loads(out)["items"])

    def cluster_down(self) -> None:
        """Stops a cluster the drill left up (`--keep-cluster`) the way a user would."""
        subprocess.run([sys.executable, "-m", "drdrill", "cluster", "down", str(self.file)],
                       cwd=self.tmp_path, env=self.env, capture_output=True, text=True,
                       check=True, timeout=300)

    def wait(self, timeout: float = 900) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err

    def report(self) -> dict[str, Any]:
        reports = sorted((self.tmp_path / "reports" / self.drill).glob("2*/report.json"))
        assert reports, "no report.json written"
        return dict(json.loads(reports[-1].read_text()))

    def assert_nothing_left(self) -> None:
        assert docker_leftovers_of(self) == []
        assert not (self.tmp_path / "home" / ".kube" / "config").exists()


def docker_leftovers_of(watch: DrillWatch) -> list[str]:
    left = [item for item in docker_leftovers(watch.testbed, watch.name)
            if not item.startswith("volume")]
    left += [f"volume {v}" for v in watch.volumes() - watch.volumes_before]
    return left


def running(pod: dict[str, Any]) -> bool:
    return pod.get("status", {}).get("phase") == "Running" and all(
        c.get("ready") for c in pod["status"].get("containerStatuses", []))


def test_demo_platform_drill_passes_on_kind_with_real_pods(
    tmp_path: Path, kind_testbed: KindTestbed
) -> None:
    drill = f"e2e-demo-{uuid.uuid4().hex[:6]}"
    file = demo_kind_scenario(tmp_path, kind_testbed, drill)
    # the cluster is kept after the drill so that the pods are looked at when the drill is
    # over (watching them while it runs races the teardown that follows the verdict)
    watch = DrillWatch(kind_testbed, tmp_path, drill, file, "--keep-cluster")
    try:
        code, _, err = watch.wait()
        elapsed = time.monotonic() - watch.started
        print(f"demo drill on kind end to end: {elapsed:.1f} s")
        assert code == 0, err[-3000:]
        report = watch.report()
        assert report["verdict"] == "pass"
        print({p["name"]: round(p.get("durationSeconds") or 0, 1) for p in report["phases"]})
        flux_pods = watch.pods("flux-system")
        assert flux_pods and all(running(p) for p in flux_pods), "Flux is not running"
        flux = {c["image"] for p in flux_pods for c in p["spec"]["containers"]}
        assert flux == set(flux_images(kind_testbed)), "Flux did not run as real pods"
        servers = [p for p in watch.pods("ml-serving") if running(p)]
        assert len(servers) == 2, "the model server's pods are not all Ready"
        # the GPU pool's node (the first worker), which advertises nvidia.com/gpu
        assert all(p["spec"]["nodeName"] == f"{watch.name}-worker" for p in servers)
        healthy = {(w["kind"], w["name"]): w for w in report["workloads"]}
        assert healthy[("Deployment", "llm-server")]["healthy"]
        assert healthy[("StatefulSet", "feature-store")]["healthy"]
        assert healthy[("Job", "train-classifier")]["healthy"]
    finally:
        if watch.process.poll() is None:
            watch.process.kill()
        watch.cluster_down()
    watch.assert_nothing_left()


def test_failures_only_a_real_cluster_shows_are_named_and_the_drill_fails(
    tmp_path: Path, kind_testbed: KindTestbed
) -> None:
    drill = f"e2e-fail-{uuid.uuid4().hex[:6]}"
    file = scenario(tmp_path, kind_testbed, drill=drill, platform=PLATFORMS / "failing",
                    path="./", budgets={"cluster": "4m", "bootstrap": "4m", "workloads": "90s"},
                    workloads={"imagePullAttempts": 1, "crashLoopRestarts": 1, "stableFor": "10s",
                               "configErrorGrace": "5s"})
    watch = DrillWatch(kind_testbed, tmp_path, drill, file)
    code, _, err = watch.wait()
    print(f"failing drill on kind end to end: {time.monotonic() - watch.started:.1f} s")
    assert code == 1, err[-3000:]
    report = watch.report()
    assert report["verdict"] == "fail"
    by_name = {w["name"]: w for w in report["workloads"] if w["kind"] == "Deployment"}
    for name in ("pull-fails", "crashes", "never-ready", "needs-secret"):
        assert not by_name[name]["healthy"], by_name[name]
    reasons = {name: by_name[name]["reason"] for name in by_name}
    print(reasons)
    assert "ImagePullBackOff" in reasons["pull-fails"] or "ErrImagePull" in reasons["pull-fails"]
    assert "CrashLoopBackOff" in reasons["crashes"]
    assert "CreateContainerConfigError" in reasons["needs-secret"]
    assert "model-registry-credentials" in reasons["needs-secret"]
    # the probe's own message exists only in the pod's events
    assert "0/1 replicas available" in reasons["never-ready"]
    assert "Readiness probe failed" in reasons["never-ready"], reasons["never-ready"]
    watch.assert_nothing_left()


def test_sigint_mid_drill_tears_the_kind_cluster_down(
    tmp_path: Path, kind_testbed: KindTestbed
) -> None:
    drill = f"e2e-int-{uuid.uuid4().hex[:6]}"
    file = scenario(tmp_path, kind_testbed, drill=drill, platform=PLATFORMS / "failing",
                    path="./", budgets={"cluster": "4m", "bootstrap": "4m", "workloads": "4m"},
                    workloads={})
    watch = DrillWatch(kind_testbed, tmp_path, drill, file)
    try:
        ends = time.monotonic() + 300
        while not watch.pods("kube-system"):
            assert watch.process.poll() is None, watch.wait()[2][-3000:]
            assert time.monotonic() < ends, "the drill's cluster never answered"
            time.sleep(2)
        watch.process.send_signal(signal.SIGINT)
        code, _, err = watch.wait(timeout=300)
        assert code == 3, err[-3000:]
        assert watch.report()["verdict"] == "interrupted"
    finally:
        if watch.process.poll() is None:
            watch.process.kill()
    watch.assert_nothing_left()
