"""Simulated nodes from the scenario's node pools, and the wait until all of them are Ready."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from drdrill.errors import InfrastructureError
from drdrill.kubeapi import create_if_absent, is_transient_api_error
from drdrill.logs import describe_exception
from drdrill.scenario.models import NodePool
from drdrill.timing import Deadline

GPU_RESOURCE = "nvidia.com/gpu"
CREATE_WORKERS = 8  # concurrent node POSTs; the API client pools 5 connections per CPU


def node_manifest(pool: NodePool, index: int) -> dict[str, Any]:
    capacity = {"cpu": pool.cpu, "memory": pool.memory, "pods": "110"}
    if pool.gpus:
        capacity[GPU_RESOURCE] = str(pool.gpus)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": f"{pool.name}-{index}",
            "labels": {
                "kubernetes.io/hostname": f"{pool.name}-{index}",
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                "drdrill.dev/pool": pool.name,
                **pool.labels,
            },
            # The kwok controller plays the kubelet only for nodes marked like this.
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {
            "taints": [
                {"key": t.key, "value": t.value, "effect": t.effect} for t in pool.taints
            ],
        },
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def create_nodes(api_client: Any, *, pools: Sequence[NodePool], deadline: Deadline) -> None:
    """One POST per node, a few at a time: kwok marks each Ready at once, so for large pools
    the round trips are the whole cost (100 nodes: 2.6 s one by one on 2 cores). A POST that
    meets a restarting apiserver is sent again until `deadline` (409 then means it landed)."""
    manifests = [node_manifest(pool, index) for pool in pools for index in range(pool.count)]
    if not manifests:
        return
    workers = ThreadPoolExecutor(max_workers=min(CREATE_WORKERS, len(manifests)),
                                 thread_name_prefix="create-node")
    try:
        for _ in workers.map(lambda manifest: _create_node(api_client, manifest, deadline),
                             manifests):
            pass
    finally:
        # On an error or an interrupt, nodes not yet sent are not sent.
        workers.shutdown(wait=True, cancel_futures=True)


def _create_node(api_client: Any, manifest: dict[str, Any], deadline: Deadline) -> None:
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    create_if_absent(lambda: core.create_node(manifest, _request_timeout=30),
                     what=f"node {manifest['metadata']['name']}", deadline=deadline)


def _ready(node: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def wait_nodes_ready(api_client: Any, *, expected: int, deadline: Deadline) -> None:
    """Watch nodes until `expected` of them are Ready; one deadline. A dropped connection or
    an expired watch (an apiserver restarting) lists again instead of ending the wait."""
    from kubernetes.client.exceptions import ApiException

    ready: set[str] = set()
    trouble = ""
    while True:
        try:
            ready = _watch_until_ready(api_client, expected=expected, deadline=deadline)
        except Exception as err:
            gone = isinstance(err, ApiException) and err.status == 410
            if not (gone or is_transient_api_error(err)):
                raise
            trouble = describe_exception(err)
        if len(ready) >= expected:
            return
        if deadline.expired():
            why = f"; last error: {trouble}" if trouble else ""
            raise InfrastructureError(
                f"only {len(ready)}/{expected} nodes became Ready in time{why}")
        time.sleep(min(0.5, max(0.0, deadline.remaining())))


def _watch_until_ready(api_client: Any, *, expected: int, deadline: Deadline) -> set[str]:
    """One LIST, then one watch from its version until enough nodes are Ready or time is up."""
    from kubernetes import client, watch
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(api_client)
    listed = core.list_node(_request_timeout=30)
    ready = {n.metadata.name for n in listed.items if _ready(n)}
    version = listed.metadata.resource_version
    while len(ready) < expected and not deadline.expired():
        stream = watch.Watch()
        for event in stream.stream(core.list_node, resource_version=version,
                                   timeout_seconds=max(1, int(deadline.remaining())),
                                   _request_timeout=max(2, int(deadline.remaining()) + 5)):
            if event["type"] == "ERROR":
                # an expired resourceVersion: the caller lists again
                raise ApiException(status=410, reason="watch expired")
            node = event["object"]
            version = node.metadata.resource_version
            if event["type"] == "DELETED" or not _ready(node):
                ready.discard(node.metadata.name)
            else:
                ready.add(node.metadata.name)
            if len(ready) >= expected:
                stream.stop()
                break
    return ready
