"""No false PASS: what nobody reconciles is not healthy, and pod trouble is judged like a kubelet's.

A bare kube-apiserver (no controllers): the tests play the kubelet where a pod status is needed,
and play nobody where the point is that no controller ever shows up.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from drdrill.health import ObjectRef, wait_until_healthy
from drdrill.health.custom_rules import RuleBook
from drdrill.health.pod_failures import PodPolicy
from drdrill.scenario.models import HealthRuleSpec
from drdrill.timing import Deadline
from tests.integration.health import kube
from tests.integration.health.conftest import LocalApiServer

pytestmark = pytest.mark.integration


@pytest.fixture
def api(local_apiserver: LocalApiServer) -> Any:
    return local_apiserver.client()


def _later(delay: float, action: Callable[[], None]) -> None:
    threading.Thread(target=lambda: (time.sleep(delay), action()), daemon=True).start()


def _crd(api: Any, *, group: str, kind: str, status_subresource: bool,
         version: str = "v1") -> str:
    plural = kind.lower() + "s"
    body = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group, "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [{
                "name": version, "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object",
                                               "x-kubernetes-preserve-unknown-fields": True}},
                **({"subresources": {"status": {}}} if status_subresource else {}),
            }],
        },
    }
    extensions = client.ApiextensionsV1Api(api)
    try:
        extensions.create_custom_resource_definition(body)
    except client.exceptions.ApiException as err:
        if err.status != 409:
            raise
    end = time.monotonic() + 30
    while time.monotonic() < end:
        crd = extensions.read_custom_resource_definition(f"{plural}.{group}")
        if any(c.type == "Established" and c.status == "True"
               for c in (crd.status.conditions or [])):
            return plural
        time.sleep(0.1)
    raise AssertionError(f"CRD {plural}.{group} not established")


def _create(api: Any, group: str, version: str, plural: str, ns: str, body: dict[str, Any]) -> None:
    client.CustomObjectsApi(api).create_namespaced_custom_object(group, version, ns, plural, body)


def test_helmrelease_no_controller_reconciles_is_not_healthy(api: Any) -> None:
    # The HelmRelease kind with the real group/version and a status subresource, as Git or the
    # Flux install would bring it; no helm-controller runs.
    plural = _crd(api, group="helm.toolkit.fluxcd.io", kind="HelmRelease",
                  status_subresource=True, version="v2")
    ns = kube.random_namespace(api)
    _create(api, "helm.toolkit.fluxcd.io", "v2", plural, ns, {
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "llm-gateway"},
        "spec": {"interval": "5m", "chart": {"spec": {"chart": "gateway"}}},
    })
    client.CoreV1Api(api).create_namespaced_config_map(ns, {"metadata": {"name": "settings"}})
    started = time.monotonic()
    outcomes = wait_until_healthy(
        api_client=api, deadline=Deadline.after(3), clock_origin=started,
        targets=[ObjectRef("helm.toolkit.fluxcd.io/v2", "HelmRelease", ns, "llm-gateway"),
                 ObjectRef("v1", "ConfigMap", ns, "settings")],
    )
    by_kind = {o.kind: o for o in outcomes}
    release = by_kind["HelmRelease"]
    assert not release.healthy
    assert "no controller has reconciled it" in release.reason
    assert release.rule == "no-status"
    assert by_kind["ConfigMap"].healthy
    assert by_kind["ConfigMap"].rule == "ConfigMap"


def test_custom_resource_with_status_subresource_waits_for_a_controller(api: Any) -> None:
    group = f"t{uuid.uuid4().hex[:6]}.example.com"
    with_status = _crd(api, group=group, kind="FeatureView", status_subresource=True)
    without_status = _crd(api, group=group, kind="FeatureFlag", status_subresource=False)
    ns = kube.random_namespace(api)
    _create(api, group, "v1", with_status, ns, {
        "apiVersion": f"{group}/v1", "kind": "FeatureView", "metadata": {"name": "clicks"}})
    _create(api, group, "v1", without_status, ns, {
        "apiVersion": f"{group}/v1", "kind": "FeatureFlag", "metadata": {"name": "beta"}})
    started = time.monotonic()
    outcomes = wait_until_healthy(
        api_client=api, deadline=Deadline.after(3), clock_origin=started,
        targets=[ObjectRef(f"{group}/v1", "FeatureView", ns, "clicks"),
                 ObjectRef(f"{group}/v1", "FeatureFlag", ns, "beta")],
    )
    by_kind = {o.kind: o for o in outcomes}
    assert not by_kind["FeatureView"].healthy
    assert "no controller has reconciled it" in by_kind["FeatureView"].reason
    # A kind whose API has no status subresource carries no status: it exists, so it is current.
    assert by_kind["FeatureFlag"].healthy, by_kind["FeatureFlag"]


def test_scenario_health_rule_decides_a_teams_own_kind(api: Any) -> None:
    group = f"t{uuid.uuid4().hex[:6]}.example.com"
    plural = _crd(api, group=group, kind="ModelCache", status_subresource=True)
    ns = kube.random_namespace(api)
    for name in ("warm", "broken"):
        _create(api, group, "v1", plural, ns, {
            "apiVersion": f"{group}/v1", "kind": "ModelCache", "metadata": {"name": name}})
    custom = client.CustomObjectsApi(api)

    def play_the_operator() -> None:
        custom.patch_namespaced_custom_object_status(group, "v1", ns, plural, "warm",
                                                     {"status": {"phase": "Warm"}})
        custom.patch_namespaced_custom_object_status(group, "v1", ns, plural, "broken",
                                                     {"status": {"phase": "Corrupt"}})

    _later(0.3, play_the_operator)
    rules = RuleBook([HealthRuleSpec.model_validate({
        "apiGroup": group, "kind": "ModelCache",
        "field": {"path": "status.phase", "healthy": ["Warm"], "failed": ["Corrupt"]}})])
    started = time.monotonic()
    outcomes = wait_until_healthy(
        api_client=api, deadline=Deadline.after(20), clock_origin=started, rules=rules,
        targets=[ObjectRef(f"{group}/v1", "ModelCache", ns, n) for n in ("warm", "broken")],
    )
    assert time.monotonic() - started < 10
    by_name = {o.name: o for o in outcomes}
    assert by_name["warm"].healthy
    assert not by_name["broken"].healthy
    assert "status.phase is 'Corrupt'" in by_name["broken"].reason
    assert by_name["broken"].rule == "custom (ModelCache)"


def _pod_waiting(api: Any, ns: str, pod: str, reason: str, message: str) -> None:
    client.CoreV1Api(api).patch_namespaced_pod_status(pod, ns, {"status": {
        "phase": "Pending",
        "containerStatuses": [{
            "name": "main", "image": "registry.example/model:1", "imageID": "", "ready": False,
            "restartCount": 0, "state": {"waiting": {"reason": reason, "message": message}},
        }],
    }})


def test_missing_secret_fails_its_deployment_naming_the_secret_after_the_grace(api: Any) -> None:
    ns = kube.random_namespace(api)
    kube.create_deployment(api, ns, "ranker")
    pod = kube.create_owned_pod(api, ns, "ranker", "5c7d9f8b6")
    _later(0.2, lambda: _pod_waiting(api, ns, pod, "CreateContainerConfigError",
                                     'secret "hf-token" not found'))
    started = time.monotonic()
    [outcome] = wait_until_healthy(
        api_client=api, targets=[ObjectRef("apps/v1", "Deployment", ns, "ranker")],
        deadline=Deadline.after(30), clock_origin=started,
        pod_policy=PodPolicy(config_error_grace_seconds=2.0),
    )
    waited = time.monotonic() - started
    assert not outcome.healthy
    assert "missing Secret hf-token" in outcome.reason and pod in outcome.reason
    # Terminal after the grace (2 s), not at the first sight of it and not at the deadline.
    assert 2.0 <= waited < 10, waited


def test_one_failed_pull_is_not_terminal_the_third_back_off_is(api: Any) -> None:
    ns = kube.random_namespace(api)
    kube.create_deployment(api, ns, "llm")
    pod = kube.create_owned_pod(api, ns, "llm", "7d9f8c6b5")
    pulls: list[float] = []

    def play_the_kubelet() -> None:
        for _ in range(3):
            time.sleep(0.4)
            _pod_waiting(api, ns, pod, "ErrImagePull", "failed to pull: not found")
            pulls.append(time.monotonic())
            time.sleep(0.4)
            _pod_waiting(api, ns, pod, "ImagePullBackOff",
                         'Back-off pulling image "registry.example/model:1"')

    _later(0, play_the_kubelet)
    started = time.monotonic()
    [outcome] = wait_until_healthy(
        api_client=api, targets=[ObjectRef("apps/v1", "Deployment", ns, "llm")],
        deadline=Deadline.after(30), clock_origin=started,
        pod_policy=PodPolicy(image_pull_attempts=3),
    )
    assert not outcome.healthy
    assert "ImagePullBackOff after 3 failed pulls" in outcome.reason
    assert len(pulls) == 3 and time.monotonic() > pulls[-1]
