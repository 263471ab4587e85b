"""A CRD that Git installs only after the workloads phase has started still gets simulated.

The serving layer depends on an infrastructure layer that waits for its Deployment, so Flux
applies the InferenceService CRD and its object seconds after the root Kustomization is Ready,
i.e. while the workloads phase already waits. kwok's own Stages never picked up such a CRD (the
reason `make demo` failed); the drill must still see the InferenceService become ready, and
the report must say its status was simulated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.integration.gitops.drills import (
    NAMESPACE,
    base_env,
    deployment,
    phase,
    run_drill,
    write_repo,
    write_scenario,
)

SOURCE = {"kind": "GitRepository", "name": "platform", "namespace": "flux-system"}
ISVC_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "inferenceservices.serving.kserve.io"},
    "spec": {
        "group": "serving.kserve.io", "scope": "Namespaced",
        "names": {"kind": "InferenceService", "plural": "inferenceservices",
                  "singular": "inferenceservice"},
        "versions": [{"name": "v1beta1", "served": True, "storage": True,
                      "subresources": {"status": {}},
                      "schema": {"openAPIV3Schema": {
                          "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}
ISVC = {
    "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
    "metadata": {"name": "ranker", "namespace": "ml-serving"},
    "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}}}},
}


def _layer(name: str, path: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "10m", "retryInterval": "2s", "path": path, "prune": True,
                 "sourceRef": SOURCE, **spec},
    }


def _folder(repo: Path, path: str, objects: list[dict[str, Any]]) -> None:
    folder = repo / path
    folder.mkdir(parents=True)
    (folder / "objects.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": ["objects.yaml"]}))


def test_crd_installed_after_the_workloads_phase_started_is_simulated(tmp_path: Path) -> None:
    repo = write_repo(tmp_path, [
        NAMESPACE,
        _layer("infrastructure", "./infrastructure", wait=True, timeout="2m"),
        _layer("serving", "./serving",
               dependsOn=[{"name": "infrastructure", "namespace": "flux-system"}]),
    ])
    _folder(repo, "infrastructure", [deployment("feature-cache")])
    _folder(repo, "serving", [ISVC_CRD, ISVC])
    scenario = write_scenario(
        tmp_path, name="late-crd", gitops={}, kwok={"readinessDelay": "3s"},
        sla={"rto": "5m", "phases": {"bootstrap": "2m", "workloads": "2m"}})
    result, report = run_drill(scenario, env=base_env(tmp_path))
    assert report.get("verdict") == "pass", (result.stderr[-3000:], report.get("phases"))
    workloads = phase(report, "workloads")
    workloads_started = workloads["endedAfterSeconds"] - workloads["durationSeconds"]
    layers = {layer["name"]: layer for layer in report["bootstrap"]["layers"]}
    # Flux applied the CRD only after the workloads phase had begun waiting.
    assert layers["serving"]["readyAfterSeconds"] > workloads_started, (layers, workloads)
    isvc = next(w for w in report["workloads"] if w["kind"] == "InferenceService")
    assert isvc["healthy"] and isvc["simulated"], isvc
    assert isvc["readyAfterSeconds"] > workloads_started
    simulated = report["simulation"]["customResources"]
    assert {(r["kind"], r["name"], r["outcome"]) for r in simulated} == {
        ("InferenceService", "ranker", "ready")}
