"""An autoscaled GPU pool: "Insufficient nvidia.com/gpu" waits for the scale-up, a fixed one fails.

The real scheduler decides on the local kwok cluster; the test plays the cluster autoscaler by
adding a node to the pool during the wait.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from drdrill.clusters.nodes import node_manifest
from drdrill.health import ObjectRef, wait_until_healthy
from drdrill.health.pod_failures import PodPolicy
from drdrill.scenario.models import Autoscaling, NodePool, Taint
from drdrill.timing import Deadline


def _pool(name: str, *, autoscaled: bool) -> NodePool:
    return NodePool(
        name=name, count=1, gpus=4, taints=(Taint(key=name, value="x", effect="NoSchedule"),),
        autoscaling=Autoscaling(max_count=3) if autoscaled else None,
    )


def _gpu_deployment(name: str, pool: NodePool, *, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "nodeSelector": {"drdrill.dev/pool": pool.name},
                    "tolerations": [{"key": pool.name, "operator": "Exists",
                                     "effect": "NoSchedule"}],
                    "containers": [{
                        "name": "model", "image": "example.com/model:1",
                        "resources": {"limits": {"nvidia.com/gpu": "4"}},
                    }],
                },
            },
        },
    }


@pytest.fixture
def pool_nodes(kube_api: Any) -> Iterator[list[str]]:
    created: list[str] = []
    yield created
    core = client.CoreV1Api(kube_api)
    for name in created:
        core.delete_node(name)


def _add_node(kube_api: Any, pool: NodePool, index: int, created: list[str]) -> None:
    manifest = node_manifest(pool, index)
    client.CoreV1Api(kube_api).create_node(manifest)
    created.append(manifest["metadata"]["name"])


@pytest.mark.parametrize("autoscaled", [True, False], ids=["autoscaled", "fixed"])
def test_insufficient_gpus_wait_for_scale_up_only_on_an_autoscaled_pool(
    kube_api: Any, namespace: str, pool_nodes: list[str], autoscaled: bool
) -> None:
    pool = _pool(f"as-{uuid.uuid4().hex[:6]}", autoscaled=autoscaled)
    _add_node(kube_api, pool, 0, pool_nodes)
    client.AppsV1Api(kube_api).create_namespaced_deployment(
        namespace, _gpu_deployment("llm", pool, replicas=2))
    scaled_at: list[float] = []

    def play_the_autoscaler() -> None:
        time.sleep(4)
        _add_node(kube_api, pool, 1, pool_nodes)
        scaled_at.append(time.monotonic())

    scaler = threading.Thread(target=play_the_autoscaler, daemon=True)
    scaler.start()
    started = time.monotonic()
    [outcome] = wait_until_healthy(
        api_client=kube_api, targets=[ObjectRef("apps/v1", "Deployment", namespace, "llm")],
        deadline=Deadline.after(60), clock_origin=started,
        pod_policy=PodPolicy(pools=(pool,)),
    )
    ended = time.monotonic()
    scaler.join(timeout=10)
    if autoscaled:
        assert outcome.healthy, outcome
        assert scaled_at and ended > scaled_at[0]
        assert any("scale up" in note for note in outcome.notes), outcome.notes
    else:
        assert not outcome.healthy
        assert "Insufficient nvidia.com/gpu" in outcome.reason
        # Terminal at once: the wait did not sit until the node the test added anyway.
        assert not scaled_at or ended < scaled_at[0], (ended - started)
