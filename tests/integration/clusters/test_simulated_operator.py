"""The kwok simulated operator on the real local cluster, judged by drdrill's own wait.

One simulator and one `wait_until_healthy` serve every kind at once (the machine has two
cores): each kind's ready object must become healthy, its failure path must fail with a
"(simulated)" reason, and an InferenceService asking for more GPUs than any node has must
never turn healthy. Other tests start a simulator before a CRD exists, change a spec after
the status was written, and check that the simulator writes once and stops quickly.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client

from drdrill.clusters.base import ClusterInfo
from drdrill.clusters.kwok import KwokCluster
from drdrill.clusters.simulator import KwokSimulator
from drdrill.health import ObjectRef, wait_until_healthy
from drdrill.health.refs import WorkloadOutcome
from drdrill.results import Simulation
from drdrill.scenario.models import KwokSettings
from drdrill.timing import Deadline
from tests.integration.clusters import ml_crds
from tests.integration.conftest import TEST_POOLS
from tests.integration.health.conftest import LocalApiServer, _running
from tests.unit.clusters.ml_objects import ALL_KINDS, sample

DEADLINE = 60.0
# Failure paths chosen by annotation (the old value) rather than label, so both are exercised.
BY_ANNOTATION = {"Workflow", "Notebook"}


def start_simulator(info: ClusterInfo, *, delay: str = "500ms",
                    jitter: str | None = "500ms") -> KwokSimulator:
    provider = KwokCluster(drill="sim", pools=TEST_POOLS,
                           settings=KwokSettings(readiness_delay=delay, readiness_jitter=jitter))
    return provider.start_simulation(info=info)


@dataclass(frozen=True)
class Made:
    ref: ObjectRef
    crd: dict[str, Any]


def create(api: Any, crd: dict[str, Any], namespace: str, name: str,
           obj: dict[str, Any]) -> Made:
    body = copy.deepcopy(obj)
    body["apiVersion"] = f"{crd['spec']['group']}/{ml_crds.storage_version(crd)}"
    body["metadata"] = {**{k: v for k, v in body["metadata"].items()
                           if k not in ("uid", "generation")},
                        "name": name, "namespace": namespace,
                        "labels": {"created-by": "drdrill-tests",
                                   **(body["metadata"].get("labels") or {})}}
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        crd["spec"]["group"], ml_crds.storage_version(crd), namespace, ml_crds.plural(crd), body)
    return Made(ObjectRef(body["apiVersion"], body["kind"], namespace, name), crd)


def read(api: Any, made: Made) -> dict[str, Any]:
    obj: dict[str, Any] = client.CustomObjectsApi(api).get_namespaced_custom_object(
        made.crd["spec"]["group"], ml_crds.storage_version(made.crd), made.ref.namespace,
        ml_crds.plural(made.crd), made.ref.name)
    return obj


def failing(kind: str) -> dict[str, Any]:
    obj = sample(kind)
    if kind in BY_ANNOTATION:
        obj["metadata"]["annotations"] = {"drdrill.dev/simulate": "degraded"}
    else:
        obj["metadata"]["labels"] = {"drdrill.dev/simulate": "fail"}
    return obj


@pytest.fixture
def fresh_namespace(kube_api: Any) -> Iterator[str]:
    name = f"sim-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": name, "labels": {"created-by": "drdrill-tests"}}})
    yield name
    core.delete_namespace(name)


@dataclass(frozen=True)
class SimulatedRun:
    outcomes: dict[str, WorkloadOutcome]
    snapshot: Simulation
    waited: float
    stop_seconds: float
    rewritten: list[str]  # objects whose resourceVersion moved after the wait


@pytest.fixture(scope="module")
def every_kind(kwok_cluster: ClusterInfo, kube_api: Any) -> Iterator[SimulatedRun]:
    crds = ml_crds.ml_crds()
    ml_crds.install(kube_api, list(crds.values()))
    namespace = f"sim-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": namespace,
                                        "labels": {"created-by": "drdrill-tests"}}})
    simulator = start_simulator(kwok_cluster)
    try:
        made = [create(kube_api, crds[kind], namespace, f"{kind.lower()}-ready",
                       sample(kind, cpu="2", memory="8Gi")) for kind in ALL_KINDS]
        made += [create(kube_api, crds[kind], namespace, f"{kind.lower()}-fail", failing(kind))
                 for kind in ALL_KINDS]
        made.append(create(kube_api, crds["InferenceService"], namespace, "llm-8-gpus",
                           sample("InferenceService", nvidia_gpu="8")))
        started = time.monotonic()
        outcomes = wait_until_healthy(
            api_client=kube_api, targets=[m.ref for m in made],
            deadline=Deadline.after(DEADLINE), clock_origin=started,
        )
        waited = time.monotonic() - started
        versions = {m.ref.name: read(kube_api, m)["metadata"]["resourceVersion"] for m in made}
        time.sleep(1.5)  # longer than the delay and its jitter: any second write shows
        rewritten = [m.ref.name for m in made
                     if read(kube_api, m)["metadata"]["resourceVersion"] != versions[m.ref.name]]
        snapshot = simulator.snapshot()
    finally:
        stop_started = time.monotonic()
        simulator.stop()
        stop_seconds = time.monotonic() - stop_started
        core.delete_namespace(namespace)
    yield SimulatedRun({o.name: o for o in outcomes}, snapshot, waited, stop_seconds, rewritten)


def _recorded(run: SimulatedRun, name: str) -> tuple[str, str]:
    [record] = [r for r in run.snapshot.custom_resources if r.name == name]
    return record.outcome, record.simulator


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_each_kind_becomes_healthy_and_is_recorded_as_simulated(
    every_kind: SimulatedRun, kind: str
) -> None:
    outcome = every_kind.outcomes[f"{kind.lower()}-ready"]
    assert outcome.healthy, outcome
    assert _recorded(every_kind, outcome.name) == ("ready", f"drdrill-kwok/{kind}")


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_each_failure_path_fails_with_its_reason(every_kind: SimulatedRun, kind: str) -> None:
    outcome = every_kind.outcomes[f"{kind.lower()}-fail"]
    assert not outcome.healthy
    assert "(simulated)" in outcome.reason, outcome.reason
    assert not outcome.reason.startswith("not healthy after"), "failed only at the deadline"
    assert _recorded(every_kind, outcome.name) == ("failed", f"drdrill-kwok/{kind}")


def test_an_inference_service_asking_for_more_gpus_than_a_node_has_is_not_healthy(
    every_kind: SimulatedRun,
) -> None:
    outcome = every_kind.outcomes["llm-8-gpus"]
    assert not outcome.healthy
    assert "8 nvidia.com/gpu" in outcome.reason and "largest node offers 4" in outcome.reason
    assert _recorded(every_kind, "llm-8-gpus")[0] == "insufficient-capacity"


def test_every_verdict_came_early_and_the_simulator_stopped_quickly(
    every_kind: SimulatedRun,
) -> None:
    assert every_kind.waited < DEADLINE / 2, "the wait sat out its deadline"
    assert every_kind.stop_seconds < 3.5
    alive = [t.name for t in threading.enumerate() if t.name == "kwok-simulator"]
    assert alive == []


def test_each_status_is_written_once(every_kind: SimulatedRun) -> None:
    assert every_kind.rewritten == []


def test_a_crd_installed_after_the_wait_started_is_picked_up(
    kwok_cluster: ClusterInfo, kube_api: Any, fresh_namespace: str
) -> None:
    crd = ml_crds.ml_crds()["TFJob"]
    ml_crds.remove(kube_api, crd)
    simulator = start_simulator(kwok_cluster, jitter=None)
    try:
        ref = ObjectRef(f"kubeflow.org/{ml_crds.storage_version(crd)}", "TFJob",
                        fresh_namespace, "late")
        result: list[WorkloadOutcome] = []
        started = time.monotonic()
        waiter = threading.Thread(target=lambda: result.extend(wait_until_healthy(
            api_client=kube_api, targets=[ref], deadline=Deadline.after(DEADLINE),
            clock_origin=started)), daemon=True)
        waiter.start()
        time.sleep(2.0)  # the simulator and the wait both run, and the CRD is not there
        assert waiter.is_alive()
        ml_crds.install(kube_api, [crd])
        create(kube_api, crd, fresh_namespace, "late", sample("TFJob", cpu="1"))
        waiter.join(timeout=DEADLINE)
        assert not waiter.is_alive()
        [outcome] = result
        assert outcome.healthy, outcome
        assert [r.name for r in simulator.snapshot().custom_resources
                if r.namespace == fresh_namespace] == ["late"]
    finally:
        simulator.stop()


def test_a_spec_changed_after_ready_is_judged_again(
    kwok_cluster: ClusterInfo, kube_api: Any, fresh_namespace: str
) -> None:
    crd = ml_crds.ml_crds()["RayCluster"]
    ml_crds.install(kube_api, [crd])
    simulator = start_simulator(kwok_cluster, jitter=None)
    try:
        made = create(kube_api, crd, fresh_namespace, "ray", sample("RayCluster", nvidia_gpu="2"))
        [first] = wait_until_healthy(api_client=kube_api, targets=[made.ref],
                                     deadline=Deadline.after(DEADLINE),
                                     clock_origin=time.monotonic())
        assert first.healthy, first
        grown = read(kube_api, made)
        grown["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0][
            "resources"] = {"limits": {"nvidia.com/gpu": "6"}}
        client.CustomObjectsApi(kube_api).replace_namespaced_custom_object(
            "ray.io", "v1", fresh_namespace, "rayclusters", "ray", grown)
        [second] = wait_until_healthy(api_client=kube_api, targets=[made.ref],
                                      deadline=Deadline.after(DEADLINE),
                                      clock_origin=time.monotonic())
        assert not second.healthy
        assert "6 nvidia.com/gpu" in second.reason
        assert [r.outcome for r in simulator.snapshot().custom_resources
                if r.namespace == fresh_namespace] == ["insufficient-capacity"]
    finally:
        simulator.stop()


@pytest.fixture
def restartable_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApiServer]:
    """A bare etcd + kube-apiserver of the test bed, ours to kill and start again."""
    yield from _running(tmp_path_factory)


def test_the_simulator_resumes_after_the_apiserver_restarts(
    restartable_apiserver: LocalApiServer,
) -> None:
    api = restartable_apiserver.client()
    crds = ml_crds.ml_crds()
    simulator = KwokSimulator(api_client=api, pools=TEST_POOLS, readiness_delay=0.2)
    simulator.start()
    try:
        namespace = "resume"
        client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
        ml_crds.install(api, [crds["InferenceService"]])
        before = create(api, crds["InferenceService"], namespace, "before",
                        sample("InferenceService"))
        [first] = wait_until_healthy(api_client=api, targets=[before.ref],
                                     deadline=Deadline.after(DEADLINE),
                                     clock_origin=time.monotonic())
        assert first.healthy, first
        restartable_apiserver.kill_apiserver()
        time.sleep(1.0)
        restartable_apiserver.start_apiserver()
        # Both watches must come back: the CRDs' (a CRD created now) and the kind's.
        ml_crds.install(api, [crds["Notebook"]])
        after = [create(api, crds["InferenceService"], namespace, "after",
                        sample("InferenceService")),
                 create(api, crds["Notebook"], namespace, "lab", sample("Notebook"))]
        outcomes = wait_until_healthy(api_client=api, targets=[m.ref for m in after],
                                      deadline=Deadline.after(DEADLINE),
                                      clock_origin=time.monotonic())
        assert all(o.healthy for o in outcomes), outcomes
        assert {r.name for r in simulator.snapshot().custom_resources} == {
            "before", "after", "lab"}
    finally:
        simulator.stop()
