"""The waiting thread's bookkeeping, fed with events as the watcher threads would send them."""

from __future__ import annotations

from drdrill.health.group_watcher import Listed, ObjectGone, ObjectSeen, WatchGroup
from drdrill.health.inventory import Selection
from drdrill.health.refs import ObjectRef
from drdrill.health.status import HealthState
from drdrill.health.tracker import HealthTracker
from drdrill.health.watch import watch_groups
from drdrill.scenario.models import WorkloadSelector
from tests.unit.health.objects import deployment

WEB = ObjectRef("apps/v1", "Deployment", "ml", "web")
DEPLOYMENTS = WatchGroup("apps/v1", "Deployment", "ml")
PODS = WatchGroup("v1", "Pod", "ml")


def _named(obj: dict, name: str, **labels: str) -> dict:  # type: ignore[type-arg]
    obj["metadata"] = {"name": name, "namespace": "ml", "labels": labels}
    return obj


def _invalid_image_pod() -> dict:  # type: ignore[type-arg]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-abc12-x", "namespace": "ml",
                     "labels": {"pod-template-hash": "abc12"},
                     "ownerReferences": [{"kind": "ReplicaSet", "name": "web-abc12"}]},
        "status": {"containerStatuses": [
            {"name": "main", "restartCount": 0,
             "state": {"waiting": {"reason": "InvalidImageName"}}}
        ]},
    }


def test_current_since_is_the_arrival_of_the_deciding_event() -> None:
    changes: list[HealthState] = []
    tracker = HealthTracker(targets=[WEB], crash_loop_restarts=3,
                            on_change=lambda ref, health: changes.append(health.state))
    tracker.apply(ObjectSeen(DEPLOYMENTS, _named(deployment(ready=0), "web"), 1.0))
    assert not tracker.all_decided
    tracker.apply(ObjectSeen(DEPLOYMENTS, _named(deployment(), "web"), 2.5))
    assert tracker.all_decided
    assert tracker.current_since(WEB) == 2.5
    assert changes == [HealthState.IN_PROGRESS, HealthState.CURRENT]


def test_pod_failure_fails_its_deployment_until_the_pod_goes() -> None:
    tracker = HealthTracker(targets=[WEB], crash_loop_restarts=3)
    tracker.apply(ObjectSeen(DEPLOYMENTS, _named(deployment(ready=0), "web"), 1.0))
    tracker.apply(ObjectSeen(PODS, _invalid_image_pod(), 1.1))
    assert tracker.health(WEB).state is HealthState.FAILED
    assert "InvalidImageName" in tracker.health(WEB).reason
    assert tracker.health(WEB).rule == "pods"
    tracker.apply(ObjectGone(PODS, "ml", "web-abc12-x", 1.2))
    assert tracker.health(WEB).state is HealthState.IN_PROGRESS


def test_object_missing_from_a_relist_is_not_found() -> None:
    tracker = HealthTracker(targets=[WEB], crash_loop_restarts=3)
    tracker.apply(ObjectSeen(DEPLOYMENTS, _named(deployment(), "web"), 1.0))
    tracker.apply(Listed(DEPLOYMENTS, frozenset(), 2.0))
    assert tracker.health(WEB).state is HealthState.UNKNOWN
    assert tracker.health(WEB).reason == "not found"


def test_label_selector_drops_a_target_once_its_labels_show() -> None:
    selection = Selection(exclude=(WorkloadSelector(label_selector="drill=skip"),))
    excluded: list[ObjectRef] = []
    tracker = HealthTracker(targets=[WEB], crash_loop_restarts=3, selection=selection,
                            on_excluded=excluded.append)
    tracker.apply(ObjectSeen(DEPLOYMENTS, _named(deployment(ready=0), "web", drill="skip"), 1.0))
    assert tracker.targets == []
    assert tracker.all_decided
    assert excluded == [WEB], "whoever shows the wait is told it is no longer waited on"


def test_one_watch_per_kind_and_namespace_plus_pods() -> None:
    refs = [WEB, ObjectRef("apps/v1", "Deployment", "ml", "api"),
            ObjectRef("v1", "Namespace", None, "ml")]
    assert watch_groups(refs) == [
        WatchGroup("apps/v1", "Deployment", "ml"),
        WatchGroup("v1", "Namespace", None),
        WatchGroup("v1", "Pod", "ml"),
    ]


def _web_pod(status: dict, spec: dict | None = None) -> dict:  # type: ignore[type-arg]
    pod = _invalid_image_pod()
    pod["status"] = status
    if spec is not None:
        pod["spec"] = spec
    return pod


def test_missing_secret_turns_terminal_on_a_tick_after_the_grace() -> None:
    from drdrill.health.pod_failures import PodPolicy

    tracker = HealthTracker(targets=[WEB],
                            pod_policy=PodPolicy(config_error_grace_seconds=30.0))
    tracker.apply(ObjectSeen(DEPLOYMENTS, _named(deployment(ready=0), "web"), 1.0))
    tracker.apply(ObjectSeen(PODS, _web_pod({"containerStatuses": [
        {"name": "main", "state": {"waiting": {"reason": "CreateContainerConfigError",
                                               "message": 'secret "hf-token" not found'}}}]}),
        10.0))
    assert tracker.health(WEB).state is HealthState.IN_PROGRESS
    assert "missing Secret hf-token" in tracker.health(WEB).reason
    assert tracker.next_recheck() == 40.0
    tracker.tick(39.0)
    assert not tracker.all_decided
    tracker.tick(40.0)
    assert tracker.all_decided
    assert tracker.health(WEB).state is HealthState.FAILED
    assert "missing Secret hf-token" in tracker.health(WEB).reason
    assert tracker.next_recheck() is None


def test_a_scale_up_wait_is_noted_once_the_workload_is_ready() -> None:
    from drdrill.health.pod_failures import PodPolicy
    from drdrill.scenario.models import Autoscaling, NodePool

    pools = (NodePool(name="gpu", count=1, gpus=4, autoscaling=Autoscaling(max_count=2)),)
    tracker = HealthTracker(targets=[WEB], pod_policy=PodPolicy(pools=pools))
    tracker.apply(ObjectSeen(DEPLOYMENTS, _named(deployment(ready=1), "web"), 1.0))
    unschedulable = {"conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."}]}
    gpu_spec = {"containers": [{"name": "main",
                                "resources": {"limits": {"nvidia.com/gpu": "4"}}}]}
    tracker.apply(ObjectSeen(PODS, _web_pod(unschedulable, gpu_spec), 2.0))
    assert tracker.health(WEB).state is HealthState.IN_PROGRESS
    assert "scale-up" in tracker.health(WEB).reason
    tracker.apply(ObjectSeen(PODS, _web_pod({"phase": "Running"}, gpu_spec), 14.0))
    tracker.apply(ObjectSeen(DEPLOYMENTS, _named(deployment(), "web"), 14.5))
    assert tracker.health(WEB).state is HealthState.CURRENT
    assert tracker.notes(WEB, now=20.0) == [
        "waited 12.5s: for an autoscaled node pool to scale up"]
