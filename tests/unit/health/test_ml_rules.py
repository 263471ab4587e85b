from __future__ import annotations

from typing import Any

import pytest

from drdrill.health.rules import assess
from drdrill.health.status import HealthState
from tests.unit.health.objects import cond, obj

CURRENT, IN_PROGRESS, FAILED = HealthState.CURRENT, HealthState.IN_PROGRESS, HealthState.FAILED
ISVC = ("serving.kserve.io/v1beta1", "InferenceService")
RAY = "ray.io/v1"


def _training(kind: str, *conditions: dict[str, str]) -> dict[str, Any]:
    return obj("kubeflow.org/v1", kind, status={"conditions": list(conditions)})


CASES: list[Any] = [
    # KServe InferenceService
    pytest.param(obj(*ISVC, status={"conditions": [cond("Ready")]}), CURRENT, "Ready",
                 id="isvc-ready"),
    pytest.param(
        obj(*ISVC, status={"conditions": [cond("Ready", "False", "PredictorNotReady")]}),
        IN_PROGRESS, "PredictorNotReady", id="isvc-not-ready",
    ),
    pytest.param(obj(*ISVC, status={}), IN_PROGRESS, "no controller has reconciled it",
                 id="isvc-new"),
    pytest.param(obj(*ISVC, status={"url": "http://x"}), IN_PROGRESS, "no Ready condition",
                 id="isvc-status-without-conditions"),
    pytest.param(
        obj(*ISVC, status={
            "conditions": [cond("Ready", "False")],
            "modelStatus": {"transitionStatus": "BlockedByFailedLoad",
                            "lastFailureInfo": {"reason": "ModelLoadFailed",
                                                "message": "s3://models/x not found"}}}),
        FAILED, "s3://models/x not found", id="isvc-failed-load",
    ),
    pytest.param(
        obj(*ISVC, status={"modelStatus": {"transitionStatus": "InvalidSpec"}}),
        FAILED, "InvalidSpec", id="isvc-invalid-spec",
    ),
    # KubeRay RayCluster
    pytest.param(obj(RAY, "RayCluster", status={"state": "ready"}), CURRENT, "ready",
                 id="raycluster-state-ready"),
    pytest.param(obj(RAY, "RayCluster", status={}), IN_PROGRESS, "no controller has reconciled",
                 id="raycluster-new"),
    pytest.param(obj(RAY, "RayCluster", status={"desiredWorkerReplicas": 2}), IN_PROGRESS,
                 "not reported", id="raycluster-state-not-reported"),
    pytest.param(obj(RAY, "RayCluster", status={"state": "failed", "reason": "no quota"}),
                 FAILED, "no quota", id="raycluster-state-failed"),
    pytest.param(
        obj(RAY, "RayCluster", status={"conditions": [
            cond("RayClusterProvisioned", reason="AllPodRunningAndReadyFirstTime"),
            cond("HeadPodReady", reason="HeadPodRunningAndReady")]}),
        CURRENT, "head pod ready", id="raycluster-conditions-ready",
    ),
    pytest.param(
        obj(RAY, "RayCluster", status={"state": "ready", "conditions": [
            cond("RayClusterProvisioned", "False", "RayClusterPodsProvisioning",
                 "workers pending"),
            cond("HeadPodReady")]}),
        IN_PROGRESS, "workers pending", id="raycluster-conditions-provisioning",
    ),
    pytest.param(
        obj(RAY, "RayCluster", status={"conditions": [
            cond("HeadPodReady", "False"),
            cond("ReplicaFailure", reason="FailedCreateHeadPod", message="forbidden")]}),
        IN_PROGRESS, "replica failure: forbidden", id="raycluster-replica-failure",
    ),
    # KubeRay RayService
    pytest.param(obj(RAY, "RayService", status={"conditions": [cond("Ready")]}), CURRENT,
                 "Ready", id="rayservice-ready"),
    pytest.param(
        obj(RAY, "RayService", status={"conditions": [cond("Ready", "False", "Initializing")]}),
        IN_PROGRESS, "Initializing", id="rayservice-initializing",
    ),
    pytest.param(obj(RAY, "RayService", status={"serviceStatus": "Running"}), CURRENT,
                 "Running", id="rayservice-legacy-running"),
    pytest.param(obj(RAY, "RayService", status={}), IN_PROGRESS, "no controller has reconciled",
                 id="rayservice-legacy-new"),
    pytest.param(obj(RAY, "RayService", status={"numServeEndpoints": 0}), IN_PROGRESS,
                 "not reported", id="rayservice-legacy-not-reported"),
    # Kubeflow Notebook
    pytest.param(obj("kubeflow.org/v1", "Notebook", status={"readyReplicas": 1}), CURRENT,
                 "ready", id="notebook-ready-replicas"),
    pytest.param(obj("kubeflow.org/v1", "Notebook", status={"conditions": [cond("Ready")]}),
                 CURRENT, "ready", id="notebook-ready-condition"),
    pytest.param(
        obj("kubeflow.org/v1", "Notebook", status={
            "readyReplicas": 0, "containerState": {"waiting": {"reason": "ContainerCreating"}}}),
        IN_PROGRESS, "ContainerCreating", id="notebook-starting",
    ),
    # Kubeflow training operator: Running counts as healthy
    pytest.param(_training("PyTorchJob", cond("Created"), cond("Running")), CURRENT, "running",
                 id="pytorchjob-running"),
    pytest.param(_training("PyTorchJob", cond("Running", "False"), cond("Succeeded")), CURRENT,
                 "succeeded", id="pytorchjob-succeeded"),
    pytest.param(_training("PyTorchJob", cond("Created")), IN_PROGRESS, "not running",
                 id="pytorchjob-created"),
    pytest.param(_training("PyTorchJob", cond("Restarting", message="worker-1 exited")),
                 IN_PROGRESS, "worker-1 exited", id="pytorchjob-restarting"),
    pytest.param(_training("PyTorchJob", cond("Failed", reason="PyTorchJobFailed",
                                              message="master exited 1")),
                 FAILED, "master exited 1", id="pytorchjob-failed"),
    pytest.param(_training("TFJob", cond("Running")), CURRENT, "running", id="tfjob-running"),
    # Kubeflow Trainer TrainJob: no Running condition, child jobs tell
    pytest.param(
        obj("trainer.kubeflow.org/v1alpha1", "TrainJob", status={"conditions": [cond("Complete")]}),
        CURRENT, "complete", id="trainjob-complete",
    ),
    pytest.param(
        obj("trainer.kubeflow.org/v1alpha1", "TrainJob",
            status={"jobsStatus": [{"name": "node", "active": 2, "ready": 2}]}),
        CURRENT, "running", id="trainjob-running",
    ),
    pytest.param(obj("trainer.kubeflow.org/v1alpha1", "TrainJob", status={}), IN_PROGRESS,
                 "no controller has reconciled", id="trainjob-new"),
    pytest.param(obj("trainer.kubeflow.org/v1alpha1", "TrainJob", status={"jobsStatus": []}),
                 IN_PROGRESS, "not running", id="trainjob-no-jobs-yet"),
    pytest.param(
        obj("trainer.kubeflow.org/v1alpha1", "TrainJob",
            status={"conditions": [cond("Suspended", reason="Suspended")]}),
        IN_PROGRESS, "suspended", id="trainjob-suspended",
    ),
    pytest.param(
        obj("trainer.kubeflow.org/v1alpha1", "TrainJob",
            status={"conditions": [cond("Failed", reason="TrainingRuntimeNotSupported",
                                        message="runtime missing")]}),
        FAILED, "runtime missing", id="trainjob-failed",
    ),
    # Argo Workflow
    pytest.param(obj("argoproj.io/v1alpha1", "Workflow", status={"phase": "Running"}), CURRENT,
                 "running", id="workflow-running"),
    pytest.param(obj("argoproj.io/v1alpha1", "Workflow", status={"phase": "Succeeded"}),
                 CURRENT, "succeeded", id="workflow-succeeded"),
    pytest.param(obj("argoproj.io/v1alpha1", "Workflow", status={"phase": "Pending"}),
                 IN_PROGRESS, "pending", id="workflow-pending"),
    pytest.param(obj("argoproj.io/v1alpha1", "Workflow",
                     status={"phase": "Failed", "message": "child 'train' failed"}),
                 FAILED, "child 'train' failed", id="workflow-failed"),
    pytest.param(obj("argoproj.io/v1alpha1", "Workflow", status={"phase": "Error"}), FAILED,
                 "error", id="workflow-error"),
    # Argo CD Application
    pytest.param(
        obj("argoproj.io/v1alpha1", "Application",
            status={"health": {"status": "Healthy"}, "sync": {"status": "Synced"}}),
        CURRENT, "Healthy and Synced", id="application-healthy",
    ),
    pytest.param(
        obj("argoproj.io/v1alpha1", "Application",
            status={"health": {"status": "Healthy"}, "sync": {"status": "OutOfSync"}}),
        IN_PROGRESS, "OutOfSync", id="application-out-of-sync",
    ),
    pytest.param(
        obj("argoproj.io/v1alpha1", "Application",
            status={"health": {"status": "Progressing"}, "sync": {"status": "Synced"}}),
        IN_PROGRESS, "Progressing", id="application-progressing",
    ),
    pytest.param(
        obj("argoproj.io/v1alpha1", "Application", status={"health": {"status": "Missing"}}),
        IN_PROGRESS, "Missing", id="application-missing",
    ),
    pytest.param(
        obj("argoproj.io/v1alpha1", "Application",
            status={"health": {"status": "Degraded", "message": "Deployment web failed"}}),
        FAILED, "Deployment web failed", id="application-degraded",
    ),
]


@pytest.mark.parametrize(("resource", "state", "reason_part"), CASES)
def test_assess_ml_resources(
    resource: dict[str, Any], state: HealthState, reason_part: str
) -> None:
    health = assess(resource)
    assert health.state is state, health
    assert reason_part in health.reason
