"""The kwok simulation's statuses, judged by drdrill's own health rules (no cluster needed).

Each simulated kind must read as healthy when ready, as failed with a "(simulated)" reason on
its failure path, and never as healthy when no node of any pool could run one of its pods.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from drdrill.clusters.simulated_kinds import (
    SIMULATED_KINDS,
    Outcome,
    build_status,
    decide,
    failure_requested,
)
from drdrill.health import HealthState, assess
from drdrill.scenario.models import Autoscaling, NodePool
from tests.unit.clusters.ml_objects import ALL_KINDS, PODDED_KINDS, container, sample

POOLS = (
    NodePool(name="gpu", count=2, cpu="64", memory="512Gi", gpus=4),
    NodePool(name="cpu", count=2, cpu="32", memory="128Gi"),
)
NOW = "2026-11-30T10:00:00Z"


def simulate(obj: dict[str, Any], *, pools: tuple[NodePool, ...] = POOLS,
             generation: int | None = 3) -> tuple[Outcome, dict[str, Any]]:
    """The object as the API server would return it after the simulation wrote its status."""
    group = obj["apiVersion"].rpartition("/")[0]
    simulated = SIMULATED_KINDS[(group, obj["kind"])]
    decision = decide(obj, simulated=simulated, pools=pools)
    written = copy.deepcopy(obj)
    written["status"] = build_status(obj, simulated=simulated, decision=decision, now=NOW,
                                     generation=generation)
    return decision.outcome, written


def test_every_kind_with_an_ml_rule_is_simulated() -> None:
    from drdrill.health.ml_rules import ML_RULES

    # Argo CD's Application is not simulated: the real application-controller runs on kwok.
    assert set(ML_RULES) - {("argoproj.io", "Application")} == set(SIMULATED_KINDS)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_ready_status_is_healthy(kind: str) -> None:
    outcome, written = simulate(sample(kind, cpu="4", memory="16Gi"))
    health = assess(written, status_subresource=kind != "Application")
    assert outcome is Outcome.READY
    assert health.state is HealthState.CURRENT, health


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("where", ["labels", "annotations"])
@pytest.mark.parametrize("value", ["fail", "degraded"])
def test_failure_path_fails_with_a_simulated_reason(kind: str, where: str, value: str) -> None:
    obj = sample(kind)
    obj["metadata"][where] = {"drdrill.dev/simulate": value}
    outcome, written = simulate(obj)
    health = assess(written, status_subresource=kind != "Application")
    assert outcome is Outcome.FAILED
    assert health.state is HealthState.FAILED, health
    assert "(simulated)" in health.reason


@pytest.mark.parametrize("kind", PODDED_KINDS)
def test_more_gpus_than_any_node_has_is_never_healthy(kind: str) -> None:
    outcome, written = simulate(sample(kind, nvidia_gpu="8"))
    health = assess(written, status_subresource=True)
    assert outcome is Outcome.INSUFFICIENT_CAPACITY
    assert health.state is HealthState.FAILED, health
    assert "8 nvidia.com/gpu" in health.reason
    assert "largest node offers 4" in health.reason
    assert "(simulated)" in health.reason


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_without_a_status_subresource_no_generation_is_claimed(kind: str) -> None:
    # Writing status into the object itself bumps its generation: claiming to have observed
    # the old one would leave the object "not yet observed" for ever.
    _, written = simulate(sample(kind), generation=None)
    written["metadata"]["generation"] = 4
    assert assess(written, status_subresource=False).state is HealthState.CURRENT


# (kind, requests of its main pod, outcome, words the reason must hold)
CAPACITY: list[Any] = [
    pytest.param("InferenceService", {"nvidia_gpu": "4", "cpu": "60", "memory": "500Gi"},
                 Outcome.READY, "", id="fills-the-largest-node-exactly"),
    pytest.param("InferenceService", {"cpu": "65"}, Outcome.INSUFFICIENT_CAPACITY,
                 "65 cpu", id="cpu-beyond-every-node"),
    pytest.param("Notebook", {"memory": "600Gi"}, Outcome.INSUFFICIENT_CAPACITY,
                 "600Gi memory", id="memory-beyond-every-node"),
    pytest.param("Notebook", {"cpu": "64000m"}, Outcome.READY, "", id="millicores"),
    pytest.param("RayCluster", {"nvidia_gpu": "5"}, Outcome.INSUFFICIENT_CAPACITY,
                 "worker pod of group gpu", id="ray-worker-group-named"),
    pytest.param("PyTorchJob", {"nvidia_gpu": "2", "cpu": "40"}, Outcome.READY, "",
                 id="gpu-node-has-the-cpu-too"),
    pytest.param("TrainJob", {"memory": "1Ti"}, Outcome.INSUFFICIENT_CAPACITY,
                 "trainer node pod", id="trainjob-resources-per-node"),
    pytest.param("Workflow", {"nvidia_gpu": "1", "memory": "513Gi"},
                 Outcome.INSUFFICIENT_CAPACITY, "513Gi memory", id="workflow-template"),
]


@pytest.mark.parametrize(("kind", "requests", "outcome", "words"), CAPACITY)
def test_capacity_decides_per_pod(kind: str, requests: dict[str, str], outcome: Outcome,
                                  words: str) -> None:
    got, written = simulate(sample(kind, **requests))
    assert got is outcome
    if outcome is Outcome.INSUFFICIENT_CAPACITY:
        assert words in assess(written, status_subresource=True).reason


def test_resources_that_fit_only_on_different_pools_are_named_together() -> None:
    pools = (NodePool(name="gpu", count=1, cpu="8", memory="64Gi", gpus=4),
             NodePool(name="big", count=1, cpu="96", memory="1Ti"))
    outcome, written = simulate(sample("Notebook", cpu="32", nvidia_gpu="2"), pools=pools)
    reason = assess(written, status_subresource=True).reason
    assert outcome is Outcome.INSUFFICIENT_CAPACITY
    assert "32 cpu" in reason and "2 nvidia.com/gpu" in reason
    assert "no single node" in reason


def test_an_autoscaled_pool_counts_while_it_has_no_node() -> None:
    pools = (*POOLS, NodePool(name="h200", count=0, cpu="96", memory="1Ti", gpus=8,
                              autoscaling=Autoscaling(max_count=4)))
    outcome, _ = simulate(sample("InferenceService", nvidia_gpu="8"), pools=pools)
    assert outcome is Outcome.READY


def test_limits_count_where_no_request_is_given() -> None:
    obj = sample("Notebook")
    obj["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"nvidia.com/gpu": 6}}
    assert simulate(obj)[0] is Outcome.INSUFFICIENT_CAPACITY


def test_isvc_custom_containers_and_worker_pods_are_read() -> None:
    obj = sample("InferenceService")
    obj["spec"]["predictor"] = {"containers": [container(nvidia_gpu="2"),
                                               container(nvidia_gpu="2")]}
    assert simulate(obj)[0] is Outcome.READY  # 4 in one pod: fits the GPU node
    obj["spec"]["predictor"]["containers"].append(container(nvidia_gpu="1"))
    assert simulate(obj)[0] is Outcome.INSUFFICIENT_CAPACITY
    obj["spec"]["predictor"] = {"model": {"modelFormat": {"name": "vllm"}},
                                "workerSpec": {"containers": [container(memory="2Ti")]}}
    _, written = simulate(obj)
    assert "predictor worker pod" in assess(written, status_subresource=True).reason


def test_init_containers_count_as_the_larger_of_them_and_the_containers() -> None:
    obj = sample("Notebook", cpu="30")
    spec = obj["spec"]["template"]["spec"]
    spec["initContainers"] = [container(cpu="40")]
    assert simulate(obj)[0] is Outcome.READY  # 40 CPU fits the GPU pool's 64
    spec["initContainers"] = [container(cpu="70")]
    assert simulate(obj)[0] is Outcome.INSUFFICIENT_CAPACITY


def test_workflow_container_set_is_one_pod() -> None:
    obj = sample("Workflow")
    obj["spec"]["templates"][1] = {"name": "train", "containerSet": {"containers": [
        container(nvidia_gpu="3"), container(nvidia_gpu="3")]}}
    assert simulate(obj)[0] is Outcome.INSUFFICIENT_CAPACITY


def test_a_failure_request_wins_over_capacity() -> None:
    obj = sample("InferenceService", nvidia_gpu="8")
    obj["metadata"]["labels"] = {"drdrill.dev/simulate": "fail"}
    assert simulate(obj)[0] is Outcome.FAILED


@pytest.mark.parametrize(("metadata", "wanted"), [
    ({"labels": {"drdrill.dev/simulate": "fail"}}, True),
    ({"annotations": {"drdrill.dev/simulate": "degraded"}}, True),
    ({"labels": {"drdrill.dev/simulate": " Fail "}}, True),
    ({"labels": {"drdrill.dev/simulate": "crash-loop"}}, False),  # a pod fault, not a CR's
    ({"labels": {"drdrill.dev/other": "fail"}}, False),
    ({"labels": None, "annotations": None}, False),
    ({}, False),
])
def test_failure_selector(metadata: dict[str, Any], wanted: bool) -> None:
    assert failure_requested({"metadata": metadata}) is wanted
