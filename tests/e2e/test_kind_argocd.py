"""End to end on kind with Argo CD: the bootstrap script installs Argo CD from its own core
install manifest (testbed/kind/argocd.sh: images built here from the pinned source, loaded
into the cluster), and its application-controller, repo-server, ApplicationSet controller
and Redis run as pods that clone the drill's repository from the host. pytest-kind's client
looks at the pods after the drill (`--keep-cluster`), then `drdrill cluster down` removes it.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import KIND_TESTBED, KindTestbed
from tests.e2e.test_kind_drills import CPU_POOL, DrillWatch, running

pytestmark = pytest.mark.timeout(1500)
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@localhost", "GIT_CONFIG_GLOBAL": "/dev/null"}


@pytest.fixture(scope="session")
def argocd_install(kind_testbed: KindTestbed) -> Iterator[tuple[Path, list[str]]]:
    """The core install manifest and the images it names (loaded into Docker again when a
    wiped Docker lost them)."""
    env = {**os.environ, **({"DOCKER_HOST": kind_testbed.docker_host}
                            if kind_testbed.docker_host else {})}
    folder = Path(subprocess.run(["bash", str(KIND_TESTBED / "argocd.sh"), "--print-dir"],
                                 capture_output=True, text=True, check=True).stdout.strip())
    if not (folder / ".complete").is_file():
        pytest.fail(f"Argo CD for kind is not built ({folder}): run `make testbed`")
    subprocess.run(["bash", str(KIND_TESTBED / "argocd.sh")], capture_output=True, check=True,
                   timeout=600, env=env)
    yield folder / "install.yaml", (folder / "images.txt").read_text().split()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True, env={**os.environ, **GIT_ENV}).stdout.strip()


def serving_app(repo: Path) -> str:
    """A Kustomize app: a model server with a real readiness probe. Returns the commit."""
    folder = repo / "apps" / "serving"
    folder.mkdir(parents=True)
    server = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "serve", "namespace": "ml-serving"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "serve"}},
                 "template": {"metadata": {"labels": {"app": "serve"}}, "spec": {"containers": [{
                     "name": "server", "image": "drdrill.local/model-server:1.0",
                     "imagePullPolicy": "Never", "ports": [{"containerPort": 8080,
                                                             "name": "http"}],
                     "env": [{"name": "READY_AFTER", "value": "3s"}],
                     "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"},
                                        "periodSeconds": 2}}]}}}}
    (folder / "objects.yaml").write_text(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml-serving"}}, server],
        sort_keys=False))
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
         "resources": ["objects.yaml"]}))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "serving")
    return git(repo, "rev-parse", "HEAD")


def test_argocd_drill_on_kind_runs_argo_cd_as_pods(
    tmp_path: Path, kind_testbed: KindTestbed, argocd_install: tuple[Path, list[str]]
) -> None:
    install, argocd_images = argocd_install
    head = serving_app(tmp_path / "platform")
    drill = f"e2e-argo-{uuid.uuid4().hex[:6]}"
    file = tmp_path / f"{drill}.yaml"
    file.write_text(yaml.safe_dump({
        "apiVersion": "drdrill/v1alpha1", "kind": "Drill", "metadata": {"name": drill},
        "spec": {
            "cluster": {"provider": "kind", "kubernetesVersion": "1.35",
                        "kind": {"image": kind_testbed.node_image,
                                 "loadImages": [*argocd_images,
                                                "drdrill.local/model-server:1.0"]},
                        "nodePools": [CPU_POOL]},
            "gitops": {"engine": "argocd", "version": "v3.1", "root": {},
                       "repository": {"path": str(tmp_path / "platform")},
                       "ref": {"branch": "main"}, "path": "apps/serving",
                       "installManifests": str(install)},
            "sla": {"rto": "15m", "phases": {"cluster": "5m", "bootstrap": "6m",
                                             "workloads": "3m"}},
        },
    }))
    watch = DrillWatch(kind_testbed, tmp_path, drill, file, "--keep-cluster")
    try:
        code, _, err = watch.wait()
        print(f"Argo CD drill on kind end to end: {time.monotonic() - watch.started:.1f} s")
        assert code == 0, err[-3000:]
        report = watch.report()
        print({p["name"]: round(p.get("durationSeconds") or 0, 1) for p in report["phases"]})
        assert report["verdict"] == "pass"
        assert report["simulation"] is None
        assert report["bootstrap"]["revision"] == head
        found = {(w["kind"], w["name"]): w for w in report["workloads"]}
        assert found[("Deployment", "serve")]["healthy"]
        assert found[("Deployment", "serve")]["chain"] == [
            "Application argocd/platform", "Deployment ml-serving/serve"]
        argocd = watch.pods("argocd")
        images = {c["image"] for p in argocd for c in p["spec"]["containers"]}
        assert images == set(argocd_images), images
        # the controller synced the app before its own readiness probe first passed: wait
        # (on the kept cluster) until every component's pod is Ready
        wanted = {"argocd-application-controller", "argocd-repo-server",
                  "argocd-applicationset-controller", "argocd-redis"}
        ends, names = time.monotonic() + 240, set()
        while not wanted <= names and time.monotonic() < ends:
            names = {p["metadata"]["labels"].get("app.kubernetes.io/name")
                     for p in watch.pods("argocd") if running(p)}
            time.sleep(3)
        assert wanted <= names, names
        assert [p for p in watch.pods("ml-serving") if running(p)], "the model server is not Ready"
    finally:
        if watch.process.poll() is None:
            watch.process.kill()
        watch.cluster_down()
    watch.assert_nothing_left()
