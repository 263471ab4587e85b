"""Health of the ML platform's own custom resources, read from the status their operators write.

KServe, KubeRay, Kubeflow and Argo do not all follow the `Ready` condition convention (and some
older operator versions write no conditions at all), so each gets a rule here. What counts as
healthy for long-running training and pipeline resources (running *or* succeeded) is explained
in `rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from drdrill.health.status import Health, conditions, field, int_field, str_field

Rule = Callable[[Mapping[str, Any]], Health]

_FAILED_MODEL_TRANSITIONS = ("BlockedByFailedLoad", "InvalidSpec")
_KUBEFLOW_TRAINING_KINDS = ("PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob")


def _inference_service(obj: Mapping[str, Any]) -> Health:
    transition = str_field(obj, "status.modelStatus.transitionStatus")
    if transition in _FAILED_MODEL_TRANSITIONS:
        failure = field(obj, "status.modelStatus.lastFailureInfo", {})
        detail = ""
        if isinstance(failure, Mapping):
            detail = str(failure.get("message") or failure.get("reason") or "")
        return Health.failed(f"model {transition}" + (f": {detail}" if detail else ""))
    ready = conditions(obj).get("Ready")
    if ready is not None and ready.is_true:
        return Health.current("Ready")
    if ready is None:
        return Health.in_progress("no Ready condition yet")
    return Health.in_progress(f"not Ready: {ready.describe()}")


def _ray_cluster(obj: Mapping[str, Any]) -> Health:
    state = str_field(obj, "status.state").lower()
    if state == "failed":
        return Health.failed(f"RayCluster failed: {str_field(obj, 'status.reason') or state}")
    conds = conditions(obj)
    provisioned = conds.get("RayClusterProvisioned")
    head_ready = conds.get("HeadPodReady")
    if provisioned is not None or head_ready is not None:
        # KubeRay >= 1.2 writes conditions; `state` is deprecated there.
        if provisioned and provisioned.is_true and head_ready and head_ready.is_true:
            return Health.current("provisioned, head pod ready")
        if failure := conds.true("ReplicaFailure"):
            return Health.in_progress(f"replica failure: {failure.describe()}")
        pending = [c.describe() for c in (provisioned, head_ready) if c and not c.is_true]
        return Health.in_progress("; ".join(pending) or "head pod not ready")
    if state == "ready":
        return Health.current("state ready")
    return Health.in_progress(f"state {state or 'not reported yet'}")


def _ray_service(obj: Mapping[str, Any]) -> Health:
    ready = conditions(obj).get("Ready")
    if ready is not None:
        if ready.is_true:
            return Health.current("Ready")
        return Health.in_progress(f"not Ready: {ready.describe()}")
    # KubeRay < 1.3 writes no conditions, only serviceStatus.
    service_status = str_field(obj, "status.serviceStatus")
    if service_status == "Running":
        return Health.current("serviceStatus Running")
    return Health.in_progress(f"serviceStatus {service_status or 'not reported yet'}")


def _notebook(obj: Mapping[str, Any]) -> Health:
    ready = conditions(obj).get("Ready")
    if (ready is not None and ready.is_true) or int_field(obj, "status.readyReplicas", 0) >= 1:
        return Health.current("notebook server ready")
    waiting = field(obj, "status.containerState.waiting", {})
    if isinstance(waiting, Mapping) and waiting.get("reason"):
        return Health.in_progress(f"notebook container waiting: {waiting['reason']}")
    return Health.in_progress("notebook server not ready")


def _kubeflow_training_job(obj: Mapping[str, Any]) -> Health:
    conds = conditions(obj)
    if failed := conds.true("Failed"):
        return Health.failed(f"training failed: {failed.describe()}")
    if conds.true("Succeeded"):
        return Health.current("succeeded")
    if restarting := conds.true("Restarting"):
        return Health.in_progress(f"restarting: {restarting.describe()}")
    if conds.true("Running"):
        return Health.current("running")
    return Health.in_progress("not running yet")


def _train_job(obj: Mapping[str, Any]) -> Health:
    conds = conditions(obj)
    if failed := conds.true("Failed"):
        return Health.failed(f"training failed: {failed.describe()}")
    if conds.true("Complete"):
        return Health.current("complete")
    if suspended := conds.true("Suspended"):
        return Health.in_progress(f"suspended: {suspended.describe()}")
    # TrainJob has no Running condition: its child jobs' counts say whether it trains.
    jobs = field(obj, "status.jobsStatus", ())
    active = sum(
        int_field(job, "active", 0) + int_field(job, "ready", 0)
        for job in jobs
        if isinstance(job, Mapping)
    ) if isinstance(jobs, list) else 0
    if active > 0:
        return Health.current("running")
    return Health.in_progress("not running yet")


def _argo_workflow(obj: Mapping[str, Any]) -> Health:
    phase = str_field(obj, "status.phase")
    if phase in ("Succeeded", "Running"):
        return Health.current(phase.lower())
    if phase in ("Failed", "Error"):
        message = str_field(obj, "status.message")
        return Health.failed(f"workflow {phase.lower()}" + (f": {message}" if message else ""))
    return Health.in_progress(f"workflow {phase.lower() or 'not started'}")


def _argocd_application(obj: Mapping[str, Any]) -> Health:
    health = str_field(obj, "status.health.status") or "Unknown"
    sync = str_field(obj, "status.sync.status") or "Unknown"
    if health == "Degraded":
        message = str_field(obj, "status.health.message")
        return Health.failed("application Degraded" + (f": {message}" if message else ""))
    if health == "Healthy" and sync == "Synced":
        return Health.current("Healthy and Synced")
    return Health.in_progress(f"health {health}, sync {sync}")


ML_RULES: dict[tuple[str, str], Rule] = {
    ("serving.kserve.io", "InferenceService"): _inference_service,
    ("ray.io", "RayCluster"): _ray_cluster,
    ("ray.io", "RayService"): _ray_service,
    ("kubeflow.org", "Notebook"): _notebook,
    ("trainer.kubeflow.org", "TrainJob"): _train_job,
    ("argoproj.io", "Workflow"): _argo_workflow,
    ("argoproj.io", "Application"): _argocd_application,
    **{("kubeflow.org", kind): _kubeflow_training_job for kind in _KUBEFLOW_TRAINING_KINDS},
}
