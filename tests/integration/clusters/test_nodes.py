"""Simulated nodes on the real local cluster: created concurrently, all Ready, idempotent."""

from __future__ import annotations

import uuid
from typing import Any

from kubernetes import client

from drdrill.clusters.nodes import GPU_RESOURCE, create_nodes, wait_nodes_ready
from drdrill.scenario.models import NodePool, Taint
from drdrill.timing import Deadline


def test_many_nodes_are_created_once_and_become_ready(kube_api: Any) -> None:
    core = client.CoreV1Api(kube_api)
    before = len(core.list_node().items)
    pool = NodePool(name=f"many-{uuid.uuid4().hex[:6]}", count=30, gpus=2,
                    labels={"created-by": "drdrill-tests"},
                    taints=(Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule"),))
    selector = f"drdrill.dev/pool={pool.name}"
    try:
        create_nodes(kube_api, pools=(pool,), deadline=Deadline.after(60))
        # a second time: existing nodes are fine
        create_nodes(kube_api, pools=(pool,), deadline=Deadline.after(60))
        wait_nodes_ready(kube_api, expected=before + pool.count, deadline=Deadline.after(60))
        nodes = core.list_node(label_selector=selector).items
        assert sorted(n.metadata.name for n in nodes) == sorted(
            f"{pool.name}-{i}" for i in range(pool.count))
        for node in nodes:
            assert node.status.allocatable[GPU_RESOURCE] == "2"
            # (the node controller may still be lifting its own not-ready taint)
            assert "nvidia.com/gpu" in [t.key for t in node.spec.taints]
            assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
    finally:
        core.delete_collection_node(label_selector=selector)
