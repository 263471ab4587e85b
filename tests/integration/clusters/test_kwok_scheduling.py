"""Real scheduling on the local kwok cluster: GPU capacity and taints are real inputs."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client


def gpu_deployment(name: str, *, gpus: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists",
                                     "effect": "NoSchedule"}],
                    "containers": [{
                        "name": "model", "image": "example.com/model:1",
                        "resources": {"requests": {"nvidia.com/gpu": str(gpus)},
                                      "limits": {"nvidia.com/gpu": str(gpus)}},
                    }],
                },
            },
        },
    }


def wait_for(check: Any, timeout: float = 60) -> Any:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"condition not met in {timeout}s")


def test_gpu_deployment_lands_on_the_gpu_pool_and_becomes_ready(
    kube_api: Any, namespace: str
) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    apps.create_namespaced_deployment(namespace, gpu_deployment("llm", gpus=1))

    def available() -> Any:
        deployment = apps.read_namespaced_deployment("llm", namespace)
        return deployment if (deployment.status.available_replicas or 0) == 1 else None

    wait_for(available)
    pod = core.list_namespaced_pod(namespace, label_selector="app=llm").items[0]
    node = core.read_node(pod.spec.node_name)
    assert node.metadata.labels["drdrill.dev/pool"] == "gpu"
    assert any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def test_more_gpus_than_the_pool_has_stays_pending_unschedulable(
    kube_api: Any, namespace: str
) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    apps.create_namespaced_deployment(namespace, gpu_deployment("huge", gpus=16))

    def unschedulable() -> Any:
        pods = core.list_namespaced_pod(namespace, label_selector="app=huge").items
        for pod in pods:
            for condition in pod.status.conditions or []:
                if condition.type == "PodScheduled" and condition.reason == "Unschedulable":
                    return condition
        return None

    condition = wait_for(unschedulable)
    assert "Insufficient nvidia.com/gpu" in condition.message
    pod = core.list_namespaced_pod(namespace, label_selector="app=huge").items[0]
    assert pod.status.phase == "Pending"


def test_job_pods_complete_and_the_job_succeeds(kube_api: Any, namespace: str) -> None:
    batch = client.BatchV1Api(kube_api)
    batch.create_namespaced_job(namespace, {
        "metadata": {"name": "train"},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "t", "image": "example.com/trainer:1"}]}}},
    })

    def complete() -> bool:
        job = batch.read_namespaced_job("train", namespace)
        return any(c.type == "Complete" and c.status == "True"
                   for c in job.status.conditions or [])

    wait_for(complete)


def test_simulated_failure_label_fails_a_job(kube_api: Any, namespace: str) -> None:
    batch = client.BatchV1Api(kube_api)
    batch.create_namespaced_job(namespace, {
        "metadata": {"name": "broken"},
        "spec": {"backoffLimit": 0, "template": {
            "metadata": {"labels": {"drdrill.dev/simulate": "fail"}},
            "spec": {"restartPolicy": "Never",
                     "containers": [{"name": "t", "image": "example.com/trainer:1"}]}}},
    })

    def failed() -> bool:
        job = batch.read_namespaced_job("broken", namespace)
        return any(c.type == "Failed" and c.status == "True"
                   for c in job.status.conditions or [])

    wait_for(failed)
