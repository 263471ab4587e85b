"""Is this object healthy? kstatus' rules (what Flux and `kubectl wait` users expect), as pure code.

`assess` takes one object as the API server returns it and gives a `Health`. It follows
sigs.k8s.io/cli-utils `pkg/kstatus/status` in order: a terminating object is in progress; an
object whose controller has not observed its latest generation is in progress; a `Stalled=True`
condition is a failure and `Reconciling=True` is progress; then a rule for the kind; then, for
kinds without one, the `Ready` condition.

Where a drill needs more than kstatus says, this module decides differently, on purpose:

* A batch `Job` is healthy only once `Complete`: kstatus calls a started Job current, but a
  drill that restores a Job wants to see it finish. A Job that runs for hours belongs in the
  scenario's `exclude` list.
* Long-running training and pipeline custom resources (Kubeflow `PyTorchJob` and its siblings,
  `TrainJob`, Argo `Workflow`) are healthy while *running* as well as once succeeded: a restored
  training run that trains again is the recovery; waiting for it to finish could take days.
* A `Pod` in phase `Failed` is a failure (kstatus calls it current), and a `Deployment` whose
  progress deadline passed is a failure, as in kstatus.

Failures that only show on pods (image pulls, crash loops, no GPU left) are judged by
`pod_failures.assess_pod_failure`; the watcher maps them to their owning workload.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from drdrill.health.custom_rules import NO_CUSTOM_RULES, RuleBook
from drdrill.health.flux_rules import flux_object, is_flux
from drdrill.health.ml_rules import ML_RULES
from drdrill.health.status import (
    Health,
    api_group,
    conditions,
    field,
    int_field,
    str_field,
)

Rule = Callable[[Mapping[str, Any]], Health]

# Custom resources a controller must reconcile before they mean anything, whether or not their
# CRD declares a status subresource (Argo CD's Application does not). Until a controller writes
# status they are "not reconciled yet", never healthy.
CONTROLLER_MANAGED: frozenset[tuple[str, str]] = frozenset({
    ("argoproj.io", kind) for kind in (
        "Application", "ApplicationSet", "Workflow", "CronWorkflow", "Rollout", "AnalysisRun",
        "Experiment",
    )
} | {
    ("serving.kserve.io", kind) for kind in ("InferenceService", "InferenceGraph", "TrainedModel")
} | {
    ("ray.io", kind) for kind in ("RayCluster", "RayService", "RayJob")
} | {
    ("kubeflow.org", kind) for kind in (
        "Notebook", "PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob",
        "Experiment", "Profile",
    )
} | {
    ("trainer.kubeflow.org", "TrainJob"),
    ("jobset.x-k8s.io", "JobSet"),
} | {
    ("cert-manager.io", kind) for kind in (
        "Certificate", "CertificateRequest", "Issuer", "ClusterIssuer",
    )
} | {
    ("external-secrets.io", kind) for kind in (
        "ExternalSecret", "ClusterExternalSecret", "SecretStore", "ClusterSecretStore",
        "PushSecret",
    )
} | {
    ("bitnami.com", "SealedSecret"),
})
NO_STATUS_REASON = "no controller has reconciled it (no status)"


def assess(
    obj: Mapping[str, Any],
    *,
    rules: RuleBook = NO_CUSTOM_RULES,
    status_subresource: bool | None = None,
) -> Health:
    """The health of one object (a JSON dict as the API server returns it).

    `rules` are the scenario's own; `status_subresource` says whether the kind's API declares
    a status subresource (from discovery; None when unknown). The result names its rule.
    """
    kind = str_field(obj, "kind")
    group = api_group(str_field(obj, "apiVersion"))
    if field(obj, "metadata.deletionTimestamp"):
        return Health.in_progress("being deleted").by("kstatus")
    custom = rules.rule_for(group, kind)
    if custom is None and is_flux(group):
        return flux_object(obj).by("flux")
    if custom is None and not field(obj, "status") and (
        (group, kind) in CONTROLLER_MANAGED or (status_subresource and not _built_in(group))
    ):
        return Health.in_progress(NO_STATUS_REASON).by("no-status")
    generic = _generic(obj)
    if generic is not None:
        return generic.by("kstatus")
    if custom is not None:
        return custom(obj)
    rule = _RULES.get((group, kind))
    if rule is not None:
        return rule(obj).by(kind)
    ml_rule = ML_RULES.get((group, kind))
    if ml_rule is not None:
        return ml_rule(obj).by(kind)
    return _ready_condition(obj).by("Ready condition")


def _built_in(group: str) -> bool:
    """Kubernetes' own API groups, whose kinds have rules here or follow kstatus."""
    return "." not in group or (
        group.endswith(".k8s.io") and group != "gateway.networking.k8s.io"
    )


def _generic(obj: Mapping[str, Any]) -> Health | None:
    generation = field(obj, "metadata.generation")
    observed = field(obj, "status.observedGeneration")
    if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
        return Health.in_progress(
            f"generation {generation} not yet observed by its controller (at {observed})"
        )
    conds = conditions(obj)
    if stalled := conds.true("Stalled"):
        return Health.failed(f"stalled: {stalled.describe()}")
    if reconciling := conds.true("Reconciling"):
        return Health.in_progress(f"reconciling: {reconciling.describe()}")
    return None


def _ready_condition(obj: Mapping[str, Any]) -> Health:
    """Kinds without their own rule: `Ready` decides; without one the object is current."""
    ready = conditions(obj).get("Ready")
    if ready is None:
        return Health.current("no Ready condition to wait for (kstatus: current)")
    if ready.is_true:
        return Health.current("Ready")
    if ready.is_false and "failed" in ready.reason.lower():
        return Health.failed(f"Ready=False: {ready.describe()}")
    return Health.in_progress(f"not Ready: {ready.describe()}")


def _always_current(obj: Mapping[str, Any]) -> Health:
    return Health.current("exists (a kind that carries no status)")


def _deployment(obj: Mapping[str, Any]) -> Health:
    conds = conditions(obj)
    progressing = conds.get("Progressing")
    if progressing is not None and progressing.reason == "ProgressDeadlineExceeded":
        return Health.failed(f"progress deadline exceeded: {progressing.describe()}")
    wanted = int_field(obj, "spec.replicas", 1)
    replicas = int_field(obj, "status.replicas", 0)
    updated = int_field(obj, "status.updatedReplicas", 0)
    ready = int_field(obj, "status.readyReplicas", 0)
    available = int_field(obj, "status.availableReplicas", 0)
    if replicas < wanted:
        return Health.in_progress(f"{replicas}/{wanted} replicas created")
    if updated < wanted:
        return Health.in_progress(f"{updated}/{wanted} replicas updated")
    if replicas > wanted:
        return Health.in_progress(f"{replicas - wanted} old replicas pending termination")
    if available < updated:
        return Health.in_progress(f"{available}/{updated} replicas available")
    if ready < wanted:
        return Health.in_progress(f"{ready}/{wanted} replicas ready")
    if (
        progressing is not None
        and progressing.is_true
        and progressing.reason != "NewReplicaSetAvailable"
    ):
        return Health.in_progress(f"rollout still progressing: {progressing.describe()}")
    available_condition = conds.get("Available")
    if wanted > 0 and available_condition is not None and not available_condition.is_true:
        return Health.in_progress(f"not Available: {available_condition.describe()}")
    return Health.current(f"{ready}/{wanted} replicas ready")


def _statefulset(obj: Mapping[str, Any]) -> Health:
    if str_field(obj, "spec.updateStrategy.type") == "OnDelete":
        return Health.current("OnDelete update strategy: rollout is managed by hand")
    wanted = int_field(obj, "spec.replicas", 1)
    replicas = int_field(obj, "status.replicas", 0)
    ready = int_field(obj, "status.readyReplicas", 0)
    current = int_field(obj, "status.currentReplicas", 0)
    updated = int_field(obj, "status.updatedReplicas", 0)
    partition = int_field(obj, "spec.updateStrategy.rollingUpdate.partition", -1)
    if replicas < wanted:
        return Health.in_progress(f"{replicas}/{wanted} replicas created")
    if ready < wanted:
        return Health.in_progress(f"{ready}/{wanted} replicas ready")
    if replicas > wanted:
        return Health.in_progress(f"{replicas - wanted} replicas pending termination")
    if partition > 0:
        if updated < wanted - partition:
            return Health.in_progress(
                f"{updated}/{wanted - partition} replicas updated above partition {partition}"
            )
        return Health.current(f"partitioned rollout done: {ready}/{wanted} replicas ready")
    if current < wanted:
        return Health.in_progress(f"{current}/{wanted} replicas at the current revision")
    if str_field(obj, "status.currentRevision") != str_field(obj, "status.updateRevision"):
        return Health.in_progress("rolling update: current revision differs from update revision")
    return Health.current(f"{ready}/{wanted} replicas ready")


def _daemonset(obj: Mapping[str, Any]) -> Health:
    if field(obj, "status.observedGeneration") is None:
        return Health.in_progress("not yet observed by the DaemonSet controller")
    desired = int_field(obj, "status.desiredNumberScheduled", -1)
    if desired < 0:
        return Health.in_progress("desired number of pods not known yet")
    short = _first_short_count(obj, desired, "pods", (
        ("status.currentNumberScheduled", "scheduled"),
        ("status.updatedNumberScheduled", "updated"),
        ("status.numberAvailable", "available"),
        ("status.numberReady", "ready"),
    ))
    if short is not None:
        return short
    return Health.current(f"{desired}/{desired} pods ready")



def _first_short_count(
    obj: Mapping[str, Any], wanted: int, unit: str, counts: tuple[tuple[str, str], ...]
) -> Health | None:
    """In progress at the first status count still below `wanted`, in the order given."""
    for path, what in counts:
        count = int_field(obj, path, 0)
        if count < wanted:
            return Health.in_progress(f"{count}/{wanted} {unit} {what}")
    return None


def _replicaset(obj: Mapping[str, Any]) -> Health:
    if failure := conditions(obj).true("ReplicaFailure"):
        return Health.in_progress(f"replica failure: {failure.describe()}")
    wanted = int_field(obj, "spec.replicas", 1)
    short = _first_short_count(obj, wanted, "replicas", (
        ("status.fullyLabeledReplicas", "labelled"),
        ("status.availableReplicas", "available"),
        ("status.readyReplicas", "ready"),
    ))
    if short is not None:
        return short
    replicas = int_field(obj, "status.replicas", 0)
    if replicas > wanted:
        return Health.in_progress(f"{replicas - wanted} replicas pending termination")
    return Health.current(f"{wanted}/{wanted} replicas ready")


def _job(obj: Mapping[str, Any]) -> Health:
    conds = conditions(obj)
    if failed := conds.true("Failed"):
        return Health.failed(f"job failed: {failed.describe()}")
    if conds.true("Complete"):
        return Health.current(f"complete: {int_field(obj, 'status.succeeded', 0)} succeeded")
    if conds.true("Suspended"):
        return Health.current("suspended, as declared")
    if not field(obj, "status.startTime"):
        return Health.in_progress("not started")
    active = int_field(obj, "status.active", 0)
    succeeded = int_field(obj, "status.succeeded", 0)
    return Health.in_progress(f"running: {active} active, {succeeded} succeeded")


def _cronjob(obj: Mapping[str, Any]) -> Health:
    # A schedule: there is nothing to become ready. Its runs are Jobs with their own verdict.
    return Health.current("schedule in place")


def _pvc(obj: Mapping[str, Any]) -> Health:
    phase = str_field(obj, "status.phase", "unknown")
    if phase == "Bound":
        return Health.current("Bound")
    if phase == "Lost":
        return Health.failed("volume lost: the bound PersistentVolume no longer exists")
    return Health.in_progress(f"not Bound: {phase}")


def _pod(obj: Mapping[str, Any]) -> Health:
    phase = str_field(obj, "status.phase")
    if phase == "Succeeded":
        return Health.current("completed")
    if phase == "Failed":
        message = str_field(obj, "status.message") or str_field(obj, "status.reason")
        return Health.failed(f"pod failed: {message or 'phase Failed'}")
    ready = conditions(obj).get("Ready")
    if phase == "Running" and ready is not None and ready.is_true:
        return Health.current("Ready")
    return Health.in_progress(f"pod {phase or 'not yet scheduled'}, not Ready")


def _service(obj: Mapping[str, Any]) -> Health:
    if str_field(obj, "spec.type") == "LoadBalancer" and not str_field(obj, "spec.clusterIP"):
        return Health.in_progress("LoadBalancer without a cluster IP yet")
    return Health.current("exists")


def _namespace(obj: Mapping[str, Any]) -> Health:
    phase = str_field(obj, "status.phase", "Active")
    if phase == "Active":
        return Health.current("Active")
    return Health.in_progress(f"namespace {phase}")


def _crd(obj: Mapping[str, Any]) -> Health:
    conds = conditions(obj)
    names = conds.get("NamesAccepted")
    if names is not None and names.is_false:
        return Health.failed(f"names not accepted: {names.describe()}")
    established = conds.get("Established")
    if established is not None and established.is_true:
        return Health.current("Established")
    if established is not None and established.is_false and established.reason != "Installing":
        return Health.failed(f"not established: {established.describe()}")
    return Health.in_progress("installing")


_RULES: dict[tuple[str, str], Rule] = {
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("apps", "ReplicaSet"): _replicaset,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cronjob,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "Pod"): _pod,
    ("", "Service"): _service,
    ("", "Namespace"): _namespace,
    ("", "ConfigMap"): _always_current,
    ("", "Secret"): _always_current,
    ("", "ServiceAccount"): _always_current,
    ("policy", "PodDisruptionBudget"): _always_current,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
}
