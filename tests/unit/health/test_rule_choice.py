"""Which rule decides, and what a missing status means: never healthy for a controller's kind."""

from __future__ import annotations

from typing import Any

import pytest

from drdrill.health import HealthState, assess
from drdrill.health.custom_rules import RuleBook
from drdrill.scenario.models import HealthRuleSpec
from tests.unit.health.objects import cond, obj

CURRENT, IN_PROGRESS, FAILED = HealthState.CURRENT, HealthState.IN_PROGRESS, HealthState.FAILED
HR = "helm.toolkit.fluxcd.io/v2"
KS = "kustomize.toolkit.fluxcd.io/v1"


def _flux_cond(status: str, reason: str, message: str, generation: int) -> dict[str, Any]:
    return {**cond("Ready", status, reason, message), "observedGeneration": generation}


NO_STATUS: list[Any] = [
    # (object, status subresource per discovery, state, reason part, rule)
    pytest.param(obj(HR, "HelmRelease"), True, IN_PROGRESS, "no controller has reconciled it",
                 "no-status", id="helmrelease-no-controller"),
    pytest.param(obj("external-secrets.io/v1", "ExternalSecret"), None, IN_PROGRESS,
                 "no controller has reconciled it", "no-status", id="externalsecret"),
    pytest.param(obj("cert-manager.io/v1", "Certificate"), None, IN_PROGRESS,
                 "no controller has reconciled it", "no-status", id="certificate"),
    pytest.param(obj("argoproj.io/v1alpha1", "ApplicationSet"), False, IN_PROGRESS,
                 "no controller has reconciled it", "no-status", id="applicationset"),
    pytest.param(obj("argoproj.io/v1alpha1", "Application", status={}), False, IN_PROGRESS,
                 "no controller has reconciled it", "no-status", id="application-empty-status"),
    pytest.param(obj("ml.example.com/v1", "FeatureView"), True, IN_PROGRESS,
                 "no controller has reconciled it", "no-status", id="unknown-cr-with-subresource"),
    pytest.param(obj("ml.example.com/v1", "FeatureView"), False, CURRENT,
                 "no Ready condition", "Ready condition", id="unknown-cr-without-subresource"),
    pytest.param(obj("ml.example.com/v1", "FeatureView", status={"phase": "x"}), True, CURRENT,
                 "no Ready condition", "Ready condition", id="unknown-cr-with-some-status"),
    pytest.param(obj("v1", "ConfigMap"), False, CURRENT, "carries no status", "ConfigMap",
                 id="configmap"),
    pytest.param(obj("v1", "Secret"), False, CURRENT, "carries no status", "Secret",
                 id="secret"),
    pytest.param(obj("v1", "Service", spec={"type": "ClusterIP", "clusterIP": "10.0.0.1"}), True,
                 CURRENT, "exists", "Service", id="service"),
    pytest.param(obj("networking.k8s.io/v1", "Ingress", status={}), True, CURRENT,
                 "no Ready condition", "Ready condition", id="built-in-group-is-not-a-cr"),
]


@pytest.mark.parametrize(("resource", "subresource", "state", "reason_part", "rule"), NO_STATUS)
def test_no_status(resource: dict[str, Any], subresource: bool | None, state: HealthState,
                   reason_part: str, rule: str) -> None:
    health = assess(resource, status_subresource=subresource)
    assert health.state is state, health
    assert reason_part in health.reason
    assert health.rule == rule


FLUX: list[Any] = [
    pytest.param(
        obj(KS, "Kustomization", generation=2, status={
            "observedGeneration": -1,
            "conditions": [_flux_cond("False", "BuildFailed", "kustomize build failed: x", 2)]}),
        FAILED, "Kustomization BuildFailed: kustomize build failed: x",
        id="child-build-failed-whatever-observed-generation"),
    pytest.param(
        obj(KS, "Kustomization", generation=2, status={
            "observedGeneration": 1,
            "conditions": [_flux_cond("False", "BuildFailed", "old failure", 1)]}),
        IN_PROGRESS, "generation 2 not applied yet", id="failure-of-an-older-generation"),
    pytest.param(
        obj(KS, "Kustomization", generation=1, status={
            "observedGeneration": -1,
            "conditions": [_flux_cond("False", "DependencyNotReady", "dependency 'infra'", 1)]}),
        IN_PROGRESS, "dependency 'infra'", id="dependency-not-ready-waits"),
    pytest.param(
        obj(KS, "Kustomization", generation=1, status={
            "observedGeneration": -1,
            "conditions": [_flux_cond("False", "ArtifactFailed", "Source artifact not found", 1)]}),
        IN_PROGRESS, "Source artifact", id="source-not-ready-yet-waits"),
    pytest.param(
        obj(KS, "Kustomization", generation=1, status={
            "observedGeneration": -1,
            "conditions": [_flux_cond("False", "ArtifactFailed", "kustomization path not found",
                                      1)]}),
        FAILED, "path not found", id="path-not-found-fails"),
    pytest.param(
        obj(HR, "HelmRelease", generation=1, status={
            "observedGeneration": 1,
            "conditions": [_flux_cond("False", "InstallFailed", "install failed", 1),
                           cond("Stalled", "True", "RetriesExceeded",
                                "install retries exhausted")]}),
        FAILED, "install retries exhausted", id="helmrelease-stalled"),
    pytest.param(
        obj(KS, "Kustomization", generation=3, status={
            "observedGeneration": 3,
            "conditions": [_flux_cond("True", "ReconciliationSucceeded",
                                      "Applied revision: main@sha1:a", 3)]}),
        CURRENT, "Applied revision", id="ready"),
    pytest.param(
        obj(KS, "Kustomization", generation=1, spec={"suspend": True}, status={
            "observedGeneration": 1, "conditions": [_flux_cond("True", "Succeeded", "ok", 1)]}),
        FAILED, "suspended", id="suspended-in-git"),
    pytest.param(
        obj("source.toolkit.fluxcd.io/v1", "GitRepository", generation=1, status={
            "observedGeneration": -1,
            "conditions": [_flux_cond("False", "GitOperationFailed", "auth required", 1)]}),
        FAILED, "GitOperationFailed: auth required", id="source-failed"),
]


@pytest.mark.parametrize(("resource", "state", "reason_part"), FLUX)
def test_flux_objects(resource: dict[str, Any], state: HealthState, reason_part: str) -> None:
    health = assess(resource, status_subresource=True)
    assert health.state is state, health
    assert reason_part in health.reason
    assert health.rule == "flux"


BOOK = RuleBook([
    HealthRuleSpec.model_validate({"apiGroup": "ml.example.com", "kind": "FeatureView",
                                   "condition": {"type": "Materialized",
                                                 "failedReasons": ["SourceMissing"]}}),
    HealthRuleSpec.model_validate({"apiGroup": "ml.example.com", "kind": "ModelCache",
                                   "field": {"path": "status.phase", "healthy": ["Warm"],
                                             "failed": ["Error"]}}),
    # Overrides the built-in Deployment rule.
    HealthRuleSpec.model_validate({"apiGroup": "apps", "kind": "Deployment",
                                   "field": {"path": "status.readyReplicas", "healthy": ["5"]}}),
])
FV, MC = "ml.example.com/v1", "ml.example.com/v1"
CUSTOM: list[Any] = [
    pytest.param(obj(FV, "FeatureView", status={"conditions": [cond("Materialized")]}), CURRENT,
                 "Materialized=True", id="condition-true"),
    pytest.param(obj(FV, "FeatureView", status={"conditions": [
        cond("Materialized", "False", "SourceMissing", "table gone")]}), FAILED, "table gone",
        id="condition-false-failed-reason"),
    pytest.param(obj(FV, "FeatureView", status={"conditions": [
        cond("Materialized", "False", "Running", "30%")]}), IN_PROGRESS, "30%",
        id="condition-false-other-reason"),
    pytest.param(obj(FV, "FeatureView"), IN_PROGRESS, "no Materialized condition",
                 id="condition-no-status"),
    pytest.param(obj(MC, "ModelCache", status={"phase": "Warm"}), CURRENT, "'Warm'",
                 id="field-healthy"),
    pytest.param(obj(MC, "ModelCache", status={"phase": "Error"}), FAILED, "'Error'",
                 id="field-failed"),
    pytest.param(obj(MC, "ModelCache", status={"phase": "Loading"}), IN_PROGRESS,
                 "waiting for Warm", id="field-other"),
    pytest.param(obj("apps/v1", "Deployment", status={"readyReplicas": 5}), CURRENT, "5",
                 id="overrides-built-in"),
    pytest.param(obj(MC, "ModelCache", generation=2, status={"phase": "Warm",
                                                              "observedGeneration": 1}),
                 IN_PROGRESS, "not yet observed", id="generic-generation-check-first"),
]


@pytest.mark.parametrize(("resource", "state", "reason_part"), CUSTOM)
def test_custom_rules(resource: dict[str, Any], state: HealthState, reason_part: str) -> None:
    health = assess(resource, rules=BOOK, status_subresource=True)
    assert health.state is state, health
    assert reason_part in health.reason
    if "generic" not in reason_part:
        assert health.rule in (f"custom ({resource['kind']})", "kstatus")


def test_health_rule_needs_exactly_one_of_condition_or_field() -> None:
    with pytest.raises(ValueError, match="exactly one of condition or field"):
        HealthRuleSpec.model_validate({"apiGroup": "x.io", "kind": "K"})
