"""The closure of Flux inventories and Helm releases, fed plain dicts (no cluster)."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping
from typing import Any

from drdrill.health.closure import (
    TreeTracker,
    decode_release,
    release_objects,
)
from drdrill.health.refs import ObjectRef

KS = "kustomize.toolkit.fluxcd.io/v1"
HR = "helm.toolkit.fluxcd.io/v2"


def entry(namespace: str, name: str, group: str, kind: str, version: str) -> dict[str, str]:
    return {"id": f"{namespace}_{name}_{group}_{kind}", "v": version}


def kustomization(name: str, *, entries: list[dict[str, str]] | None = None,
                  ready: str | None = "True", reason: str = "ReconciliationSucceeded",
                  depends_on: tuple[str, ...] = ()) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if ready is not None:
        status = {"observedGeneration": 1 if ready == "True" else -1,
                  "conditions": [{"type": "Ready", "status": ready, "reason": reason,
                                  "message": f"{reason} msg", "observedGeneration": 1}]}
        if entries is not None:
            status["inventory"] = {"entries": entries}
    return {"apiVersion": KS, "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system", "generation": 1},
            "spec": {"dependsOn": [{"name": d} for d in depends_on]}, "status": status}


ROOT = kustomization("flux-system", entries=[
    entry("flux-system", "infra", "kustomize.toolkit.fluxcd.io", "Kustomization", "v1"),
    entry("flux-system", "apps", "kustomize.toolkit.fluxcd.io", "Kustomization", "v1"),
])
DEPLOY = ObjectRef("apps/v1", "Deployment", "ml", "model")


def no_releases(_: Mapping[str, Any]) -> list[ObjectRef] | None:
    return None


def test_nested_inventories_give_every_object_its_chain_and_ready_order() -> None:
    tracker = TreeTracker(root=ROOT, root_ready_at=1.0, read_release=no_releases)
    assert not tracker.settled()
    tracker.observe(kustomization("apps", ready="False", reason="DependencyNotReady",
                                  depends_on=("infra",)), 2.0)
    tracker.observe(kustomization("infra", entries=[entry("", "ml", "", "Namespace", "v1")]),
                    3.0)
    assert not tracker.settled()
    tracker.observe(kustomization("apps", entries=[entry("ml", "model", "apps", "Deployment",
                                                         "v1")], depends_on=("infra",)), 5.0)
    assert tracker.settled()
    tree = tracker.tree()
    assert tree.chain(DEPLOY) == ["Kustomization flux-system/flux-system",
                                  "Kustomization flux-system/apps", "Deployment ml/model"]
    ready = {layer.ref.name: layer.ready_at for layer in tree.layers}
    assert ready == {"flux-system": 1.0, "infra": 3.0, "apps": 5.0}
    assert [layer.depends_on for layer in tree.layers if layer.ref.name == "apps"] == [
        ("Kustomization flux-system/infra",)]


def test_a_failed_layer_stops_and_its_dependents_are_blocked() -> None:
    tracker = TreeTracker(root=ROOT, root_ready_at=1.0, read_release=no_releases)
    tracker.observe(kustomization("infra", ready="False", reason="BuildFailed"), 2.0)
    tracker.observe(kustomization("apps", ready="False", reason="DependencyNotReady",
                                  depends_on=("infra",)), 2.5)
    assert tracker.settled()
    stopped = {layer.ref.name: layer for layer in tracker.tree().stopped()}
    assert "BuildFailed" in (stopped["infra"].problem or "")
    assert stopped["apps"].blocked and "infra" in (stopped["apps"].problem or "")


def release(version: str, installed: str, *, ready: str = "True",
            reason: str = "InstallSucceeded") -> dict[str, Any]:
    return {"apiVersion": HR, "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": "ml", "generation": 1},
            "spec": {"chart": {"spec": {"chart": "podinfo", "version": version}}},
            "status": {"observedGeneration": 1 if ready == "True" else -1,
                       "helmChart": "flux-system/ml-podinfo",
                       "history": [{"name": "podinfo", "namespace": "ml", "version": 1,
                                    "chartVersion": installed}],
                       "conditions": [{"type": "Ready", "status": ready, "reason": reason,
                                       "message": "HelmChart 'flux-system/ml-podinfo' is not "
                                                  "ready: no chart version found",
                                       "observedGeneration": 1}]}}


def helm_root() -> dict[str, Any]:
    return kustomization("flux-system", entries=[
        entry("ml", "podinfo", "helm.toolkit.fluxcd.io", "HelmRelease", "v2")])


def test_helm_release_objects_join_the_tree_through_the_release() -> None:
    def read(_: Mapping[str, Any]) -> list[ObjectRef]:
        return [DEPLOY]

    tracker = TreeTracker(root=helm_root(), root_ready_at=1.0, read_release=read)
    tracker.observe(release("1.0.0", "1.0.0"), 4.0)
    assert tracker.settled()
    assert tracker.tree().chain(DEPLOY)[1:] == ["HelmRelease ml/podinfo", "Deployment ml/model"]


def test_helm_release_at_another_chart_version_fails() -> None:
    tracker = TreeTracker(root=helm_root(), root_ready_at=1.0, read_release=no_releases)
    tracker.observe(release("1.0.0", "0.9.0"), 4.0)
    (layer,) = tracker.tree().stopped()
    assert "chart version 0.9.0, but Git asks for 1.0.0" in (layer.problem or "")


def test_helm_release_whose_chart_failed_fails_with_helm_controllers_message() -> None:
    tracker = TreeTracker(root=helm_root(), root_ready_at=1.0, read_release=no_releases)
    tracker.observe(release("9.9.9", "", ready="False", reason="SourceNotReady"), 2.0)
    assert not tracker.settled()
    chart = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
             "metadata": {"name": "ml-podinfo", "namespace": "flux-system", "generation": 1},
             "status": {"observedGeneration": -1, "conditions": [
                 {"type": "Ready", "status": "False", "reason": "InvalidChartReference",
                  "message": "no chart version found", "observedGeneration": 1}]}}
    tracker.observe(chart, 3.0)
    assert tracker.settled()
    (layer,) = tracker.tree().stopped()
    assert layer.problem is not None
    assert layer.problem.startswith("HelmRelease SourceNotReady: HelmChart 'flux-system/ml-")


def test_release_manifest_and_storage_format() -> None:
    manifest = ("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\n"
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                "metadata: {name: reader}\n")
    stored = base64.b64encode(base64.b64encode(gzip.compress(
        json.dumps({"manifest": manifest}).encode()))).decode()
    decoded = decode_release(stored)
    refs = release_objects(decoded["manifest"], namespace="ml",
                           namespaced=lambda _v, kind: kind != "ClusterRole")
    assert refs == [ObjectRef("v1", "Service", "ml", "web"),
                    ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", None, "reader")]


def test_oci_helm_repository_is_static_and_current() -> None:
    from drdrill.health import HealthState, assess

    oci = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
           "metadata": {"name": "charts", "namespace": "flux-system", "generation": 1},
           "spec": {"type": "oci", "url": "oci://registry.example/charts"}}
    assert assess(oci).state is HealthState.CURRENT
    http = {**oci, "spec": {"url": "https://charts.example"}}
    assert assess(http).state is HealthState.IN_PROGRESS  # no status yet: not reconciled


def test_a_failed_install_being_retried_is_not_final_but_remembered() -> None:
    tracker = TreeTracker(root=helm_root(), root_ready_at=1.0, read_release=no_releases)
    failed = release("1.0.0", "", ready="False", reason="InstallFailed")
    failed["status"]["conditions"][0]["message"] = "Helm install failed: no matches for kind"
    tracker.observe(failed, 2.0)
    retrying = release("1.0.0", "", ready="Unknown", reason="Progressing")
    tracker.observe(retrying, 3.0)
    tree = tracker.tree()
    assert not tracker.settled() and tree.stopped() == []
    ref = ObjectRef(HR, "HelmRelease", "ml", "podinfo")
    assert tree.last_failure(ref) == "InstallFailed: Helm install failed: no matches for kind"
