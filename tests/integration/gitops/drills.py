"""Build small GitOps repositories and scenarios in a temp folder, and run real drills on them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "model-config", "namespace": "ml-serving"},
             "data": {"MODEL_URI": "s3://nowhere/model/"}}
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml-serving"}}


def deployment(name: str, *, replicas: int = 1, labels: dict[str, str] | None = None,
               gpus: int = 0) -> dict[str, Any]:
    resources = {"requests": {"nvidia.com/gpu": str(gpus)},
                 "limits": {"nvidia.com/gpu": str(gpus)}} if gpus else {}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ml-serving"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, **(labels or {})}},
                "spec": {"containers": [{"name": "c", "image": "example.com/model:1",
                                         "resources": resources}]},
            },
        },
    }


def write_repo(root: Path, objects: list[dict[str, Any]], *, path: str = "clusters/drill") -> Path:
    folder = root / "platform" / path
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "objects.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
         "resources": ["objects.yaml"]}))
    return root / "platform"


def write_scenario(root: Path, *, name: str, gitops: dict[str, Any],
                   sla: dict[str, Any] | None = None,
                   kwok: dict[str, Any] | None = None,
                   pools: list[dict[str, Any]] | None = None) -> Path:
    scenario = {
        "apiVersion": "drdrill/v1alpha1", "kind": "Drill", "metadata": {"name": name},
        "spec": {
            "cluster": {
                "provider": "kwok",
                "kwok": kwok or {"readinessDelay": "500ms"},
                "nodePools": pools or [{"name": "cpu", "count": 2},
                                       {"name": "gpu", "count": 1, "gpus": 2}],
            },
            # root objects named `platform`: what these repositories' child Kustomizations
            # read (the default is flux-system/flux-system, as `flux bootstrap` names them)
            "gitops": {"engine": "flux", "version": "v2.7", "repository": {"path": "./platform"},
                       "ref": {"branch": "main"}, "path": "./clusters/drill",
                       "root": {"name": "platform"}, **gitops},
            "sla": sla or {"rto": "4m", "phases": {"bootstrap": "2m", "workloads": "90s"}},
        },
    }
    path = root / "drill.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


def run_drill(
    scenario: Path, *, env: dict[str, str], timeout: float = 400, extra: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    reports = scenario.parent / "reports"
    result = subprocess.run(
        [sys.executable, "-m", "drdrill", "--log-format", "json", "run", str(scenario),
         "--report-dir", str(reports), *extra],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )
    name = yaml.safe_load(scenario.read_text())["metadata"]["name"]
    report_file = reports / name / "latest" / "report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    return result, report


def phase(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in report["phases"] if p["name"] == name)


def base_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHONUNBUFFERED": "1"}


def repository_drill(tmp_path: Path, *, engine: str, url: str, secret_files: dict[str, str],
                     path: str = "apps/serving"
                     ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    """A Flux or Argo CD drill of the repository at `url` with the given secret files; returns
    the result, the report and every output (stdout, stderr, report files) as one text."""
    gitops: dict[str, Any] = {"repository": {"url": url}, "path": f"./{path}",
                              "secretFiles": secret_files}
    if engine == "argocd":
        gitops |= {"engine": "argocd", "version": "v3.1", "root": {}, "path": path}
    scenario = write_scenario(tmp_path, name=f"repo-{engine}", gitops=gitops, sla={
        "rto": "5m", "phases": {"bootstrap": "2m", "workloads": "90s"}})
    result, report = run_drill(scenario, env=base_env(tmp_path))
    outputs = [result.stdout, result.stderr] + [
        p.read_text(errors="replace") for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    return result, report, "\n".join(outputs)
