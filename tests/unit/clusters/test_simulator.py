"""The simulated operator's decisions that need no cluster: which CRDs it serves, how it writes,
when it writes again, and when it stays out. Its watching and writing run in
tests/integration/clusters/test_simulated_operator.py against the real test bed."""

from __future__ import annotations

from typing import Any

import pytest

from drdrill.clusters.existing import ExistingCluster
from drdrill.clusters.kind import KindCluster
from drdrill.clusters.kwok import simulation_description
from drdrill.clusters.simulator import (
    FIELD_MANAGER,
    content_digest,
    foreign_status_manager,
    served_kind,
)
from drdrill.scenario.models import KwokSettings, NodePool


def crd(group: str, kind: str, *, versions: list[dict[str, Any]] | None = None,
        established: str | None = "True", deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": f"{kind.lower()}s.{group}"}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-30T10:00:00Z"
    status = {"conditions": [{"type": "Established", "status": established}]} if (
        established) else {}
    return {"metadata": metadata, "status": status, "spec": {
        "group": group, "names": {"kind": kind, "plural": f"{kind.lower()}s"},
        "versions": versions if versions is not None else [
            {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}}],
    }}


def test_an_established_crd_of_a_simulated_kind_is_served() -> None:
    served = served_kind(crd("serving.kserve.io", "InferenceService"))
    assert served is not None
    assert served.api_version == "serving.kserve.io/v1"
    assert served.status_subresource
    assert served.simulated.simulator == "drdrill-kwok/InferenceService"


@pytest.mark.parametrize("definition", [
    pytest.param(crd("ml.example.com", "FeatureView"), id="not-a-simulated-kind"),
    pytest.param(crd("example.com", "InferenceService"), id="same-kind-other-group"),
    pytest.param(crd("ray.io", "RayCluster", established=None), id="not-established-yet"),
    pytest.param(crd("ray.io", "RayCluster", established="False"), id="not-established"),
    pytest.param(crd("ray.io", "RayCluster", deleting=True), id="being-deleted"),
    pytest.param(crd("ray.io", "RayCluster", versions=[{"name": "v1", "served": False,
                                                        "storage": True}]), id="none-served"),
])
def test_crds_that_are_not_served(definition: dict[str, Any]) -> None:
    assert served_kind(definition) is None


def test_the_served_storage_version_is_used_and_its_subresources_read() -> None:
    served = served_kind(crd("argoproj.io", "Workflow", versions=[
        {"name": "v1alpha0", "served": True, "storage": False, "subresources": {"status": {}}},
        {"name": "v1alpha1", "served": True, "storage": True},
    ]))
    assert served is not None
    assert served.api_version == "argoproj.io/v1alpha1"
    assert not served.status_subresource  # Argo's Workflow: status goes in the object
    only_old = served_kind(crd("kubeflow.org", "MPIJob", versions=[
        {"name": "v2beta1", "served": True, "storage": False},
        {"name": "v1", "served": False, "storage": True},
    ]))
    assert only_old is not None and only_old.api_version == "kubeflow.org/v2beta1"


def _obj(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "ray.io/v1", "kind": "RayCluster",
        "metadata": {"name": "r", "namespace": "ml", "generation": 1, "resourceVersion": "5",
                     "labels": {"a": "b"}},
        "spec": {"headGroupSpec": {}}, "status": {"state": "ready"},
    }
    base.update(changes)
    return base


def test_the_write_key_follows_the_spec_not_metadata_or_status() -> None:
    # Writing a status (which, without a subresource, bumps the generation) must not call for
    # another write; a changed spec must.
    first = content_digest(_obj())
    assert content_digest(_obj(status={"state": "failed"})) == first
    assert content_digest(_obj(metadata={"name": "r", "generation": 2})) == first
    assert content_digest(_obj(spec={"headGroupSpec": {"x": 1}})) != first


@pytest.mark.parametrize(("managed", "foreign"), [
    ([], None),
    ([{"manager": "kustomize-controller", "operation": "Apply"}], None),
    ([{"manager": FIELD_MANAGER, "operation": "Update", "subresource": "status"}], None),
    ([{"manager": "kuberay-operator", "operation": "Update", "subresource": "status"}],
     "kuberay-operator"),
])
def test_a_status_written_by_another_manager_is_a_real_controller(
    managed: list[dict[str, Any]], foreign: str | None
) -> None:
    obj = _obj()
    obj["metadata"]["managedFields"] = managed
    assert foreign_status_manager(obj) == foreign


def test_real_clusters_simulate_nothing(tmp_path: Any) -> None:
    from drdrill.clusters.base import ClusterInfo

    info = ClusterInfo(name="d", provider="kind", kubeconfig=tmp_path / "kubeconfig")
    kind = KindCluster(drill="d", pools=(NodePool(name="cpu", count=1),))
    existing = ExistingCluster(drill="d", context="c", kubeconfig_flag=None,
                               kubeconfig_in_scenario=None, allow_non_empty=False)
    assert kind.start_simulation(info=info) is None
    assert existing.start_simulation(info=info) is None


def test_the_description_says_what_kwok_simulates() -> None:
    text = simulation_description(KwokSettings(readiness_delay="2s", readiness_jitter="3s"))
    assert "Ready 2s after it started (plus up to 3s of jitter)" in text
    assert "pod" in text and "custom resources" in text
    assert text.count(".") == 1 and text.endswith(".")
