"""Pod trouble: what is terminal at once, after N tries, after a grace period, or never."""

from __future__ import annotations

from typing import Any

import pytest

from drdrill.health.pod_failures import PodJudge, PodPolicy, assess_pod_failure
from drdrill.scenario.models import Autoscaling, NodePool, Taint
from tests.unit.health.objects import cond, obj


def _pod(*, phase: str = "Pending", waiting: str | None = None, restarts: int = 0,
         message: str = "", conditions: list[dict[str, str]] | None = None,
         init: bool = False, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "conditions": conditions or []}
    if waiting is not None:
        container = {"name": "main", "restartCount": restarts,
                     "state": {"waiting": {"reason": waiting, "message": message}}}
        status["initContainerStatuses" if init else "containerStatuses"] = [container]
    return obj("v1", "Pod", status=status, spec=spec)


GPU_MESSAGE = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
GPU_POD_SPEC = {
    "containers": [{"name": "main", "resources": {"limits": {"nvidia.com/gpu": "4"}}}],
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
}
UNSCHEDULABLE = [cond("PodScheduled", "False", "Unschedulable", GPU_MESSAGE)]
GPU_TAINT = (Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule"),)

CASES: list[Any] = [
    pytest.param(_pod(phase="Running", conditions=[cond("Ready")]), None, id="healthy"),
    pytest.param(_pod(waiting="ContainerCreating"), None, id="creating"),
    pytest.param(_pod(waiting="InvalidImageName"), "container main: InvalidImageName",
                 id="invalid-image-name"),
    pytest.param(_pod(waiting="ErrImageNeverPull", message="image not present"),
                 "container main: ErrImageNeverPull: image not present", id="never-pull"),
    pytest.param(_pod(waiting="ErrImagePull"), None, id="first-pull-error-is-not-terminal"),
    pytest.param(_pod(phase="Running", waiting="CrashLoopBackOff", restarts=2), None,
                 id="crash-loop-below-threshold"),
    pytest.param(_pod(phase="Running", waiting="CrashLoopBackOff", restarts=3),
                 "container main: CrashLoopBackOff after 3 restarts", id="crash-loop-at-threshold"),
    pytest.param(_pod(conditions=UNSCHEDULABLE), f"unschedulable: {GPU_MESSAGE}",
                 id="unschedulable-insufficient-gpu"),
    pytest.param(
        _pod(conditions=[cond("PodScheduled", "False", "Unschedulable",
                              "0/3 nodes are available: 3 node(s) had untolerated taint.")]),
        None, id="unschedulable-taint-may-resolve",
    ),
    pytest.param(_pod(phase="Failed"), None, id="failed-phase-left-to-the-job"),
]


@pytest.mark.parametrize(("pod", "expected"), CASES)
def test_one_look_at_a_pod(pod: dict[str, Any], expected: str | None) -> None:
    assert assess_pod_failure(pod, crash_loop_restarts=3) == expected


PULL_SEQUENCES: list[Any] = [
    # reasons seen one after another -> the index at which it becomes terminal (None: never)
    pytest.param(["ErrImagePull", "ImagePullBackOff", "ErrImagePull", "ImagePullBackOff",
                  "ErrImagePull", "ImagePullBackOff"], 5, id="third-backoff-after-three-pulls"),
    pytest.param(["ErrImagePull", "ImagePullBackOff", "ErrImagePull", "ImagePullBackOff"], None,
                 id="two-pulls-still-waiting"),
    pytest.param(["ErrImagePull", "ErrImagePull", "ErrImagePull", "ImagePullBackOff"], None,
                 id="repeated-events-of-one-pull-count-once"),
    pytest.param(["ImagePullBackOff", "ErrImagePull", "ImagePullBackOff", "ErrImagePull",
                  "ImagePullBackOff"], 4, id="backoff-first-counts-the-pull-before-the-watch"),
    pytest.param(["ErrImagePull", "ImagePullBackOff", None, "ErrImagePull", "ImagePullBackOff"],
                 None, id="pulled-in-between-resets-nothing-but-is-not-terminal"),
]


@pytest.mark.parametrize(("reasons", "terminal_at"), PULL_SEQUENCES)
def test_image_pull_is_terminal_only_as_backoff_after_n_failed_pulls(
    reasons: list[str | None], terminal_at: int | None
) -> None:
    judge = PodJudge(PodPolicy(image_pull_attempts=3))
    failures = []
    for at, reason in enumerate(reasons):
        pod = _pod(waiting=reason, message='Back-off pulling image "models/srv:1"')
        failures.append(judge.judge(pod, now=float(at)).failure)
    first = next((i for i, f in enumerate(failures) if f), None)
    assert first == terminal_at, failures
    if terminal_at is not None:
        assert "ImagePullBackOff after 3 failed pulls" in str(failures[terminal_at])
        assert "models/srv:1" in str(failures[terminal_at])


@pytest.mark.parametrize(("message", "named"), [
    ('secret "db-creds" not found', "missing Secret db-creds"),
    ('configmap "features" not found', "missing ConfigMap features"),
    ("couldn't find key token in Secret ml/hf-token", "key token missing in Secret ml/hf-token"),
    ("something else", "CreateContainerConfigError: something else"),
])
def test_missing_config_names_the_object_and_is_terminal_after_the_grace(
    message: str, named: str
) -> None:
    judge = PodJudge(PodPolicy(config_error_grace_seconds=30.0))
    pod = _pod(waiting="CreateContainerConfigError", message=message)
    first = judge.judge(pod, now=100.0)
    assert first.failure is None
    assert first.waiting is not None and named in first.waiting
    assert first.recheck_at == 130.0
    assert judge.judge(pod, now=129.0).failure is None
    late = judge.judge(pod, now=130.0)
    assert late.failure is not None and named in late.failure


def test_config_error_that_clears_starts_its_grace_again() -> None:
    judge = PodJudge(PodPolicy(config_error_grace_seconds=30.0))
    missing = _pod(waiting="CreateContainerConfigError", message='secret "s" not found')
    judge.judge(missing, now=0.0)
    judge.judge(_pod(waiting="ContainerCreating"), now=20.0)
    assert judge.judge(missing, now=40.0).failure is None
    assert judge.judge(missing, now=70.0).failure is not None


@pytest.mark.parametrize(("pools", "terminal"), [
    pytest.param((NodePool(name="gpu", count=1, gpus=4, taints=GPU_TAINT),), True,
                 id="fixed-pool-is-terminal"),
    pytest.param((NodePool(name="gpu", count=1, gpus=4, taints=GPU_TAINT,
                           autoscaling=Autoscaling(max_count=3)),), False,
                 id="autoscaled-pool-that-fits-waits"),
    pytest.param((NodePool(name="gpu", count=0, gpus=2, taints=GPU_TAINT,
                           autoscaling=Autoscaling(max_count=3)),), True,
                 id="autoscaled-pool-too-small-per-node"),
    pytest.param((NodePool(name="cpu", count=0, gpus=8,
                           autoscaling=Autoscaling(max_count=3)),
                  NodePool(name="gpu", count=1, gpus=8, taints=GPU_TAINT)), False,
                 id="untainted-autoscaled-pool-fits"),
    pytest.param((NodePool(name="gpu", count=0, gpus=8,
                           taints=(Taint(key="team", value="a", effect="NoSchedule"),),
                           autoscaling=Autoscaling(max_count=3)),), True,
                 id="autoscaled-pool-with-untolerated-taint"),
])
def test_insufficient_waits_only_for_an_autoscaled_pool_that_could_run_it(
    pools: tuple[NodePool, ...], terminal: bool
) -> None:
    judge = PodJudge(PodPolicy(pools=pools))
    verdict = judge.judge(_pod(conditions=UNSCHEDULABLE, spec=GPU_POD_SPEC), now=0.0)
    assert (verdict.failure is not None) is terminal, verdict
    if not terminal:
        assert verdict.waiting is not None and "scale-up" in verdict.waiting


def _terminated(restarts: int, code: int) -> dict[str, Any]:
    container = {"name": "main", "restartCount": restarts,
                 "state": {"terminated": {"exitCode": code, "reason": "Error"}}}
    return obj("v1", "Pod", status={"phase": "Running", "containerStatuses": [container]})


@pytest.mark.parametrize(("pod", "failure"), [
    pytest.param(_terminated(3, 1), "container main: CrashLoopBackOff after 3 restarts "
                 "(exited 1: Error)", id="terminated-between-restarts-at-threshold"),
    pytest.param(_terminated(2, 1), None, id="terminated-below-threshold"),
    pytest.param(_terminated(5, 0), None, id="exited-zero-is-no-crash"),
])
def test_a_crash_loop_shown_as_terminated_between_restarts_counts(
    pod: dict[str, Any], failure: str | None
) -> None:
    # Kubernetes 1.35's kubelet shows the last termination while it backs off a restart.
    assert assess_pod_failure(pod, crash_loop_restarts=3) == failure
