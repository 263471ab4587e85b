"""Which workloads a pod belongs to, from the pod alone: no extra GETs, no extra watches.

The direct owner comes from `ownerReferences`. A Deployment's pods are owned by a ReplicaSet
named `<deployment>-<pod-template-hash>`, so the Deployment's name follows from the pod's
`pod-template-hash` label without watching ReplicaSets. ML operators label their pods with the
custom resource they run for, which reaches past intermediate objects (InferenceService ->
Deployment -> ReplicaSet -> Pod, TrainJob -> JobSet -> Job -> Pod).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drdrill.health.status import field

# Pod label -> kinds whose object of that name (in the pod's namespace) runs the pod.
_LABELLED_OWNERS: dict[str, tuple[str, ...]] = {
    "batch.kubernetes.io/job-name": ("Job",),
    "job-name": ("Job",),
    "serving.kserve.io/inferenceservice": ("InferenceService",),
    "ray.io/cluster": ("RayCluster",),
    "ray.io/originated-from-cr-name": ("RayService", "RayJob"),
    "training.kubeflow.org/job-name": (
        "PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob",
    ),
    "jobset.sigs.k8s.io/jobset-name": ("JobSet", "TrainJob"),
    "notebook-name": ("Notebook",),
    "workflows.argoproj.io/workflow": ("Workflow",),
}


def owner_candidates(pod: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) pairs, in the pod's namespace, of the workloads this pod serves."""
    candidates: set[tuple[str, str]] = set()
    labels = field(pod, "metadata.labels", {})
    labels = labels if isinstance(labels, Mapping) else {}
    references = field(pod, "metadata.ownerReferences", ())
    for reference in references if isinstance(references, list) else ():
        if not isinstance(reference, Mapping):
            continue
        kind, name = str(reference.get("kind", "")), str(reference.get("name", ""))
        candidates.add((kind, name))
        template_hash = labels.get("pod-template-hash")
        if kind == "ReplicaSet" and template_hash and name.endswith(f"-{template_hash}"):
            candidates.add(("Deployment", name[: -len(template_hash) - 1]))
    for label, kinds in _LABELLED_OWNERS.items():
        value = labels.get(label)
        if isinstance(value, str) and value:
            candidates.update((kind, value) for kind in kinds)
    return candidates
