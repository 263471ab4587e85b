"""Real Argo CD on the local cluster: the test bed's application-controller and repo-server (and
Redis) run as local processes against the kwok apiserver; nothing about the Application is
simulated, so every status asserted here is Argo CD's own.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from drdrill.gitops.gitserver import ServedRepository, serve_repository
from drdrill.testbed import testbed_dir as built_testbed
from tests.integration.gitops.charts import package_chart, serve_charts, write_index
from tests.integration.gitops.drills import (
    CONFIGMAP,
    NAMESPACE,
    base_env,
    deployment,
    phase,
    run_drill,
    write_scenario,
)

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True, scope="module")
def _argocd_built() -> None:
    """`make test` builds Argo CD into the test bed: its absence is a failure, not a skip."""
    if not (built_testbed() / "bin" / "argocd").is_file():
        pytest.fail("the test bed has no Argo CD build: run `make testbed`")

ARGOCD = {"engine": "argocd", "version": "v3.1", "root": {}}
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@localhost", "GIT_CONFIG_GLOBAL": "/dev/null"}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True, env={**os.environ, **GIT_ENV})
    return done.stdout.strip()


def write_app(repo: Path, path: str, objects: list[dict[str, Any]]) -> None:
    folder = repo / path
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "objects.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
         "resources": ["objects.yaml"]}))


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def new_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "platform"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    return repo


def argocd_drill(tmp_path: Path, *, name: str, path: str, ref: dict[str, str] | None = None,
                 repository: dict[str, str] | None = None, sla: dict[str, Any] | None = None,
                 argocd: dict[str, Any] | None = None) -> dict[str, Any]:
    gitops = {**ARGOCD, "path": path, "ref": ref or {"branch": "main"},
              "repository": repository or {"path": "./platform"},
              **({"argocd": argocd} if argocd else {})}
    scenario = write_scenario(tmp_path, name=name, gitops=gitops, sla=sla or {
        "rto": "5m", "phases": {"bootstrap": "3m", "workloads": "90s"}})
    result, report = run_drill(scenario, env=base_env(tmp_path))
    assert report, result.stderr[-3000:]
    return report


def workloads_by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{w['kind']} {w['namespace'] or ''}/{w['name']}": w for w in report["workloads"]}


@pytest.mark.parametrize("ref_kind", ["branch", "tag"])
def test_kustomize_app_passes_at_the_commit_its_ref_resolves_to(tmp_path: Path,
                                                                ref_kind: str) -> None:
    repo = new_repo(tmp_path)
    write_app(repo, "apps/serving", [NAMESPACE, CONFIGMAP, deployment("serve", replicas=2)])
    tagged = commit(repo, "serving v1")
    git(repo, "tag", "-a", "v1.0.0", "-m", "release v1.0.0")
    write_app(repo, "apps/serving", [NAMESPACE, CONFIGMAP, deployment("serve", replicas=2),
                                     deployment("train")])
    head = commit(repo, "serving v2: a training deployment")
    ref, expected = ({"branch": "main"}, head) if ref_kind == "branch" else (
        {"tag": "v1.0.0"}, tagged)

    report = argocd_drill(tmp_path, name=f"argo-{ref_kind}", path="apps/serving", ref=ref)

    assert phase(report, "bootstrap")["status"] == "passed", phase(report, "bootstrap")
    assert report["bootstrap"]["revision"] == expected  # Argo CD's resolved SHA
    assert phase(report, "workloads")["status"] == "passed", phase(report, "workloads")
    found = workloads_by_name(report)
    assert found["Deployment ml-serving/serve"]["chain"] == [
        "Application argocd/platform", "Deployment ml-serving/serve"]
    assert ("Deployment ml-serving/train" in found) is (ref_kind == "branch")
    assert not report["simulation"]["customResources"]  # nothing about Argo CD is simulated
    assert report["verdict"] == "pass"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, ServedRepository]]:
    """A repository given to the drill by URL: app-of-apps children must name that URL."""
    repo = new_repo(tmp_path)
    (repo / "README").write_text("platform\n")
    commit(repo, "empty")
    server = serve_repository(repo)
    try:
        yield repo, server
    finally:
        server.stop()


def child_application(name: str, *, url: str, path: str) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"project": "default",
                     "source": {"repoURL": url, "targetRevision": "main", "path": path},
                     "destination": {"server": "https://kubernetes.default.svc"},
                     "syncPolicy": {"automated": {"prune": True},
                                    "syncOptions": ["CreateNamespace=true"]}}}


def test_app_of_apps_lists_the_childrens_workloads(
        tmp_path: Path, served: tuple[Path, ServedRepository]) -> None:
    repo, server = served
    write_app(repo, "apps/serving", [NAMESPACE, deployment("serve")])
    training = deployment("train")
    training["metadata"]["namespace"] = "ml-training"
    write_app(repo, "apps/training", [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml-training"}}, training])
    write_app(repo, "apps/root", [child_application("serving", url=server.url,
                                                    path="apps/serving"),
                                  child_application("training", url=server.url,
                                                    path="apps/training")])
    head = commit(repo, "app of apps")

    report = argocd_drill(tmp_path, name="argo-app-of-apps", path="apps/root",
                          repository={"url": server.url})

    assert report["bootstrap"]["revision"] == head  # resolved with git ls-remote by drdrill
    assert phase(report, "workloads")["status"] == "passed", phase(report, "workloads")
    found = workloads_by_name(report)
    assert found["Deployment ml-serving/serve"]["chain"] == [
        "Application argocd/platform", "Application argocd/serving",
        "Deployment ml-serving/serve"]
    assert found["Deployment ml-training/train"]["chain"] == [
        "Application argocd/platform", "Application argocd/training",
        "Deployment ml-training/train"]
    layers = {layer["name"] for layer in report["bootstrap"]["layers"]}
    assert layers == {"platform", "serving", "training"}


def test_applicationset_generated_applications_are_followed_to_their_workloads(
        tmp_path: Path, served: tuple[Path, ServedRepository]) -> None:
    """The real ApplicationSet controller generates one Application per team from a list
    generator; their workloads are listed with the ApplicationSet in their chain."""
    repo, server = served
    for team in ("vision", "speech"):
        workload = deployment(f"{team}-server")
        workload["metadata"]["namespace"] = f"team-{team}"
        write_app(repo, f"teams/{team}", [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{team}"}},
            workload])
    template = child_application("{{team}}", url=server.url, path="teams/{{team}}")
    write_app(repo, "apps/root", [{
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "teams", "namespace": "argocd"},
        "spec": {"generators": [{"list": {"elements": [{"team": "vision"},
                                                        {"team": "speech"}]}}],
                 "template": {"metadata": {"name": "team-{{team}}"},
                              "spec": template["spec"]}}}])
    commit(repo, "an ApplicationSet per team")

    report = argocd_drill(tmp_path, name="argo-appset", path="apps/root",
                          repository={"url": server.url})

    assert phase(report, "workloads")["status"] == "passed", phase(report, "workloads")
    found = workloads_by_name(report)
    for team in ("vision", "speech"):
        assert found[f"Deployment team-{team}/{team}-server"]["chain"] == [
            "Application argocd/platform", "ApplicationSet argocd/teams",
            f"Application argocd/team-{team}", f"Deployment team-{team}/{team}-server"]
        assert found[f"Deployment team-{team}/{team}-server"]["healthy"]
    layers = {layer["name"] for layer in report["bootstrap"]["layers"]}
    assert {"team-vision", "team-speech"} <= layers
    assert report["verdict"] == "pass"


def test_manifest_the_apiserver_rejects_fails_the_sync_with_argo_cds_message(
        tmp_path: Path) -> None:
    repo = new_repo(tmp_path)
    bad = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "Not_A_Valid_Name", "namespace": "ml-serving"}}
    write_app(repo, "apps/bad", [NAMESPACE, bad])
    commit(repo, "bad name")

    report = argocd_drill(tmp_path, name="argo-rejected", path="apps/bad")

    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "failed"
    assert "Application sync failed" in bootstrap["message"], bootstrap
    assert "Not_A_Valid_Name" in bootstrap["message"]
    assert report["verdict"] == "fail"


def test_unknown_path_ends_with_the_comparison_error_inside_the_budget(tmp_path: Path) -> None:
    repo = new_repo(tmp_path)
    write_app(repo, "apps/serving", [NAMESPACE, deployment("serve")])
    commit(repo, "serving")

    report = argocd_drill(tmp_path, name="argo-no-path", path="apps/nowhere")

    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "failed"
    assert "ComparisonError" in bootstrap["message"], bootstrap
    assert bootstrap["durationSeconds"] < 180


def test_a_failing_job_makes_the_application_degraded_and_the_drill_fail(tmp_path: Path) -> None:
    repo = new_repo(tmp_path)
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "migrate", "namespace": "ml-serving"},
           "spec": {"backoffLimit": 0, "template": {
               "metadata": {"labels": {"drdrill.dev/simulate": "fail"}},
               "spec": {"restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "example.com/migrate:1"}]}}}}
    write_app(repo, "apps/jobs", [NAMESPACE, job])
    commit(repo, "a failing job")

    report = argocd_drill(tmp_path, name="argo-degraded", path="apps/jobs")

    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "failed"
    assert "Application Degraded" in bootstrap["message"], bootstrap
    assert "Job ml-serving/migrate" in bootstrap["message"]
    assert "(simulated)" not in bootstrap["message"]
    assert report["verdict"] == "fail"


def test_helm_chart_from_a_chart_repository_with_values_from_git(tmp_path: Path) -> None:
    charts = tmp_path / "charts"
    charts.mkdir()
    package_chart(charts, name="iris", version="0.1.0")
    write_index(charts)
    repo = new_repo(tmp_path)
    write_app(repo, "apps/base", [NAMESPACE])
    (repo / "apps" / "values").mkdir(parents=True)
    (repo / "apps" / "values" / "iris.yaml").write_text(yaml.safe_dump(
        {"replicas": 2, "image": "example.com/iris:2", "modelUri": "s3://models/iris/"}))
    commit(repo, "iris from the chart repository, values from Git")

    with serve_charts(charts) as chart_repo:
        report = argocd_drill(tmp_path, name="argo-helm", path="apps/base", argocd={
            "ref": "values",
            "sources": [{"repoURL": chart_repo.url, "chart": "iris", "targetRevision": "0.1.0",
                         "helm": {"releaseName": "iris",
                                  "valueFiles": ["$values/apps/values/iris.yaml"]}}]})

    assert phase(report, "bootstrap")["status"] == "passed", phase(report, "bootstrap")
    assert phase(report, "workloads")["status"] == "passed", phase(report, "workloads")
    found = workloads_by_name(report)
    iris = next(w for key, w in found.items() if key.startswith("Deployment ") and
                w["name"] == "iris")
    assert iris["healthy"] and iris["chain"][0] == "Application argocd/platform"
