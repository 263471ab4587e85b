"""Wait until every target workload is healthy, or has failed for good, or the deadline passes.

One watch per collection (kind x namespace), never one poll per object: a thousand workloads
in a few namespaces cost a handful of LIST and WATCH requests. Pods in the targets' namespaces
are watched too, so an image that cannot be pulled or a GPU that does not exist ends the wait
for its workload at once instead of at the deadline. The wait ends as soon as every target is
decided (current or failed); a target's `ready_after_seconds` is stamped when the event that
made it current arrived, not when the wait ended.
"""

from __future__ import annotations

import queue
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from drdrill.health.custom_rules import NO_CUSTOM_RULES, RuleBook
from drdrill.health.discovery import ApiResources
from drdrill.health.group_watcher import Event, GroupWatcher, WatchGroup
from drdrill.health.inventory import Selection
from drdrill.health.pod_events import read_pod_warnings
from drdrill.health.pod_failures import PodPolicy
from drdrill.health.refs import ObjectRef, WorkloadOutcome
from drdrill.health.status import HealthState
from drdrill.health.tracker import HealthTracker, OnChange, OnExcluded
from drdrill.timing import Deadline, format_duration

# Past this many namespaces, one cluster-wide watch per kind is cheaper than one per namespace.
MAX_NAMESPACES_PER_KIND = 10
_STOP_JOIN_SECONDS = 2.0


def wait_until_healthy(
    *,
    api_client: Any,
    targets: Sequence[ObjectRef],
    deadline: Deadline,
    clock_origin: float,
    crash_loop_restarts: int = 3,
    selection: Selection | None = None,
    on_change: OnChange | None = None,
    rules: RuleBook = NO_CUSTOM_RULES,
    pod_policy: PodPolicy | None = None,
    on_excluded: OnExcluded | None = None,
    stable_for: float = 0.0,
) -> list[WorkloadOutcome]:
    """Watch `targets` until all are decided or `deadline`; one outcome per (selected) target.

    `api_client` is a `kubernetes.client.ApiClient` for the drill's cluster. `clock_origin` is
    the drill's monotonic start: `ready_after_seconds` counts from it. `selection` applies the
    scenario's include/exclude selectors, label selectors as soon as each object is listed.
    `on_change` is called from this thread whenever a target's health changes. `rules` are
    the scenario's own health rules; `pod_policy` says when a pod's trouble is terminal (it
    overrides `crash_loop_restarts`). `on_excluded` is told of a target that label selectors
    leave out once its labels are known. The wait ends only once every healthy target has
    stayed healthy for `stable_for` seconds; one that has not by the deadline is not healthy.
    """
    started = time.monotonic()
    tracker = HealthTracker(
        targets=targets,
        crash_loop_restarts=crash_loop_restarts,
        selection=selection,
        on_change=on_change,
        rules=rules,
        pod_policy=pod_policy,
        on_excluded=on_excluded,
    )
    if not tracker.targets:
        return []
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    resources = ApiResources(api_client=api_client)
    watchers = [
        GroupWatcher(api_client=api_client, resources=resources, group=group, events=events)
        for group in watch_groups(tracker.targets)
    ]
    for watcher in watchers:
        watcher.start()
    try:
        while True:
            now = time.monotonic()
            # only once every target is decided: no scan of all targets on every event before
            settles_at = tracker.settles_at(stable_for) if tracker.all_decided else None
            if tracker.all_decided and (settles_at is None or settles_at <= now):
                break
            timeout = deadline.remaining()
            for wake in (tracker.next_recheck(), settles_at):
                if wake is not None:
                    timeout = min(timeout, max(0.0, wake - now))
            try:
                tracker.apply(events.get(timeout=timeout))
            except queue.Empty:
                if deadline.expired():
                    break
            tracker.tick(time.monotonic())
            if deadline.expired():
                break
    finally:
        ended = time.monotonic()
        for watcher in watchers:
            watcher.stop()
        for watcher in watchers:
            watcher.join(timeout=_STOP_JOIN_SECONDS)
    waited = ended - started
    warnings = _pod_warnings(api_client, tracker)
    return [_outcome(tracker, ref, clock_origin, waited, warnings, ended=ended,
                     stable_for=stable_for) for ref in tracker.targets]


def _pod_warnings(api_client: Any, tracker: HealthTracker) -> dict[tuple[str, str], str]:
    """The latest Warning event of each pod of a target the wait left undecided (a readiness
    probe's own message lives only there); read once, after the wait."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for ref in tracker.targets:
        if ref.namespace and not tracker.health(ref).decided:
            wanted[ref.namespace].update(tracker.pods_of(ref))
    return read_pod_warnings(api_client, wanted) if wanted else {}


def watch_groups(targets: Sequence[ObjectRef]) -> list[WatchGroup]:
    """The collections to watch: the targets' kinds per namespace, plus Pods in those namespaces."""
    namespaces: dict[tuple[str, str], set[str | None]] = defaultdict(set)
    for ref in targets:
        namespaces[(ref.api_version, ref.kind)].add(ref.namespace)
    pod_namespaces = {ref.namespace for ref in targets if ref.namespace}
    namespaces[("v1", "Pod")].update(pod_namespaces)
    groups = []
    for (api_version, kind), spread in sorted(namespaces.items()):
        if not spread:
            continue
        if None in spread or len(spread) > MAX_NAMESPACES_PER_KIND:
            groups.append(WatchGroup(api_version, kind, None))
        else:
            groups.extend(WatchGroup(api_version, kind, ns) for ns in sorted(spread, key=str))
    return groups


def _outcome(
    tracker: HealthTracker, ref: ObjectRef, clock_origin: float, waited: float,
    warnings: dict[tuple[str, str], str], *, ended: float, stable_for: float,
) -> WorkloadOutcome:
    health = tracker.health(ref)
    since = tracker.current_since(ref)
    notes = tuple(tracker.notes(ref, now=time.monotonic()))
    if health.state is HealthState.CURRENT and since is not None and ended - since < stable_for:
        return WorkloadOutcome(
            ref, False, None,
            f"not healthy after {format_duration(waited)}: {health.reason}, but only for the "
            f"last {format_duration(ended - since)} of the {format_duration(stable_for)} it "
            "must stay so (spec.workloads.stableFor)", health.rule, notes)
    if health.state is HealthState.CURRENT:
        ready_after = None if since is None else round(since - clock_origin, 6)
        return WorkloadOutcome(ref, True, ready_after, health.reason, health.rule, notes)
    if health.state is HealthState.FAILED:
        return WorkloadOutcome(ref, False, None, health.reason, health.rule, notes)
    events = [f"pod {pod}: {warnings[(ref.namespace, pod)]}" for pod in tracker.pods_of(ref)
              if ref.namespace and (ref.namespace, pod) in warnings][:2]
    reason = "; ".join([health.reason, *(e for e in events if e not in health.reason)])
    return WorkloadOutcome(
        ref, False, None, f"not healthy after {format_duration(waited)}: {reason}",
        health.rule, notes,
    )
