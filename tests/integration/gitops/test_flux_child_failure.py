"""A child Kustomization that Flux cannot build fails the drill early, with Flux's own message.

Flux keeps `status.observedGeneration: -1` on an object that never reconciled; a rule that only
looked at generations would wait out the whole workloads budget. The child here is two levels
from the drill: the root Kustomization applies it, and it points at a folder whose
kustomization.yaml names a file that does not exist.
"""

from __future__ import annotations

from pathlib import Path

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

# The GitRepository the drill's bootstrap creates (flux-system namespace).
ROOT_SOURCE = {"kind": "GitRepository", "name": "platform", "namespace": "flux-system"}


def _child(name: str, path: str) -> dict[str, object]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "10m", "retryInterval": "5s", "path": path, "prune": True,
                 "sourceRef": ROOT_SOURCE},
    }


def test_failed_child_kustomization_fails_the_drill_with_fluxs_message(tmp_path: Path) -> None:
    repo = write_repo(tmp_path, [NAMESPACE, deployment("model"),
                                 _child("ml-apps", "./apps/broken")])
    broken = repo / "apps" / "broken"
    broken.mkdir(parents=True)
    (broken / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": ["does-not-exist.yaml"]}))
    scenario = write_scenario(tmp_path, name="flux-child-fails", gitops={},
                              sla={"rto": "5m", "phases": {"bootstrap": "2m",
                                                           "workloads": "2m"}})
    result, report = run_drill(scenario, env=base_env(tmp_path))
    assert result.returncode == 1, result.stderr[-2000:]
    assert report["verdict"] == "fail"
    workloads = phase(report, "workloads")
    assert workloads["status"] == "failed", workloads
    assert "Kustomization flux-system/ml-apps" in workloads["message"]
    assert "BuildFailed" in workloads["message"]
    assert "does-not-exist.yaml" in workloads["message"]
    assert workloads["durationSeconds"] < 20, workloads  # 5 s of it: stableFor, for the sibling
    child = next(w for w in report["workloads"] if w["name"] == "ml-apps")
    assert not child["healthy"] and child["rule"] == "flux"
    # The healthy sibling is still reported healthy: one failure does not hide the rest.
    assert next(w for w in report["workloads"] if w["name"] == "model")["healthy"]
