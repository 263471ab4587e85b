from __future__ import annotations

import pytest

from drdrill.errors import BadInputError
from drdrill.health.inventory import (
    Selection,
    is_workload,
    label_selector_matches,
    refs_from_argocd_resources,
    refs_from_flux_inventory,
    select,
)
from drdrill.health.refs import ObjectRef
from drdrill.scenario.models import WorkloadSelector

WEB = ObjectRef("apps/v1", "Deployment", "ml", "web")
TRAIN = ObjectRef("kubeflow.org/v1", "PyTorchJob", "train-a", "llm")
NS = ObjectRef("v1", "Namespace", None, "ml")


@pytest.mark.parametrize(
    ("entry_id", "version", "expected"),
    [
        pytest.param("ml_web_apps_Deployment", "v1", WEB, id="namespaced-group"),
        pytest.param("ml_data__PersistentVolumeClaim", "v1",
                     ObjectRef("v1", "PersistentVolumeClaim", "ml", "data"), id="core-group"),
        pytest.param("_ml__Namespace", "v1", NS, id="cluster-scoped-core"),
        pytest.param("_system__kserve_rbac.authorization.k8s.io_ClusterRole", "v1",
                     ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", None,
                               "system:kserve"), id="colon-in-name"),
        pytest.param("train-a_llm_kubeflow.org_PyTorchJob", "v1", TRAIN, id="custom-resource"),
    ],
)
def test_flux_inventory_ids(entry_id: str, version: str, expected: ObjectRef) -> None:
    assert refs_from_flux_inventory([{"id": entry_id, "v": version}]) == [expected]


@pytest.mark.parametrize("entry", [{"id": "nonsense", "v": "v1"}, {"id": "a_b_c_D"}],
                         ids=["no-separators", "no-version"])
def test_flux_inventory_rejects_malformed(entry: dict[str, str]) -> None:
    with pytest.raises(BadInputError):
        refs_from_flux_inventory([entry])


def test_argocd_resources() -> None:
    resources = [
        {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "ml", "name": "web"},
        {"version": "v1", "kind": "Namespace", "name": "ml"},
    ]
    assert refs_from_argocd_resources(resources) == [WEB, NS]


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param(WEB, True, id="deployment"),
        pytest.param(NS, True, id="namespace-kept"),
        pytest.param(ObjectRef("v1", "Service", "ml", "web"), True, id="service-kept"),
        pytest.param(TRAIN, True, id="custom-resource"),
        pytest.param(ObjectRef("v1", "ConfigMap", "ml", "c"), False, id="configmap"),
        pytest.param(ObjectRef("v1", "Secret", "ml", "s"), False, id="secret"),
        pytest.param(ObjectRef("rbac.authorization.k8s.io/v1", "RoleBinding", "ml", "r"), False,
                     id="rolebinding"),
        pytest.param(ObjectRef("apiextensions.k8s.io/v1", "CustomResourceDefinition", None,
                               "x.example.com"), False, id="crd"),
    ],
)
def test_is_workload(ref: ObjectRef, expected: bool) -> None:
    assert is_workload(ref) is expected


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        pytest.param((), (), [WEB, TRAIN, NS], id="everything"),
        pytest.param((WorkloadSelector(namespace="train-*"),), (), [TRAIN], id="namespace-glob"),
        pytest.param((WorkloadSelector(kind="deployment"),), (), [WEB], id="kind-any-case"),
        pytest.param((), (WorkloadSelector(name="llm"),), [WEB, NS], id="exclude-name"),
        pytest.param((WorkloadSelector(namespace="ml"),), (WorkloadSelector(kind="Deployment"),),
                     [], id="include-then-exclude"),
    ],
)
def test_select(include: tuple[WorkloadSelector, ...], exclude: tuple[WorkloadSelector, ...],
                expected: list[ObjectRef]) -> None:
    assert select([WEB, TRAIN, NS], include, exclude) == expected


def test_label_selector_applies_once_labels_are_known() -> None:
    include = (WorkloadSelector(label_selector="tier=serving"),)
    labels = {WEB: {"tier": "serving"}, TRAIN: {"tier": "training"}}
    assert select([WEB, TRAIN], include, (), labels) == [WEB]
    # Without labels nothing is dropped on a guess.
    assert select([WEB, TRAIN], include, ()) == [WEB, TRAIN]
    assert Selection(include=include).needs_labels


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        pytest.param("app=web", {"app": "web"}, True, id="equals"),
        pytest.param("app==web", {"app": "api"}, False, id="double-equals-mismatch"),
        pytest.param("app!=web", {}, True, id="not-equals-absent"),
        pytest.param("tier in (a, b)", {"tier": "b"}, True, id="in"),
        pytest.param("tier notin (a,b)", {"tier": "b"}, False, id="notin"),
        pytest.param("gpu", {"gpu": ""}, True, id="exists"),
        pytest.param("!legacy", {"legacy": "1"}, False, id="not-exists"),
        pytest.param("app=web,tier in (a,b),!legacy", {"app": "web", "tier": "a"}, True,
                     id="combined"),
    ],
)
def test_label_selector(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert label_selector_matches(selector, labels) is expected


def test_label_selector_rejects_garbage() -> None:
    with pytest.raises(BadInputError):
        label_selector_matches("app=(x", {})
