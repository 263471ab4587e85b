from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from drdrill.health import ObjectRef, wait_until_healthy
from drdrill.health.discovery import ApiResources
from drdrill.health.group_watcher import Event, GroupWatcher, Listed, WatchGroup
from drdrill.health.pod_failures import PodPolicy
from drdrill.timing import Deadline
from tests.integration.health import kube
from tests.integration.health.conftest import LocalApiServer

pytestmark = pytest.mark.integration


def _later(delay: float, action: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), action()), daemon=True)
    thread.start()
    return thread


def _deployment(namespace: str, name: str) -> ObjectRef:
    return ObjectRef("apps/v1", "Deployment", namespace, name)


@pytest.fixture
def api(local_apiserver: LocalApiServer) -> Any:
    return local_apiserver.client()


def test_targets_become_healthy_as_their_status_is_patched(api: Any) -> None:
    ns = kube.random_namespace(api)
    for name in ("web", "ranker"):
        kube.create_deployment(api, ns, name, replicas=2)
    kube.create_pvc(api, ns, "models")
    kube.create_job(api, ns, "warmup")
    targets = [
        _deployment(ns, "web"),
        _deployment(ns, "ranker"),
        ObjectRef("v1", "PersistentVolumeClaim", ns, "models"),
        ObjectRef("batch/v1", "Job", ns, "warmup"),
        ObjectRef("v1", "Namespace", None, ns),
    ]
    origin = time.monotonic()

    def play_controllers() -> None:
        time.sleep(0.5)
        kube.deployment_ready(api, ns, "web", 2)
        kube.pvc_bound(api, ns, "models")
        time.sleep(0.5)
        kube.deployment_ready(api, ns, "ranker", 2)
        kube.job_status(api, ns, "warmup", failed=False)

    _later(0, play_controllers)
    outcomes = wait_until_healthy(
        api_client=api, targets=targets, deadline=Deadline.after(30),
        clock_origin=origin, crash_loop_restarts=3,
    )
    by_name = {(o.kind, o.name): o for o in outcomes}
    assert all(o.healthy for o in outcomes), outcomes
    assert time.monotonic() - origin < 10
    web = by_name[("Deployment", "web")].ready_after_seconds
    ranker = by_name[("Deployment", "ranker")].ready_after_seconds
    namespace = by_name[("Namespace", ns)].ready_after_seconds
    assert web is not None and ranker is not None and namespace is not None
    assert namespace < web < ranker
    assert 0.4 < web < 3


def test_a_workload_that_falls_back_counts_only_once_it_stayed_healthy(api: Any) -> None:
    """Healthy, then not (a crash right after Ready), then healthy again: the wait ends only
    when it has stayed healthy for `stable_for`, and its readiness counts from the last time."""
    ns = kube.random_namespace(api)
    for name in ("steady", "flaky"):
        kube.create_deployment(api, ns, name)

    def play_controllers() -> None:
        time.sleep(0.3)
        kube.deployment_ready(api, ns, "steady")
        kube.deployment_ready(api, ns, "flaky")
        time.sleep(1.0)
        kube.deployment_unavailable(api, ns, "flaky")
        time.sleep(1.0)
        kube.deployment_ready(api, ns, "flaky")

    origin = time.monotonic()
    _later(0, play_controllers)
    outcomes = wait_until_healthy(
        api_client=api, targets=[_deployment(ns, "steady"), _deployment(ns, "flaky")],
        deadline=Deadline.after(30), clock_origin=origin, stable_for=3.0)
    by_name = {o.name: o for o in outcomes}
    assert all(o.healthy for o in outcomes), outcomes
    flaky = by_name["flaky"].ready_after_seconds
    assert flaky is not None and flaky > 2.0, flaky
    assert time.monotonic() - origin >= flaky + 3.0


def test_a_workload_not_healthy_for_long_enough_by_the_deadline_is_not_healthy(
        api: Any) -> None:
    ns = kube.random_namespace(api)
    kube.create_deployment(api, ns, "flaky")

    def play_controllers() -> None:
        time.sleep(0.3)
        kube.deployment_ready(api, ns, "flaky")
        time.sleep(1.0)
        kube.deployment_unavailable(api, ns, "flaky")
        time.sleep(1.0)
        kube.deployment_ready(api, ns, "flaky")

    _later(0, play_controllers)
    [outcome] = wait_until_healthy(
        api_client=api, targets=[_deployment(ns, "flaky")], deadline=Deadline.after(4),
        clock_origin=time.monotonic(), stable_for=10.0)
    assert not outcome.healthy
    assert "spec.workloads.stableFor" in outcome.reason and "only for the last" in outcome.reason


def test_failed_job_ends_the_wait_early_with_its_reason(api: Any) -> None:
    ns = kube.random_namespace(api)
    kube.create_deployment(api, ns, "web")
    kube.create_job(api, ns, "train")
    _later(0.3, lambda: kube.job_status(api, ns, "train", failed=True))
    _later(0.3, lambda: kube.deployment_ready(api, ns, "web"))
    started = time.monotonic()
    outcomes = wait_until_healthy(
        api_client=api,
        targets=[_deployment(ns, "web"), ObjectRef("batch/v1", "Job", ns, "train")],
        deadline=Deadline.after(30), clock_origin=started, crash_loop_restarts=3,
    )
    assert time.monotonic() - started < 10
    job = next(o for o in outcomes if o.kind == "Job")
    assert not job.healthy
    assert "backoff limit" in job.reason
    assert next(o for o in outcomes if o.kind == "Deployment").healthy


def test_image_pull_backoff_on_a_pod_fails_its_deployment_early(api: Any) -> None:
    ns = kube.random_namespace(api)
    kube.create_deployment(api, ns, "llm")
    pod = kube.create_owned_pod(api, ns, "llm", "7d9f8c6b5")
    _later(0.3, lambda: kube.pod_image_pull_backoff(api, ns, pod))
    started = time.monotonic()
    [outcome] = wait_until_healthy(
        api_client=api, targets=[_deployment(ns, "llm")], deadline=Deadline.after(30),
        clock_origin=started, pod_policy=PodPolicy(image_pull_attempts=1),
    )
    assert time.monotonic() - started < 10
    assert not outcome.healthy
    assert "ImagePullBackOff" in outcome.reason and pod in outcome.reason


def test_deadline_reports_the_last_reason(api: Any) -> None:
    ns = kube.random_namespace(api)
    kube.create_deployment(api, ns, "slow", replicas=2)
    started = time.monotonic()
    outcomes = wait_until_healthy(
        api_client=api,
        targets=[_deployment(ns, "slow"), _deployment(ns, "missing")],
        deadline=Deadline.after(1.5), clock_origin=started, crash_loop_restarts=3,
    )
    elapsed = time.monotonic() - started
    assert 1.4 < elapsed < 5
    reasons = {o.name: o.reason for o in outcomes}
    assert not any(o.healthy for o in outcomes)
    assert reasons["slow"].startswith("not healthy after 1.5s: ")
    assert "0/2 replicas created" in reasons["slow"]
    assert reasons["missing"].endswith("not found")


def test_watch_survives_an_apiserver_restart(local_apiserver: LocalApiServer, api: Any) -> None:
    ns = kube.random_namespace(api)
    kube.create_deployment(api, ns, "web")
    started = time.monotonic()
    result: list[Any] = []
    waiter = threading.Thread(target=lambda: result.extend(wait_until_healthy(
        api_client=api, targets=[_deployment(ns, "web")], deadline=Deadline.after(60),
        clock_origin=started, crash_loop_restarts=3,
    )), daemon=True)
    waiter.start()
    time.sleep(1.0)  # the watch is established
    local_apiserver.kill_apiserver()
    time.sleep(1.0)
    local_apiserver.start_apiserver()
    kube.deployment_ready(local_apiserver.client(), ns, "web")
    waiter.join(timeout=40)
    assert not waiter.is_alive(), "the wait did not notice the patch after the restart"
    [outcome] = result
    assert outcome.healthy, outcome


def test_expired_resource_version_lists_again(uncached_apiserver: LocalApiServer) -> None:
    api = uncached_apiserver.client()
    ns = kube.random_namespace(api)
    kube.create_deployment(api, ns, "web")
    time.sleep(5)  # the fixture compacts etcd every 2s: version 1 is gone by now
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    watcher = GroupWatcher(
        api_client=api, resources=ApiResources(api_client=api),
        group=WatchGroup("apps/v1", "Deployment", ns), events=events,
        resume_from="1",  # long compacted away: the API server answers 410 Gone
    )
    watcher.start()
    try:
        end = time.monotonic() + 20
        listed = None
        while listed is None and time.monotonic() < end:
            event = events.get(timeout=max(0.1, end - time.monotonic()))
            if isinstance(event, Listed):
                listed = event
    finally:
        watcher.stop()
        watcher.join(timeout=5)
    assert listed is not None
    assert listed.present == frozenset({(ns, "web")})
    assert not watcher.is_alive()
