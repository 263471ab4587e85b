"""A local kwok cluster used as an "existing" cluster: one running workloads is refused unless
--allow-non-empty, and teardown removes what the drill applied there (GitOps objects with
prune, the objects of their inventory, then the namespaces and CRDs it created), and nothing
that was there before."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from drdrill import testbed
from drdrill.clusters.applied import remove_applied, take_baseline
from drdrill.clusters.base import ClusterInfo
from drdrill.clusters.existing import ExistingCluster
from drdrill.clusters.kwok import KwokCluster
from drdrill.errors import PrerequisiteError
from drdrill.gitops.flux_local import flux_crds_manifest
from drdrill.kubeapi import new_api_client
from drdrill.scenario.models import KwokSettings, NodePool
from drdrill.timing import Deadline

KS = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")
GIT = ("source.toolkit.fluxcd.io", "v1", "gitrepositories")


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterInfo]:
    provider = KwokCluster(drill=f"existing-{uuid.uuid4().hex[:6]}",
                           settings=KwokSettings(readiness_delay="500ms"),
                           pools=(NodePool(name="cpu", count=1),))
    info = provider.create(deadline=Deadline.after(180))
    try:
        yield info
    finally:
        provider.delete(info)


@pytest.fixture(scope="module")
def api(cluster: ClusterInfo) -> Iterator[Any]:
    client = new_api_client(kubeconfig=cluster.kubeconfig)
    yield client
    client.close()


def _context(cluster: ClusterInfo) -> str:
    return str(yaml.safe_load(cluster.kubeconfig.read_text())["current-context"])


def _deployment(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}}


def _existing(cluster: ClusterInfo, *, allow: bool) -> ExistingCluster:
    return ExistingCluster(drill="d", context=_context(cluster), kubeconfig_flag=cluster.kubeconfig,
                           kubeconfig_in_scenario=None, allow_non_empty=allow)


@pytest.fixture(scope="module")
def production(api: Any) -> str:
    """What a production cluster runs without any GitOps engine: refused by default."""
    from kubernetes import client

    client.CoreV1Api(api).create_namespace({"metadata": {"name": "prod-app"}})
    client.AppsV1Api(api).create_namespaced_deployment("prod-app", _deployment("api", "prod-app"))
    client.CoreV1Api(api).create_namespaced_config_map(
        "prod-app", {"metadata": {"name": "settings"}, "data": {"k": "v"}})
    return "prod-app"


def test_a_cluster_running_workloads_is_refused(cluster: ClusterInfo, production: str) -> None:
    with pytest.raises(PrerequisiteError, match=r"Deployment prod-app/api"):
        _existing(cluster, allow=False).create(deadline=Deadline.after(30))
    info = _existing(cluster, allow=True).create(deadline=Deadline.after(30))
    assert info.owned is False


def _kubectl(cluster: ClusterInfo, *args: str) -> None:
    subprocess.run([str(testbed.testbed_binary("kubectl")), "--kubeconfig", str(cluster.kubeconfig),
                    *args], check=True, capture_output=True, timeout=120)


def _gone(check: Any, timeout: float = 90) -> bool:
    from kubernetes.client.exceptions import ApiException

    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        try:
            check()
        except ApiException as err:
            if err.status == 404:
                return True
            raise
        time.sleep(0.5)
    return False


def test_teardown_removes_what_the_drill_applied_and_nothing_else(
        cluster: ClusterInfo, api: Any, production: str, tmp_path: Path) -> None:
    from kubernetes import client

    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    rbac = client.RbacAuthorizationV1Api(api)
    # Production changes right up to the drill's start: an object created a moment before the
    # baseline (within the same second of the server's clock) is still not the drill's.
    core.create_namespaced_config_map(production, {"metadata": {"name": "just-before"},
                                                   "data": {"k": "v"}})
    baseline = take_baseline(api)

    # What a drill applies: the Flux CRDs and namespace (bootstrap), the root objects with
    # their controllers' finalizers, and what Git declares (a namespace with a workload, a
    # ClusterRole); the inventory also names a production object Flux adopted.
    _kubectl(cluster, "apply", "--server-side", "-f", str(flux_crds_manifest()))
    _kubectl(cluster, "wait", "--for=condition=Established", "--timeout=60s",
             "crd/kustomizations.kustomize.toolkit.fluxcd.io",
             "crd/gitrepositories.source.toolkit.fluxcd.io")
    for name in ("flux-system", "ml-serving"):
        core.create_namespace({"metadata": {"name": name}})
    client.AppsV1Api(api).create_namespaced_deployment(
        "ml-serving", _deployment("predictor", "ml-serving"))
    rbac.create_cluster_role({"metadata": {"name": "drill-reader"},
                              "rules": [{"apiGroups": [""], "resources": ["pods"],
                                         "verbs": ["get"]}]})
    custom.create_namespaced_custom_object(*GIT[:2], "flux-system", GIT[2], {
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "flux-system", "finalizers": ["finalizers.fluxcd.io"]},
        "spec": {"url": "http://127.0.0.1:1/x.git", "interval": "1m",
                 "ref": {"branch": "main"}}})
    custom.create_namespaced_custom_object(*KS[:2], "flux-system", KS[2], {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "flux-system", "finalizers": ["finalizers.fluxcd.io"]},
        "spec": {"interval": "1m", "path": "./", "prune": True,
                 "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}})
    custom.patch_namespaced_custom_object_status(*KS[:2], "flux-system", KS[2], "flux-system", {
        "status": {"inventory": {"entries": [
            {"id": "_ml-serving__Namespace", "v": "v1"},
            {"id": "ml-serving_predictor_apps_Deployment", "v": "v1"},
            {"id": "_drill-reader_rbac.authorization.k8s.io_ClusterRole", "v": "v1"},
            {"id": "prod-app_settings__ConfigMap", "v": "v1"},
        ]}}})

    # No Flux controller runs here: the removal itself must prune and release finalizers.
    removal = remove_applied(api, baseline=baseline, deadline=Deadline.after(120),
                             controller_wait=2)
    assert removal.problems == []
    assert _gone(lambda: custom.get_namespaced_custom_object(*KS[:2], "flux-system", KS[2],
                                                             "flux-system"))
    assert _gone(lambda: rbac.read_cluster_role("drill-reader"))
    for namespace in ("ml-serving", "flux-system"):
        assert _gone(lambda ns=namespace: core.read_namespace(ns)), namespace
    assert _gone(lambda: client.ApiextensionsV1Api(api).read_custom_resource_definition(
        "kustomizations.kustomize.toolkit.fluxcd.io"))
    # What was there before the drill is untouched, also when the inventory names it.
    assert core.read_namespaced_config_map("settings", production).data == {"k": "v"}
    assert core.read_namespaced_config_map("just-before", production).data == {"k": "v"}
    assert client.AppsV1Api(api).read_namespaced_deployment("api", production)
