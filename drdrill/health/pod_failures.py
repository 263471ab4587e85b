"""Failures that show only on pods, and that waiting will not cure.

A Deployment whose image cannot be pulled just reports too few ready replicas until its
progress deadline (ten minutes by default) runs out; its pods say why at once. A drill that
sees one of these can stop waiting for the workload and report the pod's own words.

A pod in phase `Failed` is *not* terminal by itself: a Job retries up to its `backoffLimit`,
and the Job's own `Failed` condition decides. An unschedulable pod is terminal only when the
scheduler says resources are insufficient (`0/3 nodes are available: 3 Insufficient
nvidia.com/gpu.`); other reasons (a node not ready yet, a volume still binding) can resolve.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from drdrill.health.status import conditions, field

_IMAGE_FAILURES = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName"})


def assess_pod_failure(pod: Mapping[str, Any], *, crash_loop_restarts: int) -> str | None:
    """Why this pod will not become ready without someone acting, or None if it still may."""
    for container, restarts, reason, message in _waiting_containers(pod):
        if reason in _IMAGE_FAILURES:
            return f"container {container}: {reason}" + (f": {message}" if message else "")
        if reason == "CrashLoopBackOff" and restarts >= crash_loop_restarts:
            return f"container {container}: CrashLoopBackOff after {restarts} restarts"
    scheduled = conditions(pod).get("PodScheduled")
    if (
        scheduled is not None
        and scheduled.is_false
        and scheduled.reason == "Unschedulable"
        and "Insufficient" in scheduled.message
    ):
        return f"unschedulable: {scheduled.message}"
    return None


def _waiting_containers(pod: Mapping[str, Any]) -> Iterator[tuple[str, int, str, str]]:
    for path in ("status.initContainerStatuses", "status.containerStatuses"):
        statuses = field(pod, path, ())
        if not isinstance(statuses, list):
            continue
        for status in statuses:
            if not isinstance(status, Mapping):
                continue
            waiting = field(status, "state.waiting")
            if not isinstance(waiting, Mapping):
                continue
            restarts = status.get("restartCount")
            yield (
                str(status.get("name") or "?"),
                restarts if isinstance(restarts, int) else 0,
                str(waiting.get("reason") or ""),
                str(waiting.get("message") or ""),
            )
