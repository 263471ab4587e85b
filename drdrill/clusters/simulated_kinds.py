"""The status drdrill writes, on kwok, for ML custom resources whose operators cannot run there.

KServe, Kubeflow, KubeRay and Argo controllers need real pods and real networks; on a simulated
cluster nothing would ever write the status of their custom resources, so the drill could never
pass. The simulator (`simulator.py`) writes one instead, shaped like the real operator's, so
that drdrill's own health rules judge it exactly as they would judge the real thing. What it
writes is decided here, as pure functions of the object and the scenario's node pools:

* `ready`: the status of a healthy resource (for training and pipeline kinds: running);
* `failed`: the failure path, chosen by the label or annotation `drdrill.dev/simulate: fail`
  (or the older value `degraded`) to rehearse a failure; its message ends in "(simulated)";
* `insufficient-capacity`: a pod of the resource asks for more GPUs, CPU or memory than any one
  node of any pool offers. Such a resource must never turn Ready, so it gets a terminal
  `Stalled=True` condition (reason InsufficientCapacity) instead, as kstatus reads it.

Only resources are compared (the scheduler's resource fit), not taints or node selectors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from drdrill.capacity import Shortfall, pod_requests, pod_spec_requests
from drdrill.capacity import shortfall as find_shortfall
from drdrill.scenario.models import NodePool

SIMULATE_KEY = "drdrill.dev/simulate"
# `degraded` is what the kwok Stages of earlier versions accepted on custom resources.
FAILURE_VALUES = frozenset({"fail", "degraded"})
INSUFFICIENT_CAPACITY = "InsufficientCapacity"
SIMULATED_FAILURE = "SimulatedFailure"
READY_MESSAGE = "simulated by drdrill on kwok (no real controller ran)"


class Outcome(StrEnum):
    READY = "ready"
    FAILED = "failed"
    INSUFFICIENT_CAPACITY = "insufficient-capacity"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    # Why, for the insufficient-capacity outcome: which pod asks for what, what a node offers.
    message: str = ""


@dataclass(frozen=True)
class StatusContext:
    """What a status builder needs besides the object itself."""

    now: str  # RFC 3339, UTC
    # The generation to report as observed, or None where it cannot be written truthfully (a
    # kind without a status subresource: writing its status bumps the generation).
    generation: int | None
    message: str = ""


Pods = Callable[[Mapping[str, Any]], Iterator[tuple[str, dict[str, Decimal]]]]
StatusBuilder = Callable[[Mapping[str, Any], StatusContext], dict[str, Any]]


@dataclass(frozen=True)
class SimulatedKind:
    group: str
    kind: str
    pods: Pods
    ready: StatusBuilder
    failed: StatusBuilder
    insufficient: StatusBuilder

    @property
    def simulator(self) -> str:
        return f"drdrill-kwok/{self.kind}"


# ---- reading what an object asks for ------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(obj.get("spec"))


def _template_pod(template: Any) -> dict[str, Decimal]:
    """The requests of a PodTemplateSpec (`{metadata, spec: PodSpec}`)."""
    return pod_spec_requests(_mapping(_mapping(template).get("spec")))


def _inference_service_pods(obj: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Decimal]]]:
    # A component (predictor, transformer, explainer) is a PodSpec whose main container may
    # also be given as a model or framework spec (`model`, `sklearn`, `pytorch`, ...): any
    # field that carries `resources`. Multi-node serving adds a worker pod (`workerSpec`).
    for name in ("predictor", "transformer", "explainer"):
        component = _mapping(_spec(obj).get(name))
        if not component:
            continue
        containers = _mappings(component.get("containers"))
        containers += [
            value for key, value in component.items()
            if key not in ("workerSpec", "resources") and isinstance(value, Mapping)
            and isinstance(value.get("resources"), Mapping)
        ]
        yield f"{name} pod", pod_requests(containers, _mappings(component.get("initContainers")))
        worker = _mapping(component.get("workerSpec"))
        if worker:
            yield f"{name} worker pod", pod_spec_requests(worker)


def _notebook_pods(obj: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Decimal]]]:
    yield "notebook pod", _template_pod(_spec(obj).get("template"))


def _ray_cluster_spec_pods(spec: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Decimal]]]:
    yield "head pod", _template_pod(_mapping(spec.get("headGroupSpec")).get("template"))
    for group in _mappings(spec.get("workerGroupSpecs")):
        name = group.get("groupName") or "workers"
        yield f"worker pod of group {name}", _template_pod(group.get("template"))


def _ray_cluster_pods(obj: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Decimal]]]:
    yield from _ray_cluster_spec_pods(_spec(obj))


def _ray_service_pods(obj: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Decimal]]]:
    yield from _ray_cluster_spec_pods(_mapping(_spec(obj).get("rayClusterConfig")))


def _kubeflow_job_pods(obj: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Decimal]]]:
    # pytorchReplicaSpecs, tfReplicaSpecs, mpiReplicaSpecs, xgbReplicaSpecs, ...
    for key, replica_specs in _spec(obj).items():
        if not key.endswith("ReplicaSpecs"):
            continue
        for role, replica in _mapping(replica_specs).items():
            yield f"{role} pod", _template_pod(_mapping(replica).get("template"))


def _train_job_pods(obj: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Decimal]]]:
    per_node = _mapping(_spec(obj).get("trainer")).get("resourcesPerNode")
    if isinstance(per_node, Mapping):
        yield "trainer node pod", pod_requests([{"resources": per_node}])


def _workflow_pods(obj: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Decimal]]]:
    # Each template that runs something is one pod: its main container (container, script or
    # every container of a containerSet) and its sidecars, next to its init containers.
    for template in _mappings(_spec(obj).get("templates")):
        containers = [c for c in (_mapping(template.get("container")),
                                  _mapping(template.get("script"))) if c]
        containers += _mappings(_mapping(template.get("containerSet")).get("containers"))
        if not containers:
            continue
        containers += _mappings(template.get("sidecars"))
        name = template.get("name") or "unnamed"
        yield (f"pod of template {name}",
               pod_requests(containers, _mappings(template.get("initContainers"))))


# ---- deciding -------------------------------------------------------------------------------


def failure_requested(obj: Mapping[str, Any]) -> bool:
    """The object asks to rehearse its failure path (label or annotation)."""
    metadata = _mapping(obj.get("metadata"))
    values = (_mapping(metadata.get("labels")).get(SIMULATE_KEY),
              _mapping(metadata.get("annotations")).get(SIMULATE_KEY))
    return any(str(value).strip().lower() in FAILURE_VALUES for value in values if value)


def _describe_shortfall(role: str, requests: Mapping[str, Decimal], short: Shortfall) -> str:
    return f"the {role} {short.describe()}"


def decide(obj: Mapping[str, Any], *, simulated: SimulatedKind,
           pools: tuple[NodePool, ...]) -> Decision:
    """Ready, the failure path, or not ready for good because no node could run its pods."""
    if failure_requested(obj):
        return Decision(Outcome.FAILED)
    for role, requests in simulated.pods(obj):
        short = find_shortfall(requests, pools)
        if short is not None:
            return Decision(Outcome.INSUFFICIENT_CAPACITY,
                            _describe_shortfall(role, requests, short) + " (simulated)")
    return Decision(Outcome.READY)


def build_status(obj: Mapping[str, Any], *, simulated: SimulatedKind, decision: Decision,
                 now: str, generation: int | None) -> dict[str, Any]:
    context = StatusContext(now=now, generation=generation, message=decision.message)
    if decision.outcome is Outcome.FAILED:
        return simulated.failed(obj, context)
    if decision.outcome is Outcome.INSUFFICIENT_CAPACITY:
        return simulated.insufficient(obj, context)
    return simulated.ready(obj, context)


# ---- status shapes ----------------------------------------------------------------------------


def _condition(kind: str, status: bool, ctx: StatusContext, *, reason: str,
               message: str = READY_MESSAGE) -> dict[str, Any]:
    """A condition with every field metav1.Condition requires (and Knative's and Kubeflow's)."""
    condition: dict[str, Any] = {
        "type": kind, "status": "True" if status else "False", "reason": reason,
        "message": message, "lastTransitionTime": ctx.now,
    }
    if ctx.generation is not None:
        condition["observedGeneration"] = ctx.generation
    return condition


def _stalled(ctx: StatusContext) -> dict[str, Any]:
    return _condition("Stalled", True, ctx, reason=INSUFFICIENT_CAPACITY, message=ctx.message)


def _observed(ctx: StatusContext, status: dict[str, Any]) -> dict[str, Any]:
    if ctx.generation is not None:
        status["observedGeneration"] = ctx.generation
    return status


def _name(obj: Mapping[str, Any]) -> tuple[str, str]:
    metadata = _mapping(obj.get("metadata"))
    return str(metadata.get("name", "")), str(metadata.get("namespace", "default"))


def _isvc_ready(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    name, namespace = _name(obj)
    url = f"http://{name}.{namespace}.example.com"
    return _observed(ctx, {
        "url": url,
        "address": {"url": f"http://{name}-predictor.{namespace}.svc.cluster.local"},
        "conditions": [_condition(kind, True, ctx, reason="SimulatedReady")
                       for kind in ("IngressReady", "PredictorReady", "Ready")],
        "components": {"predictor": {"latestReadyRevision": f"{name}-predictor-00001",
                                     "url": url}},
        "modelStatus": {"states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
                        "transitionStatus": "UpToDate", "copies": {"totalCopies": 1}},
    })


def _isvc_failed(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    message = "model failed to load (simulated)"
    return _observed(ctx, {
        "conditions": [_condition(kind, False, ctx, reason="ModelLoadFailed", message=message)
                       for kind in ("PredictorReady", "Ready")],
        "modelStatus": {
            "states": {"activeModelState": "FailedToLoad", "targetModelState": "FailedToLoad"},
            "transitionStatus": "BlockedByFailedLoad",
            "lastFailureInfo": {"reason": "ModelLoadFailed", "message": message},
        },
    })


def _isvc_insufficient(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    return _observed(ctx, {
        "conditions": [
            *(_condition(kind, False, ctx, reason=INSUFFICIENT_CAPACITY, message=ctx.message)
              for kind in ("PredictorReady", "Ready")),
            _stalled(ctx),
        ],
        "modelStatus": {"states": {"activeModelState": "Pending", "targetModelState": "Pending"},
                        "transitionStatus": "InProgress"},
    })


def _notebook_ready(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    return {
        "readyReplicas": 1,
        "conditions": [_condition("Ready", True, ctx, reason="SimulatedReady")],
        "containerState": {"running": {"startedAt": ctx.now}},
    }


def _notebook_failed(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    # The Notebook rule has no failed state of its own: Stalled=True is what kstatus fails on.
    message = "notebook server failed to start (simulated)"
    return {
        "readyReplicas": 0,
        "conditions": [
            _condition("Ready", False, ctx, reason="CrashLoopBackOff", message=message),
            _condition("Stalled", True, ctx, reason=SIMULATED_FAILURE, message=message),
        ],
        "containerState": {"waiting": {"reason": "CrashLoopBackOff", "message": message}},
    }


def _notebook_insufficient(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    return {
        "readyReplicas": 0,
        "conditions": [
            _condition("Ready", False, ctx, reason=INSUFFICIENT_CAPACITY, message=ctx.message),
            _stalled(ctx),
        ],
    }


def _worker_replicas(spec: Mapping[str, Any]) -> int:
    total = 0
    for group in _mappings(spec.get("workerGroupSpecs")):
        replicas = group.get("replicas", group.get("minReplicas", 0))
        total += replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else 0
    return total


def _ray_cluster_ready(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    workers = _worker_replicas(_spec(obj))
    return _observed(ctx, {
        "state": "ready",
        "conditions": [
            _condition("RayClusterProvisioned", True, ctx, reason="AllPodRunningAndReadyFirstTime"),
            _condition("HeadPodReady", True, ctx, reason="HeadPodRunningAndReady"),
        ],
        "desiredWorkerReplicas": workers,
        "availableWorkerReplicas": workers,
        "readyWorkerReplicas": workers,
        "lastUpdateTime": ctx.now,
    })


def _ray_cluster_failed(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    message = "head pod failed to start (simulated)"
    return _observed(ctx, {
        "state": "failed",
        "reason": message,
        "conditions": [
            _condition("RayClusterProvisioned", False, ctx, reason="RayClusterPodsProvisioning",
                       message=message),
            _condition("HeadPodReady", False, ctx, reason="HeadPodNotFound", message=message),
            _condition("ReplicaFailure", True, ctx, reason="FailedCreateHeadPod", message=message),
        ],
        "lastUpdateTime": ctx.now,
    })


def _ray_cluster_insufficient(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    return _observed(ctx, {
        "conditions": [
            _condition("RayClusterProvisioned", False, ctx, reason=INSUFFICIENT_CAPACITY,
                       message=ctx.message),
            _condition("HeadPodReady", False, ctx, reason=INSUFFICIENT_CAPACITY,
                       message=ctx.message),
            _stalled(ctx),
        ],
        "lastUpdateTime": ctx.now,
    })


def _ray_service_ready(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    name, _ = _name(obj)
    return _observed(ctx, {
        "serviceStatus": "Running",
        "numServeEndpoints": 1,
        "conditions": [
            _condition("Ready", True, ctx, reason="NonZeroServeEndpoints"),
            _condition("UpgradeInProgress", False, ctx, reason="NoPendingCluster"),
        ],
        "activeServiceStatus": {"rayClusterName": f"{name}-raycluster-sim"},
    })


def _ray_service_failed(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    # The RayService rule has no failed state (KubeRay keeps retrying): Stalled=True it is.
    message = "serve application failed to deploy (simulated)"
    return _observed(ctx, {
        "numServeEndpoints": 0,
        "conditions": [
            _condition("Ready", False, ctx, reason="ZeroServeEndpoints", message=message),
            _condition("UpgradeInProgress", False, ctx, reason="NoPendingCluster"),
            _condition("Stalled", True, ctx, reason=SIMULATED_FAILURE, message=message),
        ],
    })


def _ray_service_insufficient(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    return _observed(ctx, {
        "numServeEndpoints": 0,
        "conditions": [
            _condition("Ready", False, ctx, reason=INSUFFICIENT_CAPACITY, message=ctx.message),
            _stalled(ctx),
        ],
    })


def _replica_roles(obj: Mapping[str, Any]) -> dict[str, int]:
    roles: dict[str, int] = {}
    for key, replica_specs in _spec(obj).items():
        if key.endswith("ReplicaSpecs"):
            for role, replica in _mapping(replica_specs).items():
                count = _mapping(replica).get("replicas", 1)
                roles[role] = count if isinstance(count, int) and not isinstance(
                    count, bool) else 1
    return roles


def _kubeflow_job_ready(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    kind = str(obj.get("kind", "Job"))
    return {
        "startTime": ctx.now,
        "lastReconcileTime": ctx.now,
        "conditions": [
            _condition("Created", True, ctx, reason=f"{kind}Created"),
            _condition("Running", True, ctx, reason=f"{kind}Running"),
        ],
        "replicaStatuses": {role: {"active": count}
                            for role, count in _replica_roles(obj).items()},
    }


def _kubeflow_job_failed(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    kind = str(obj.get("kind", "Job"))
    name, _ = _name(obj)
    message = f"{kind} {name} failed: a replica exited with code 1 (simulated)"
    return {
        "startTime": ctx.now,
        "completionTime": ctx.now,
        "lastReconcileTime": ctx.now,
        "conditions": [
            _condition("Created", True, ctx, reason=f"{kind}Created"),
            _condition("Running", False, ctx, reason=f"{kind}Failed", message=message),
            _condition("Failed", True, ctx, reason=f"{kind}Failed", message=message),
        ],
        "replicaStatuses": {role: {"failed": 1} for role in _replica_roles(obj)},
    }


def _kubeflow_job_insufficient(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    kind = str(obj.get("kind", "Job"))
    return {
        "lastReconcileTime": ctx.now,
        "conditions": [_condition("Created", True, ctx, reason=f"{kind}Created"), _stalled(ctx)],
        "replicaStatuses": {role: {"active": 0} for role in _replica_roles(obj)},
    }


def _nodes(obj: Mapping[str, Any]) -> int:
    count = _mapping(_spec(obj).get("trainer")).get("numNodes", 1)
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1


def _jobs_status(*, active: int = 0, failed: int = 0) -> list[dict[str, Any]]:
    return [{"name": "node", "active": active, "ready": active, "succeeded": 0,
             "failed": failed, "suspended": 0}]


def _train_job_ready(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    return {"conditions": [], "jobsStatus": _jobs_status(active=_nodes(obj))}


def _train_job_failed(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    message = "trainer node exited with code 1 (simulated)"
    return {
        "conditions": [_condition("Failed", True, ctx, reason="FailedJobs", message=message)],
        "jobsStatus": _jobs_status(failed=1),
    }


def _train_job_insufficient(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    return {"conditions": [_stalled(ctx)], "jobsStatus": _jobs_status()}


def _workflow_ready(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    return {"phase": "Running", "startedAt": ctx.now, "progress": "0/1",
            "message": READY_MESSAGE}


def _workflow_failed(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    return {"phase": "Failed", "startedAt": ctx.now, "finishedAt": ctx.now, "progress": "0/1",
            "message": "child step exited with code 1 (simulated)"}


def _workflow_insufficient(obj: Mapping[str, Any], ctx: StatusContext) -> dict[str, Any]:
    # Workflow conditions carry only type, status and message.
    return {"phase": "Pending", "startedAt": ctx.now, "progress": "0/1", "message": ctx.message,
            "conditions": [{"type": "Stalled", "status": "True", "message": ctx.message}]}


KUBEFLOW_TRAINING_KINDS = ("PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob")

SIMULATED_KINDS: dict[tuple[str, str], SimulatedKind] = {
    (kind.group, kind.kind): kind for kind in (
        SimulatedKind("serving.kserve.io", "InferenceService", _inference_service_pods,
                      _isvc_ready, _isvc_failed, _isvc_insufficient),
        SimulatedKind("kubeflow.org", "Notebook", _notebook_pods,
                      _notebook_ready, _notebook_failed, _notebook_insufficient),
        SimulatedKind("ray.io", "RayCluster", _ray_cluster_pods,
                      _ray_cluster_ready, _ray_cluster_failed, _ray_cluster_insufficient),
        SimulatedKind("ray.io", "RayService", _ray_service_pods,
                      _ray_service_ready, _ray_service_failed, _ray_service_insufficient),
        *(SimulatedKind("kubeflow.org", kind, _kubeflow_job_pods, _kubeflow_job_ready,
                        _kubeflow_job_failed, _kubeflow_job_insufficient)
          for kind in KUBEFLOW_TRAINING_KINDS),
        SimulatedKind("trainer.kubeflow.org", "TrainJob", _train_job_pods,
                      _train_job_ready, _train_job_failed, _train_job_insufficient),
        SimulatedKind("argoproj.io", "Workflow", _workflow_pods,
                      _workflow_ready, _workflow_failed, _workflow_insufficient),
    )
}
