"""Failures that show only on pods, and when waiting will not cure them.

A Deployment whose image cannot be pulled just reports too few ready replicas until its
progress deadline (ten minutes by default) runs out; its pods say why at once. A drill that
sees one of these can stop waiting for the workload and report the pod's own words. But a
first failure is not always the last:

* **Image pulls.** A registry that is briefly down (or a mirror still warming up after the
  rebuild) makes one pull fail, and the kubelet retries with back-off. A pull failure is
  terminal only as `ImagePullBackOff` after `image_pull_attempts` failed pulls have been seen
  (`ErrImagePull` each time); an invalid image name, or `Never` pull policy without the image,
  is terminal at once.
* **Missing Secret or ConfigMap.** `CreateContainerConfigError` names what is missing; GitOps
  (an ExternalSecret, a later Kustomization) may still create it, so it is terminal only after
  `config_error_grace` seconds, with the missing object's name.
* **No room.** An unschedulable pod is terminal when the scheduler says resources are
  insufficient, unless an autoscaled node pool could add a node that fits it: then the drill
  waits for the scale-up and says so.
* **Crash loops.** CrashLoopBackOff is terminal after `crash_loop_restarts` restarts. The
  kubelet of Kubernetes 1.35 (seen on kind) keeps showing the container `terminated` (non-zero
  exit code) between back-off restarts instead of `waiting: CrashLoopBackOff`: that counts too.

A pod in phase `Failed` is *not* terminal by itself: a Job retries up to its `backoffLimit`,
and the Job's own `Failed` condition decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drdrill.capacity import pools_that_could_run
from drdrill.health.status import conditions
from drdrill.health.status import field as status_field
from drdrill.scenario.models import NodePool

_TERMINAL_AT_ONCE = frozenset({"InvalidImageName", "ErrImageNeverPull"})
_MISSING = re.compile(r'(secret|configmap) "([^"]+)" not found', re.IGNORECASE)
_MISSING_KEY = re.compile(r"couldn't find key (\S+) in (Secret|ConfigMap) (\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class PodVerdict:
    """What one pod says about its workload right now.

    `failure`: terminal, in the pod's own words. `waiting`: not terminal yet, and why (shown in
    the report). `recheck_at`: a monotonic time at which the verdict changes by itself (a grace
    period ending) even if the pod does not change.
    """

    failure: str | None = None
    waiting: str | None = None
    recheck_at: float | None = None


@dataclass(frozen=True)
class PodPolicy:
    crash_loop_restarts: int = 3
    image_pull_attempts: int = 3
    config_error_grace_seconds: float = 60.0
    pools: tuple[NodePool, ...] = ()


@dataclass
class _PodMemory:
    last_reason: dict[str, str] = field(default_factory=dict)
    failed_pulls: dict[str, int] = field(default_factory=dict)
    config_error_since: dict[str, float] = field(default_factory=dict)


class PodJudge:
    """Judges pods event by event, remembering what a single status cannot tell (how many pulls
    failed, since when a Secret is missing). Pure: the caller passes the time."""

    def __init__(self, policy: PodPolicy) -> None:
        self.policy = policy
        self._memory: dict[tuple[str | None, str], _PodMemory] = {}

    def forget(self, namespace: str | None, name: str) -> None:
        self._memory.pop((namespace, name), None)

    def judge(self, pod: Mapping[str, Any], *, now: float) -> PodVerdict:
        metadata = pod.get("metadata") or {}
        key = (metadata.get("namespace") or None, str(metadata.get("name", "")))
        memory = self._memory.setdefault(key, _PodMemory())
        waiting_notes: list[str] = []
        recheck: float | None = None
        seen_config_errors: set[str] = set()
        for container, restarts, reason, message in _waiting_containers(pod):
            previous = memory.last_reason.get(container)
            memory.last_reason[container] = reason
            said = f": {message}" if message else ""
            if reason in _TERMINAL_AT_ONCE:
                return PodVerdict(failure=f"container {container}: {reason}{said}")
            if reason == "ErrImagePull" and previous != "ErrImagePull":
                memory.failed_pulls[container] = memory.failed_pulls.get(container, 0) + 1
            if reason == "ImagePullBackOff":
                # Back-off follows a failed pull, even one that happened before the watch began.
                pulls = max(memory.failed_pulls.get(container, 0), 1)
                memory.failed_pulls[container] = pulls
                if pulls >= self.policy.image_pull_attempts:
                    return PodVerdict(failure=(
                        f"container {container}: ImagePullBackOff after {pulls} failed pulls{said}"
                    ))
                waiting_notes.append(f"container {container}: image pull failed {pulls} of "
                                     f"{self.policy.image_pull_attempts} allowed times{said}")
            if reason == "CrashLoopBackOff" and restarts >= self.policy.crash_loop_restarts:
                return PodVerdict(
                    failure=f"container {container}: CrashLoopBackOff after {restarts} restarts"
                )
            if reason == "CreateContainerConfigError":
                seen_config_errors.add(container)
                since = memory.config_error_since.setdefault(container, now)
                what = _missing_config(message)
                ends = since + self.policy.config_error_grace_seconds
                if now >= ends:
                    return PodVerdict(failure=(
                        f"container {container}: {what} (CreateContainerConfigError for "
                        f"{now - since:.0f}s)"
                    ))
                waiting_notes.append(f"container {container}: {what}; terminal in "
                                     f"{ends - now:.0f}s unless it appears")
                recheck = ends if recheck is None else min(recheck, ends)
        for container, restarts, code, reason in _crashed_containers(pod):
            if restarts >= self.policy.crash_loop_restarts:
                return PodVerdict(failure=(
                    f"container {container}: CrashLoopBackOff after {restarts} restarts "
                    f"(exited {code}: {reason})"
                ))
        for container in list(memory.config_error_since):
            if container not in seen_config_errors:
                del memory.config_error_since[container]
        unschedulable = self._unschedulable(pod)
        if unschedulable is not None:
            if unschedulable.failure is not None:
                return unschedulable
            waiting_notes.append(unschedulable.waiting or "")
        if waiting_notes:
            return PodVerdict(waiting="; ".join(waiting_notes), recheck_at=recheck)
        return PodVerdict()

    def _unschedulable(self, pod: Mapping[str, Any]) -> PodVerdict | None:
        scheduled = conditions(pod).get("PodScheduled")
        if not (
            scheduled is not None
            and scheduled.is_false
            and scheduled.reason == "Unschedulable"
            and "Insufficient" in scheduled.message
        ):
            return None
        pools = pools_that_could_run(pod, self.policy.pools)
        if not pools:
            return PodVerdict(failure=f"unschedulable: {scheduled.message}")
        names = ", ".join(f"{p.name} (up to {p.autoscaling.max_count} nodes)"
                          for p in pools if p.autoscaling)
        return PodVerdict(waiting=f"waiting for scale-up of autoscaled pool {names}: "
                                  f"{scheduled.message}")


def assess_pod_failure(
    pod: Mapping[str, Any], *, crash_loop_restarts: int, pools: Sequence[NodePool] = ()
) -> str | None:
    """One look at one pod, with no memory: why it will not become ready, or None."""
    judge = PodJudge(PodPolicy(crash_loop_restarts=crash_loop_restarts, image_pull_attempts=1,
                               config_error_grace_seconds=0.0, pools=tuple(pools)))
    return judge.judge(pod, now=0.0).failure


def _missing_config(message: str) -> str:
    if match := _MISSING.search(message):
        kind = "Secret" if match.group(1).lower() == "secret" else "ConfigMap"
        return f"missing {kind} {match.group(2)}"
    if match := _MISSING_KEY.search(message):
        return f"key {match.group(1)} missing in {match.group(2)} {match.group(3)}"
    return f"CreateContainerConfigError: {message or 'no message'}"


def _crashed_containers(pod: Mapping[str, Any]) -> Iterator[tuple[str, int, int, str]]:
    """Containers that exited non-zero and wait to be restarted (name, restarts, exit code,
    reason)."""
    statuses = status_field(pod, "status.containerStatuses", ())
    for status in statuses if isinstance(statuses, list) else ():
        if not isinstance(status, Mapping):
            continue
        terminated = status_field(status, "state.terminated")
        restarts = status.get("restartCount")
        if not isinstance(terminated, Mapping) or not isinstance(restarts, int):
            continue
        code = terminated.get("exitCode")
        if isinstance(code, int) and code != 0:
            yield (str(status.get("name") or "?"), restarts, code,
                   str(terminated.get("reason") or "no reason"))


def _waiting_containers(pod: Mapping[str, Any]) -> Iterator[tuple[str, int, str, str]]:
    for path in ("status.initContainerStatuses", "status.containerStatuses"):
        statuses = status_field(pod, path, ())
        if not isinstance(statuses, list):
            continue
        for status in statuses:
            if not isinstance(status, Mapping):
                continue
            waiting = status_field(status, "state.waiting")
            if not isinstance(waiting, Mapping):
                continue
            restarts = status.get("restartCount")
            yield (
                str(status.get("name") or "?"),
                restarts if isinstance(restarts, int) else 0,
                str(waiting.get("reason") or ""),
                str(waiting.get("message") or ""),
            )
