from __future__ import annotations

from typing import Any

import pytest

from drdrill.health.rules import assess
from drdrill.health.status import HealthState
from tests.unit.health.objects import cond, deployment, obj

CURRENT, IN_PROGRESS, FAILED = HealthState.CURRENT, HealthState.IN_PROGRESS, HealthState.FAILED

CASES: list[Any] = [
    # generic properties, in kstatus order
    pytest.param(
        deployment(generation=3, observed=2), IN_PROGRESS, "generation 3", id="generic-gen-behind"
    ),
    pytest.param(
        {**deployment(), "metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"}},
        IN_PROGRESS,
        "being deleted",
        id="generic-terminating",
    ),
    pytest.param(
        obj("example.com/v1", "Widget", status={"conditions": [cond("Stalled", message="bad")]}),
        FAILED,
        "stalled: bad",
        id="generic-stalled",
    ),
    pytest.param(
        obj("example.com/v1", "Widget", status={"conditions": [cond("Reconciling")]}),
        IN_PROGRESS,
        "reconciling",
        id="generic-reconciling",
    ),
    # Deployment
    pytest.param(deployment(), CURRENT, "2/2 replicas ready", id="deployment-healthy"),
    pytest.param(deployment(ready=1), IN_PROGRESS, "1/2 replicas available", id="deployment-1of2"),
    pytest.param(
        deployment(ready=2, available=2, updated=1), IN_PROGRESS, "1/2 replicas updated",
        id="deployment-rolling",
    ),
    pytest.param(deployment(total=3), IN_PROGRESS, "pending termination", id="deployment-extra"),
    pytest.param(
        deployment(total=1, ready=1), IN_PROGRESS, "1/2 replicas created", id="deployment-too-few"
    ),
    pytest.param(
        deployment(
            ready=0,
            conditions=[cond("Progressing", "False", "ProgressDeadlineExceeded", "timed out")],
        ),
        FAILED,
        "progress deadline exceeded: timed out",
        id="deployment-deadline",
    ),
    pytest.param(
        deployment(conditions=[cond("Available", "False", "MinimumReplicasUnavailable")]),
        IN_PROGRESS,
        "not Available",
        id="deployment-unavailable-condition",
    ),
    pytest.param(
        obj("apps/v1", "Deployment", status={"replicas": 1, "updatedReplicas": 1,
                                             "readyReplicas": 1, "availableReplicas": 1}),
        CURRENT,
        "1/1",
        id="deployment-default-one-replica",
    ),
    pytest.param(deployment(0, ready=0), CURRENT, "0/0", id="deployment-scaled-to-zero"),
    # StatefulSet
    pytest.param(
        obj("apps/v1", "StatefulSet", spec={"replicas": 3}, status={
            "replicas": 3, "readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 3,
            "currentRevision": "r1", "updateRevision": "r1"}),
        CURRENT, "3/3 replicas ready", id="statefulset-healthy",
    ),
    pytest.param(
        obj("apps/v1", "StatefulSet", spec={"replicas": 3}, status={
            "replicas": 3, "readyReplicas": 1}),
        IN_PROGRESS, "1/3 replicas ready", id="statefulset-not-ready",
    ),
    pytest.param(
        obj("apps/v1", "StatefulSet", spec={"replicas": 2}, status={
            "replicas": 2, "readyReplicas": 2, "currentReplicas": 2,
            "currentRevision": "r1", "updateRevision": "r2"}),
        IN_PROGRESS, "revision", id="statefulset-revision-mismatch",
    ),
    pytest.param(
        obj("apps/v1", "StatefulSet",
            spec={"replicas": 4, "updateStrategy": {"type": "RollingUpdate",
                                                    "rollingUpdate": {"partition": 2}}},
            status={"replicas": 4, "readyReplicas": 4, "updatedReplicas": 2,
                    "currentRevision": "r1", "updateRevision": "r2"}),
        CURRENT, "partitioned rollout done", id="statefulset-partition-done",
    ),
    pytest.param(
        obj("apps/v1", "StatefulSet",
            spec={"replicas": 4, "updateStrategy": {"rollingUpdate": {"partition": 2}}},
            status={"replicas": 4, "readyReplicas": 4, "updatedReplicas": 1}),
        IN_PROGRESS, "1/2 replicas updated", id="statefulset-partition-rolling",
    ),
    pytest.param(
        obj("apps/v1", "StatefulSet", spec={"updateStrategy": {"type": "OnDelete"}}),
        CURRENT, "OnDelete", id="statefulset-ondelete",
    ),
    # DaemonSet
    pytest.param(
        obj("apps/v1", "DaemonSet", generation=1, status={
            "observedGeneration": 1, "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
            "updatedNumberScheduled": 3, "numberAvailable": 3, "numberReady": 3}),
        CURRENT, "3/3 pods ready", id="daemonset-healthy",
    ),
    pytest.param(
        obj("apps/v1", "DaemonSet", generation=1, status={
            "observedGeneration": 1, "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
            "updatedNumberScheduled": 3, "numberAvailable": 2, "numberReady": 3}),
        IN_PROGRESS, "2/3 pods available", id="daemonset-unavailable",
    ),
    pytest.param(
        obj("apps/v1", "DaemonSet", generation=1, status={"desiredNumberScheduled": 0}),
        IN_PROGRESS, "not yet observed", id="daemonset-unobserved",
    ),
    # ReplicaSet
    pytest.param(
        obj("apps/v1", "ReplicaSet", spec={"replicas": 2}, status={
            "replicas": 2, "fullyLabeledReplicas": 2, "availableReplicas": 2, "readyReplicas": 2}),
        CURRENT, "2/2", id="replicaset-healthy",
    ),
    pytest.param(
        obj("apps/v1", "ReplicaSet", spec={"replicas": 2}, status={
            "conditions": [cond("ReplicaFailure", message="quota exceeded")]}),
        IN_PROGRESS, "quota exceeded", id="replicaset-replica-failure",
    ),
    # Job: waits for Complete
    pytest.param(
        obj("batch/v1", "Job", status={"conditions": [cond("Complete")], "succeeded": 1}),
        CURRENT, "complete", id="job-complete",
    ),
    pytest.param(
        obj("batch/v1", "Job", status={"startTime": "2026-01-01T00:00:00Z", "active": 1}),
        IN_PROGRESS, "running: 1 active", id="job-running",
    ),
    pytest.param(obj("batch/v1", "Job", status={}), IN_PROGRESS, "not started", id="job-pending"),
    pytest.param(
        obj("batch/v1", "Job", status={"conditions": [
            cond("Failed", reason="BackoffLimitExceeded",
                 message="Job has reached the specified backoff limit")]}),
        FAILED, "Job has reached the specified backoff limit", id="job-failed",
    ),
    pytest.param(
        obj("batch/v1", "Job", status={"conditions": [cond("Suspended")]}),
        CURRENT, "suspended", id="job-suspended",
    ),
    pytest.param(obj("batch/v1", "CronJob", status={}), CURRENT, "schedule", id="cronjob"),
    # PersistentVolumeClaim
    pytest.param(obj("v1", "PersistentVolumeClaim", status={"phase": "Bound"}), CURRENT, "Bound",
                 id="pvc-bound"),
    pytest.param(obj("v1", "PersistentVolumeClaim", status={"phase": "Pending"}), IN_PROGRESS,
                 "Pending", id="pvc-pending"),
    pytest.param(obj("v1", "PersistentVolumeClaim", status={"phase": "Lost"}), FAILED, "lost",
                 id="pvc-lost"),
    # Pod
    pytest.param(obj("v1", "Pod", status={"phase": "Running", "conditions": [cond("Ready")]}),
                 CURRENT, "Ready", id="pod-ready"),
    pytest.param(obj("v1", "Pod", status={"phase": "Succeeded"}), CURRENT, "completed",
                 id="pod-succeeded"),
    pytest.param(obj("v1", "Pod", status={"phase": "Running",
                                          "conditions": [cond("Ready", "False")]}),
                 IN_PROGRESS, "Running", id="pod-not-ready"),
    pytest.param(obj("v1", "Pod", status={"phase": "Failed", "message": "OOMKilled"}),
                 FAILED, "OOMKilled", id="pod-failed"),
    # Simple kinds
    pytest.param(obj("v1", "Service", spec={"clusterIP": "10.0.0.1"}), CURRENT, "exists",
                 id="service"),
    pytest.param(obj("v1", "Service", spec={"type": "LoadBalancer"}), IN_PROGRESS,
                 "LoadBalancer", id="service-lb-no-ip"),
    pytest.param(obj("v1", "ConfigMap"), CURRENT, "exists", id="configmap"),
    pytest.param(obj("v1", "Secret"), CURRENT, "exists", id="secret"),
    pytest.param(obj("v1", "Namespace", status={"phase": "Active"}), CURRENT, "Active",
                 id="namespace-active"),
    pytest.param(obj("v1", "Namespace", status={"phase": "Terminating"}), IN_PROGRESS,
                 "Terminating", id="namespace-terminating"),
    pytest.param(
        obj("apiextensions.k8s.io/v1", "CustomResourceDefinition",
            status={"conditions": [cond("Established")]}),
        CURRENT, "Established", id="crd-established",
    ),
    pytest.param(
        obj("apiextensions.k8s.io/v1", "CustomResourceDefinition",
            status={"conditions": [cond("NamesAccepted", "False", "Conflict", "kind taken")]}),
        FAILED, "kind taken", id="crd-names-conflict",
    ),
    # Unknown kinds: the Ready condition, else current
    pytest.param(obj("example.com/v1", "Widget", status={"conditions": [cond("Ready")]}),
                 CURRENT, "Ready", id="fallback-ready"),
    pytest.param(
        obj("example.com/v1", "Widget",
            status={"conditions": [cond("Ready", "False", "Progressing", "applying")]}),
        IN_PROGRESS, "applying", id="fallback-not-ready",
    ),
    pytest.param(
        obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization",
            status={"conditions": [cond("Ready", "False", "ReconciliationFailed", "bad yaml")]}),
        FAILED, "bad yaml", id="fallback-failed-reason",
    ),
    pytest.param(obj("example.com/v1", "Widget", status={}), CURRENT, "no Ready condition",
                 id="fallback-no-conditions"),
    pytest.param(obj("example.com/v1", "Widget", status={"conditions": "garbage"}), CURRENT,
                 "no Ready condition", id="fallback-malformed-conditions"),
]


@pytest.mark.parametrize(("resource", "state", "reason_part"), CASES)
def test_assess(resource: dict[str, Any], state: HealthState, reason_part: str) -> None:
    health = assess(resource)
    assert health.state is state, health
    assert reason_part in health.reason
