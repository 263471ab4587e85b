"""Fixtures that give integration tests the real local test bed.

The kwok cluster is session-scoped (starting one takes seconds, and tests only add objects in
their own namespaces); each test gets a fresh namespace with a random name and a created-by
label, removed afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from drdrill.clusters.base import ClusterInfo
from drdrill.clusters.kwok import KwokCluster
from drdrill.kubeapi import new_api_client
from drdrill.scenario.models import KwokSettings, NodePool, Taint
from drdrill.timing import Deadline

TEST_POOLS = (
    NodePool(name="gpu", count=2, cpu="64", memory="512Gi", gpus=4,
             taints=(Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule"),)),
    NodePool(name="cpu", count=2, cpu="32", memory="128Gi"),
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kwok_cluster() -> Iterator[ClusterInfo]:
    provider = KwokCluster(drill=f"it-{uuid.uuid4().hex[:6]}",
                           settings=KwokSettings(readiness_delay="500ms"), pools=TEST_POOLS)
    info = provider.create(deadline=Deadline.after(120))
    try:
        yield info
    finally:
        provider.delete(info)


@pytest.fixture(scope="session")
def kube_api(kwok_cluster: ClusterInfo) -> Iterator[Any]:
    api = new_api_client(kubeconfig=kwok_cluster.kubeconfig)
    yield api
    api.close()


@pytest.fixture
def namespace(kube_api: Any) -> Iterator[str]:
    from kubernetes import client

    name = f"t-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": name, "labels": {"created-by": "drdrill-tests"}}})
    yield name
    core.delete_namespace(name)


@pytest.fixture
def drill_env(tmp_path: Any) -> dict[str, str]:
    """Environment for `drdrill` subprocesses: private state and cache of cluster state."""
    return {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHONUNBUFFERED": "1"}
