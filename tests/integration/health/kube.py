"""Create objects and play the controllers' part by patching their status subresource."""

from __future__ import annotations

import uuid
from typing import Any

from kubernetes import client

NOW = "2026-01-01T00:00:00Z"


def random_namespace(api: Any, prefix: str = "health") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(api).create_namespace(
        {"metadata": {"name": name, "labels": {"created-by": "drdrill-tests"}}}
    )
    return name


def _template(app: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "main", "image": "registry.invalid/model:1"}],
                 "restartPolicy": "Always"},
    }


def create_deployment(api: Any, namespace: str, name: str, replicas: int = 1) -> None:
    client.AppsV1Api(api).create_namespaced_deployment(namespace, {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": _template(name)},
    })


def deployment_ready(api: Any, namespace: str, name: str, replicas: int = 1) -> None:
    client.AppsV1Api(api).patch_namespaced_deployment_status(name, namespace, {"status": {
        "observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
        "readyReplicas": replicas, "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
             "lastUpdateTime": NOW, "lastTransitionTime": NOW},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "lastUpdateTime": NOW, "lastTransitionTime": NOW},
        ],
    }})


def deployment_unavailable(api: Any, namespace: str, name: str, replicas: int = 1) -> None:
    """Its pods stopped being Ready (a container crashed after it turned Ready)."""
    client.AppsV1Api(api).patch_namespaced_deployment_status(name, namespace, {"status": {
        "observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
        "readyReplicas": 0, "availableReplicas": 0, "unavailableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
             "lastUpdateTime": NOW, "lastTransitionTime": NOW},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
             "lastUpdateTime": NOW, "lastTransitionTime": NOW},
        ],
    }})


def create_job(api: Any, namespace: str, name: str) -> None:
    template = _template(name)
    template["spec"]["restartPolicy"] = "Never"
    client.BatchV1Api(api).create_namespaced_job(namespace, {
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": template},
    })


def job_status(api: Any, namespace: str, name: str, *, failed: bool) -> None:
    condition = "Failed" if failed else "Complete"
    interim = "FailureTarget" if failed else "SuccessCriteriaMet"
    status: dict[str, Any] = {
        "startTime": NOW,
        "conditions": [
            {"type": interim, "status": "True", "reason": "BackoffLimitExceeded"
             if failed else "CompletionsReached", "message": "test", "lastTransitionTime": NOW},
            {"type": condition, "status": "True",
             "reason": "BackoffLimitExceeded" if failed else "CompletionsReached",
             "message": "Job has reached the specified backoff limit" if failed else "done",
             "lastTransitionTime": NOW},
        ],
    }
    if failed:
        status["failed"] = 1
    else:
        status.update(succeeded=1, completionTime=NOW)
    client.BatchV1Api(api).patch_namespaced_job_status(name, namespace, {"status": status})


def create_pvc(api: Any, namespace: str, name: str) -> None:
    client.CoreV1Api(api).create_namespaced_persistent_volume_claim(namespace, {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}},
    })


def pvc_bound(api: Any, namespace: str, name: str) -> None:
    client.CoreV1Api(api).patch_namespaced_persistent_volume_claim_status(
        name, namespace, {"status": {"phase": "Bound"}})


def create_owned_pod(api: Any, namespace: str, deployment: str, template_hash: str) -> str:
    """A pod as the ReplicaSet `<deployment>-<hash>` would create it."""
    name = f"{deployment}-{template_hash}-{uuid.uuid4().hex[:5]}"
    pod = _template(deployment)
    pod["metadata"] = {
        "name": name,
        "labels": {"app": deployment, "pod-template-hash": template_hash},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                             "name": f"{deployment}-{template_hash}",
                             "uid": str(uuid.uuid4()), "controller": True}],
    }
    client.CoreV1Api(api).create_namespaced_pod(namespace, pod)
    return name


def pod_image_pull_backoff(api: Any, namespace: str, name: str) -> None:
    client.CoreV1Api(api).patch_namespaced_pod_status(name, namespace, {"status": {
        "phase": "Pending",
        "containerStatuses": [{
            "name": "main", "image": "registry.invalid/model:1", "imageID": "",
            "ready": False, "restartCount": 0,
            "state": {"waiting": {
                "reason": "ImagePullBackOff",
                "message": 'Back-off pulling image "registry.invalid/model:1"',
            }},
        }],
    }})
