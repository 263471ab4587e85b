"""Repositories laid out as Flux users have them, written into a temp folder by the tests.

`bootstrap_layout` writes what `flux bootstrap` commits (`clusters/<name>/flux-system/` with
gotk-components.yaml, gotk-sync.yaml and kustomization.yaml) plus the usual infrastructure /
apps split with dependsOn. The gotk-sync.yaml points at a remote the test never reaches
(`ssh://git@github.com/acme/fleet`, with a deploy-key Secret the new cluster does not have),
as a real one does; gotk-components.yaml holds the flux-system Namespace only (the controllers
run from the test bed).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

ORIGIN = "ssh://git@github.com/acme/fleet"
CLUSTER_PATH = "./clusters/drill"
KS_API = "kustomize.toolkit.fluxcd.io/v1"


def write(folder: Path, name: str, objects: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(yaml.safe_dump_all(objects, sort_keys=False))


def kustomize_file(folder: Path, resources: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
         "resources": resources}))


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def deployment(name: str, ns: str, *, labels: dict[str, str] | None = None,
               env: dict[str, str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "example.com/model:1"}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name, **(labels or {})}},
                              "spec": {"containers": [container]}}},
    }


def flux_kustomization(name: str, path: str, *, depends_on: tuple[str, ...] = (),
                       source: str = "flux-system", source_namespace: str | None = None,
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    source_ref: dict[str, str] = {"kind": "GitRepository", "name": source}
    if source_namespace:
        source_ref["namespace"] = source_namespace
    spec: dict[str, Any] = {"interval": "10m", "retryInterval": "10s", "timeout": "2m",
                            "path": path, "prune": True, "wait": False, "sourceRef": source_ref}
    if depends_on:
        spec["dependsOn"] = [{"name": d} for d in depends_on]
    spec.update(extra or {})
    return {"apiVersion": KS_API, "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system"}, "spec": spec}


def git_repository(name: str, url: str, *, ns: str = "flux-system") -> dict[str, Any]:
    return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"interval": "1m", "url": url, "ref": {"branch": "main"},
                     "secretRef": {"name": f"{name}-deploy-key"}}}


def bootstrap_layout(root: Path, *, infrastructure: list[dict[str, Any]],
                     apps: list[dict[str, Any]],
                     cluster_extra: list[dict[str, Any]] | None = None) -> Path:
    """A `flux bootstrap` repository: clusters/drill/{flux-system,infrastructure.yaml,apps.yaml},
    infrastructure/ and apps/ (apps dependsOn infrastructure). Returns the repository folder."""
    repo = root / "fleet"
    cluster = repo / "clusters" / "drill"
    system = cluster / "flux-system"
    write(system, "gotk-components.yaml", [namespace("flux-system")])
    write(system, "gotk-sync.yaml", [
        {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
         "metadata": {"name": "flux-system", "namespace": "flux-system"},
         "spec": {"interval": "1m0s", "ref": {"branch": "main"},
                  "secretRef": {"name": "flux-system"}, "url": ORIGIN}},
        {"apiVersion": KS_API, "kind": "Kustomization",
         "metadata": {"name": "flux-system", "namespace": "flux-system"},
         "spec": {"interval": "10m0s", "path": CLUSTER_PATH, "prune": True,
                  "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}},
    ])
    kustomize_file(system, ["gotk-components.yaml", "gotk-sync.yaml"])
    write(cluster, "infrastructure.yaml", [flux_kustomization("infrastructure",
                                                              "./infrastructure")])
    write(cluster, "apps.yaml", [flux_kustomization("apps", "./apps",
                                                    depends_on=("infrastructure",))])
    resources = ["flux-system", "infrastructure.yaml", "apps.yaml"]
    if cluster_extra:
        write(cluster, "extra.yaml", cluster_extra)
        resources.append("extra.yaml")
    kustomize_file(cluster, resources)
    write(repo / "infrastructure", "objects.yaml", infrastructure)
    kustomize_file(repo / "infrastructure", ["objects.yaml"])
    write(repo / "apps", "objects.yaml", apps)
    kustomize_file(repo / "apps", ["objects.yaml"])
    commit(repo)
    return repo


def commit(repo: Path) -> str:
    if not (repo / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
                   cwd=repo, check=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout.strip()


def scenario(root: Path, *, name: str, gitops: dict[str, Any] | None = None,
             sla: dict[str, Any] | None = None, backups: dict[str, Any] | None = None,
             workloads: dict[str, Any] | None = None) -> Path:
    spec: dict[str, Any] = {
        "cluster": {"provider": "kwok", "kwok": {"readinessDelay": "500ms"},
                    "nodePools": [{"name": "cpu", "count": 2}]},
        "gitops": {"engine": "flux", "version": "v2.7", "repository": {"path": "./fleet"},
                   "ref": {"branch": "main"}, "path": CLUSTER_PATH, **(gitops or {})},
        "sla": sla or {"rto": "5m", "phases": {"bootstrap": "2m", "workloads": "150s"}},
    }
    if backups is not None:
        spec["backups"] = backups
    if workloads is not None:
        spec["workloads"] = workloads
    path = root / "drill.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "drdrill/v1alpha1", "kind": "Drill",
                                    "metadata": {"name": name}, "spec": spec}, sort_keys=False))
    return path


def workload(report: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    return next(w for w in report["workloads"] if w["kind"] == kind and w["name"] == name)
