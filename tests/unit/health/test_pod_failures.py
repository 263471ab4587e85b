from __future__ import annotations

from typing import Any

import pytest

from drdrill.health.pod_failures import assess_pod_failure
from tests.unit.health.objects import cond, obj


def _pod(*, phase: str = "Pending", waiting: str | None = None, restarts: int = 0,
         message: str = "", conditions: list[dict[str, str]] | None = None,
         init: bool = False) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "conditions": conditions or []}
    if waiting is not None:
        container = {"name": "main", "restartCount": restarts,
                     "state": {"waiting": {"reason": waiting, "message": message}}}
        status["initContainerStatuses" if init else "containerStatuses"] = [container]
    return obj("v1", "Pod", status=status)


GPU_MESSAGE = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."

CASES: list[Any] = [
    pytest.param(_pod(phase="Running", conditions=[cond("Ready")]), None, id="healthy"),
    pytest.param(_pod(waiting="ContainerCreating"), None, id="creating"),
    pytest.param(_pod(waiting="ImagePullBackOff", message="Back-off pulling image \"x:1\""),
                 "container main: ImagePullBackOff: Back-off pulling image \"x:1\"",
                 id="image-pull-backoff"),
    pytest.param(_pod(waiting="ErrImagePull"), "container main: ErrImagePull", id="err-image-pull"),
    pytest.param(_pod(waiting="InvalidImageName"), "container main: InvalidImageName",
                 id="invalid-image-name"),
    pytest.param(_pod(waiting="ImagePullBackOff", init=True), "container main: ImagePullBackOff",
                 id="init-container-image"),
    pytest.param(_pod(phase="Running", waiting="CrashLoopBackOff", restarts=2), None,
                 id="crash-loop-below-threshold"),
    pytest.param(_pod(phase="Running", waiting="CrashLoopBackOff", restarts=3),
                 "container main: CrashLoopBackOff after 3 restarts", id="crash-loop-at-threshold"),
    pytest.param(
        _pod(conditions=[cond("PodScheduled", "False", "Unschedulable", GPU_MESSAGE)]),
        f"unschedulable: {GPU_MESSAGE}", id="unschedulable-insufficient-gpu",
    ),
    pytest.param(
        _pod(conditions=[cond("PodScheduled", "False", "Unschedulable",
                              "0/3 nodes are available: 3 node(s) had untolerated taint.")]),
        None, id="unschedulable-taint-may-resolve",
    ),
    pytest.param(_pod(phase="Failed"), None, id="failed-phase-left-to-the-job"),
]


@pytest.mark.parametrize(("pod", "expected"), CASES)
def test_assess_pod_failure(pod: dict[str, Any], expected: str | None) -> None:
    assert assess_pod_failure(pod, crash_loop_restarts=3) == expected
