"""Drills of repositories as people have them: `flux bootstrap` layouts, nested Kustomizations
with dependsOn, HelmReleases, several repositories, postBuild — real source-, kustomize- and
helm-controller on the local kwok cluster."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.backups.helpers import backup_set, new_bucket, payload, put_set
from tests.integration.gitops.charts import (
    DEPLOYMENT_TEMPLATE,
    helm_release,
    helm_repository,
    oci_helm_repository,
    package_chart,
    push_chart,
    running_registry,
    serve_charts,
    write_index,
)
from tests.integration.gitops.drills import base_env, phase, run_drill
from tests.integration.gitops.fleet import (
    bootstrap_layout,
    commit,
    deployment,
    flux_kustomization,
    git_repository,
    kustomize_file,
    namespace,
    scenario,
    workload,
    write,
)
from tests.integration.s3_server import S3Server

ROOT = "Kustomization flux-system/flux-system"
APPS = "Kustomization flux-system/apps"


def test_bootstrap_layout_with_depends_on_passes_with_nested_workloads(tmp_path: Path) -> None:
    bootstrap_layout(
        tmp_path,
        infrastructure=[namespace("ml-infra"), deployment("feature-store", "ml-infra")],
        apps=[namespace("ml-serving"), deployment("model", "ml-serving")],
    )
    result, report = run_drill(scenario(tmp_path, name="bootstrap-layout"),
                               env=base_env(tmp_path))
    assert report.get("verdict") == "pass", (result.stderr[-3000:], report.get("phases"))
    model = workload(report, "Deployment", "model")
    assert model["healthy"]
    assert model["chain"] == [ROOT, APPS, "Deployment ml-serving/model"]
    store = workload(report, "Deployment", "feature-store")
    assert store["chain"] == [ROOT, "Kustomization flux-system/infrastructure",
                              "Deployment ml-infra/feature-store"]
    bootstrap = report["bootstrap"]
    assert "flux bootstrap" in bootstrap["layout"]
    [rewrite] = bootstrap["rewrites"]
    assert "GitRepository flux-system/flux-system" in rewrite
    assert "ssh://git@github.com/acme/fleet -> http://127.0.0.1:" in rewrite
    layers = {layer["name"]: layer for layer in bootstrap["layers"]}
    assert layers["apps"]["dependsOn"] == ["Kustomization flux-system/infrastructure"]
    assert layers["infrastructure"]["readyAfterSeconds"] < layers["apps"]["readyAfterSeconds"]
    assert all(layer["problem"] is None for layer in layers.values())


def test_unhealthy_workload_two_levels_down_fails_with_its_chain(tmp_path: Path) -> None:
    bootstrap_layout(
        tmp_path, infrastructure=[namespace("ml-serving")],
        apps=[deployment("model", "ml-serving",
                         labels={"drdrill.dev/simulate": "crash-loop"})],
    )
    _, report = run_drill(scenario(tmp_path, name="deep-failure"), env=base_env(tmp_path))
    workloads = phase(report, "workloads")
    assert workloads["status"] == "failed"
    assert f"{ROOT} → {APPS} → Deployment ml-serving/model" in workloads["message"]
    assert "CrashLoopBackOff" in workloads["message"] or "crash" in workloads["message"].lower()
    assert workloads["durationSeconds"] < workloads["budgetSeconds"]


def test_helm_release_from_an_http_chart_repository_passes(tmp_path: Path) -> None:
    charts = tmp_path / "charts"
    charts.mkdir()
    package_chart(charts, name="model-server", version="1.2.0")
    package_chart(charts, name="model-server", version="1.3.0")
    write_index(charts)
    with serve_charts(charts) as repository:
        bootstrap_layout(
            tmp_path, infrastructure=[namespace("ml-serving"), helm_repository(repository.url)],
            apps=[helm_release("iris", "ml-serving", chart="model-server", version="1.2.0")],
        )
        result, report = run_drill(scenario(tmp_path, name="helm-http"),
                                   env=base_env(tmp_path))
    assert report.get("verdict") == "pass", (result.stderr[-3000:], report.get("phases"))
    server = workload(report, "Deployment", "iris")
    assert server["healthy"]
    assert server["chain"] == [ROOT, APPS, "HelmRelease ml-serving/iris",
                               "Deployment ml-serving/iris"]
    assert workload(report, "HelmRelease", "iris")["healthy"]


def test_missing_chart_version_fails_inside_the_budget_with_helm_controllers_reason(
    tmp_path: Path,
) -> None:
    charts = tmp_path / "charts"
    charts.mkdir()
    package_chart(charts, name="model-server", version="1.2.0")
    write_index(charts)
    with serve_charts(charts) as repository:
        bootstrap_layout(
            tmp_path, infrastructure=[namespace("ml-serving"), helm_repository(repository.url)],
            apps=[helm_release("iris", "ml-serving", chart="model-server", version="9.9.9")],
        )
        _, report = run_drill(scenario(tmp_path, name="helm-missing"), env=base_env(tmp_path))
    workloads = phase(report, "workloads")
    assert workloads["status"] == "failed"
    assert "HelmRelease ml-serving/iris" in workloads["message"]
    assert "9.9.9" in workloads["message"]
    assert workloads["durationSeconds"] < workloads["budgetSeconds"]
    failed = workload(report, "HelmRelease", "iris")
    assert not failed["healthy"] and failed["chain"][-1] == "HelmRelease ml-serving/iris"


def test_failed_helm_install_fails_with_helm_controllers_message(tmp_path: Path) -> None:
    charts = tmp_path / "charts"
    charts.mkdir()
    broken = DEPLOYMENT_TEMPLATE.replace("apiVersion: apps/v1", "apiVersion: apps/v9")
    package_chart(charts, name="model-server", version="2.0.0", template=broken)
    write_index(charts)
    with serve_charts(charts) as repository:
        bootstrap_layout(
            tmp_path, infrastructure=[namespace("ml-serving"), helm_repository(repository.url)],
            apps=[helm_release("iris", "ml-serving", chart="model-server", version="2.0.0")],
        )
        _, report = run_drill(scenario(tmp_path, name="helm-install-fails", sla={
            "rto": "5m", "phases": {"bootstrap": "2m", "workloads": "75s"}}),
                              env=base_env(tmp_path))
    workloads = phase(report, "workloads")
    assert workloads["status"] == "failed"
    # helm-controller retries a failed install (a CRD may still arrive), so the drill waits
    # its budget; the reason is helm-controller's own message about the manifest.
    assert "HelmRelease ml-serving/iris" in workloads["message"]
    assert "Helm install failed" in workloads["message"]
    assert 'no matches for kind "Deployment" in version "apps/v9"' in workloads["message"]
    release = workload(report, "HelmRelease", "iris")
    assert not release["healthy"] and release["rule"] == "flux"


def _team_repository(tmp_path: Path, url: str) -> None:
    """Flux's multi-tenancy layout: the root applies `tenants`, which applies the team's
    GitRepository and Kustomization from tenants/team-a.yaml."""
    team = tmp_path / "team-a"
    write(team / "deploy", "objects.yaml", [namespace("team-a"), deployment("ranker", "team-a")])
    kustomize_file(team / "deploy", ["objects.yaml"])
    repo = bootstrap_layout(
        tmp_path, infrastructure=[namespace("ml-infra")], apps=[namespace("ml-serving")],
        cluster_extra=[flux_kustomization("tenants", "./tenants")],
    )
    write(repo / "tenants", "team-a.yaml", [git_repository("team-a", url),
                                            flux_kustomization("team-a", "./deploy",
                                                               source="team-a")])
    kustomize_file(repo / "tenants", ["team-a.yaml"])
    commit(repo)


TEAM_REMOTE = "ssh://git@git.example.com/team-a/apps.git"


def test_platform_and_team_repositories_mapped_to_local_folders_pass(tmp_path: Path) -> None:
    _team_repository(tmp_path, TEAM_REMOTE)
    path = scenario(tmp_path, name="two-repos", gitops={"repositories": [
        {"name": "team-a", "path": "./team-a", "remotes": ["git@git.example.com:team-a/apps"]},
    ]})
    result, report = run_drill(path, env=base_env(tmp_path))
    assert report.get("verdict") == "pass", (result.stderr[-3000:], report.get("phases"))
    ranker = workload(report, "Deployment", "ranker")
    assert ranker["healthy"]
    assert ranker["chain"] == [ROOT, "Kustomization flux-system/tenants",
                               "Kustomization flux-system/team-a", "Deployment team-a/ranker"]
    rewrites = report["bootstrap"]["rewrites"]
    assert any(r.startswith("GitRepository flux-system/team-a") and "(team-a)" in r
               for r in rewrites), rewrites


def test_unmapped_team_remote_that_does_not_answer_fails_fast_naming_it(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    remote = f"http://127.0.0.1:{port}/team-a/apps.git"
    _team_repository(tmp_path, remote)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "drdrill", "run", str(scenario(tmp_path, name="unmapped")),
         "--report-dir", str(tmp_path / "reports")],
        env=base_env(tmp_path), capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert time.monotonic() - started < 60  # no cluster, no budget: only the probe
    lines = [line for line in result.stderr.splitlines() if line.startswith("drdrill error:")]
    assert len(lines) == 1 and remote in lines[0] and "GitRepository flux-system/team-a" in lines[0]


def test_post_build_variables_land_in_the_applied_objects(tmp_path: Path) -> None:
    (tmp_path / "vars.env").write_text("STORE_NAME=features\n")
    bootstrap_layout(
        tmp_path, infrastructure=[namespace("ml-infra")], apps=[namespace("ml-serving")],
        cluster_extra=[namespace("drill-vars"), deployment("model-${CLUSTER_NAME}", "drill-vars"),
                       deployment("store-${STORE_NAME}", "drill-vars")],
    )
    path = scenario(tmp_path, name="post-build", gitops={"postBuild": {
        "substitute": {"CLUSTER_NAME": "drill42"},
        "substituteFrom": [{"kind": "Secret", "name": "drill-vars", "file": "vars.env"}],
    }})
    result, report = run_drill(path, env=base_env(tmp_path))
    assert report.get("verdict") == "pass", (result.stderr[-3000:], report.get("phases"))
    names = {w["name"] for w in report["workloads"] if w["kind"] == "Deployment"}
    assert {"model-drill42", "store-features"} <= names, names


@pytest.mark.parametrize("gotk_path", ["./clusters/elsewhere"])
def test_bootstrap_sync_for_another_path_is_named_before_anything_starts(
    tmp_path: Path, gotk_path: str
) -> None:
    repo = bootstrap_layout(tmp_path, infrastructure=[namespace("a")], apps=[namespace("b")])
    sync = repo / "clusters" / "drill" / "flux-system" / "gotk-sync.yaml"
    sync.write_text(sync.read_text().replace("path: ./clusters/drill", f"path: {gotk_path}"))
    commit(repo)
    result = subprocess.run(
        [sys.executable, "-m", "drdrill", "run", str(scenario(tmp_path, name="other-path")),
         "--report-dir", str(tmp_path / "reports")],
        env=base_env(tmp_path), capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert f"set spec.gitops.path to '{gotk_path}'" in result.stderr


def test_s3_uri_two_levels_down_without_a_backup_fails_the_reference_check(
    tmp_path: Path, s3_credentials: S3Server,
) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    put_set(client, bucket, {"iris/v1/model.joblib": payload("iris")})
    missing = f"s3://{bucket}/set/llama/v2/"
    bootstrap_layout(
        tmp_path, infrastructure=[namespace("ml-serving")],
        apps=[deployment("iris", "ml-serving", env={"MODEL_URI": f"s3://{bucket}/set/iris/v1/"}),
              deployment("llama", "ml-serving", env={"MODEL_URI": missing})],
    )
    path = scenario(tmp_path, name="deep-reference", backups={
        "s3": {"endpointUrl": s3_credentials.endpoint}, "sets": [backup_set(bucket)]})
    result, report = run_drill(path, env=base_env(tmp_path))
    assert phase(report, "workloads")["status"] == "passed", result.stderr[-2000:]
    backups = phase(report, "backups")
    assert backups["status"] == "failed"
    restorable = {r["uri"]: r["restorable"] for r in report["references"]}
    assert restorable == {f"s3://{bucket}/set/iris/v1/": True, missing: False}


def test_helm_release_from_an_oci_registry_passes(tmp_path: Path) -> None:
    charts = tmp_path / "charts"
    charts.mkdir()
    with running_registry(tmp_path / "registry") as registry:
        push_chart(registry, "charts", package_chart(charts, name="ranker", version="0.4.1"))
        bootstrap_layout(
            tmp_path,
            infrastructure=[namespace("ml-serving"), oci_helm_repository(registry, "charts")],
            apps=[helm_release("ranker", "ml-serving", chart="ranker", version="0.4.1",
                               repository="oci-charts")],
        )
        result, report = run_drill(scenario(tmp_path, name="helm-oci"), env=base_env(tmp_path))
    assert report.get("verdict") == "pass", (result.stderr[-3000:], report.get("phases"))
    ranker = workload(report, "Deployment", "ranker")
    assert ranker["healthy"]
    assert ranker["chain"] == [ROOT, APPS, "HelmRelease ml-serving/ranker",
                               "Deployment ml-serving/ranker"]
