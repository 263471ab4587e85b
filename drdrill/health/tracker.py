"""What the waiting thread knows about every target, updated event by event; no I/O here.

Kept apart from the threads so that the bookkeeping (which pod failure belongs to which
workload, when a target became current, what a deletion during a disconnect means) can be
tested with plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from drdrill.health.custom_rules import NO_CUSTOM_RULES, RuleBook
from drdrill.health.group_watcher import (
    Event,
    GroupTrouble,
    Listed,
    ObjectGone,
    ObjectSeen,
    WatchGroup,
)
from drdrill.health.inventory import Selection
from drdrill.health.ownership import owner_candidates
from drdrill.health.pod_failures import PodJudge, PodPolicy
from drdrill.health.refs import ObjectRef
from drdrill.health.rules import assess
from drdrill.health.status import Health, HealthState

OnChange = Callable[[ObjectRef, Health], None]
# A target the scenario's label selectors leave out, once its labels are known.
OnExcluded = Callable[[ObjectRef], None]


@dataclass
class _TargetState:
    listed: bool = False
    seen: Health | None = None
    trouble: str = ""
    current_since: float | None = None
    pod_failures: dict[str, str] = field(default_factory=dict)
    # Why a pod is still waiting without having failed (scale-up, a Secret still missing...).
    pod_waiting: dict[str, str] = field(default_factory=dict)
    # When each kind of wait was first seen, for the report's notes.
    waits_seen: dict[str, float] = field(default_factory=dict)

    def effective(self) -> Health:
        if self.seen is None:
            if self.trouble:
                return Health.unknown(self.trouble).by("watch")
            return Health.unknown("not found" if self.listed else "not listed yet").by("watch")
        if self.seen.state is not HealthState.CURRENT and self.pod_failures:
            pod, reason = sorted(self.pod_failures.items())[0]
            return Health.failed(f"pod {pod}: {reason}").by("pods")
        if self.seen.state is not HealthState.CURRENT and self.pod_waiting:
            pod, reason = sorted(self.pod_waiting.items())[0]
            return Health.in_progress(f"{self.seen.reason}; pod {pod}: {reason}").by(
                self.seen.rule)
        return self.seen


class HealthTracker:
    def __init__(
        self,
        *,
        targets: Sequence[ObjectRef],
        crash_loop_restarts: int = 3,
        selection: Selection | None = None,
        on_change: OnChange | None = None,
        rules: RuleBook = NO_CUSTOM_RULES,
        pod_policy: PodPolicy | None = None,
        on_excluded: OnExcluded | None = None,
    ) -> None:
        self.targets = list(dict.fromkeys(targets))
        self._states = {ref: _TargetState() for ref in self.targets}
        self._by_identity: dict[tuple[str | None, str, str], list[ObjectRef]] = {}
        for ref in self.targets:
            self._by_identity.setdefault((ref.namespace, ref.kind, ref.name), []).append(ref)
        self._rules = rules
        self._judge = PodJudge(pod_policy or PodPolicy(crash_loop_restarts=crash_loop_restarts))
        # Pods whose verdict changes by itself at a known time, and their latest object.
        self._recheck: dict[tuple[str | None, str], tuple[float, dict[str, Any]]] = {}
        self._selection = selection
        self._on_change = on_change
        self._on_excluded = on_excluded
        self._pod_owners: dict[tuple[str | None, str], list[ObjectRef]] = {}
        self._undecided = set(self.targets)
        self._label_checked: set[ObjectRef] = set()

    @property
    def all_decided(self) -> bool:
        return not self._undecided

    def health(self, ref: ObjectRef) -> Health:
        return self._states[ref].effective()

    def current_since(self, ref: ObjectRef) -> float | None:
        return self._states[ref].current_since

    def settles_at(self, stable_for: float) -> float | None:
        """When every healthy target will have stayed healthy for `stable_for` seconds (a
        container that crashes a moment after it turned Ready makes its workload go back and
        start over); None while no target is healthy."""
        return max((since + stable_for for ref in self.targets
                    if (since := self._states[ref].current_since) is not None), default=None)

    def pods_of(self, ref: ObjectRef) -> list[str]:
        """The pods last seen running for `ref` (as its owner)."""
        return sorted(name for (_, name), owners in self._pod_owners.items() if ref in owners)

    def notes(self, ref: ObjectRef, *, now: float) -> list[str]:
        """What the wait for this target went through, for the report (e.g. a scale-up)."""
        state = self._states[ref]
        until = state.current_since if state.current_since is not None else now
        return [f"waited {max(0.0, until - since):.1f}s: {what}"
                for what, since in sorted(state.waits_seen.items(), key=lambda item: item[1])]

    def next_recheck(self) -> float | None:
        """The earliest monotonic time at which a verdict changes without a new event."""
        return min((at for at, _ in self._recheck.values()), default=None)

    def tick(self, now: float) -> None:
        """Re-judge the pods whose grace period has ended by `now`."""
        due = [(key, pod) for key, (at, pod) in self._recheck.items() if at <= now]
        for (namespace, name), pod in due:
            del self._recheck[(namespace, name)]
            self._pod_seen(pod, namespace, name, now)

    def apply(self, event: Event) -> None:
        if isinstance(event, ObjectSeen):
            self._seen(event.group, event.obj, event.received_at, event.status_subresource)
        elif isinstance(event, ObjectGone):
            self._gone(event.group, event.namespace, event.name, event.received_at)
        elif isinstance(event, Listed):
            self._listed(event)
        elif isinstance(event, GroupTrouble):
            message = event.message

            def note_trouble(state: _TargetState) -> None:
                state.trouble = message

            for ref in self._targets_in(event.group):
                self._update(ref, 0.0, note_trouble)

    def _targets_in(self, group: WatchGroup) -> list[ObjectRef]:
        return [
            ref
            for ref in self.targets
            if ref.api_version == group.api_version
            and ref.kind == group.kind
            and (group.namespace is None or ref.namespace == group.namespace)
        ]

    def _matching(self, group: WatchGroup, namespace: str | None, name: str) -> list[ObjectRef]:
        refs = self._by_identity.get((namespace, group.kind, name), ())
        return [ref for ref in refs if ref.api_version == group.api_version and ref in self._states]

    def _seen(self, group: WatchGroup, obj: dict[str, Any], received_at: float,
              event_status: bool | None = None) -> None:
        metadata = obj.get("metadata") or {}
        namespace, name = metadata.get("namespace") or None, str(metadata.get("name", ""))
        labels = metadata.get("labels") or {}
        refs = [ref for ref in self._matching(group, namespace, name) if self._keep(ref, labels)]
        if refs:
            health = assess(obj, rules=self._rules, status_subresource=event_status)

            def note_health(state: _TargetState) -> None:
                state.seen = health

            for ref in refs:
                self._update(ref, received_at, note_health)
        if group.kind == "Pod" and group.api_version == "v1":
            self._pod_seen(obj, namespace, name, received_at)

    def _keep(self, ref: ObjectRef, labels: dict[str, str]) -> bool:
        """Selectors with label selectors are applied the first time a target's labels show."""
        if self._selection is None or ref in self._label_checked:
            return True
        self._label_checked.add(ref)
        if self._selection.keeps(ref, labels):
            return True
        self.targets.remove(ref)
        del self._states[ref]
        self._undecided.discard(ref)
        if self._on_excluded is not None:
            self._on_excluded(ref)
        return False

    def _gone(self, group: WatchGroup, namespace: str | None, name: str, at: float) -> None:
        for ref in self._matching(group, namespace, name):
            self._update(ref, at, lambda s: setattr(s, "seen", None))
        if group.kind == "Pod" and group.api_version == "v1":
            self._pod_gone(namespace, name, at)

    def _listed(self, event: Listed) -> None:
        for ref in self._targets_in(event.group):
            present = (ref.namespace, ref.name) in event.present

            def mark(state: _TargetState, present: bool = present) -> None:
                state.listed, state.trouble = True, ""
                if not present:
                    state.seen = None

            self._update(ref, event.received_at, mark)
        if event.group.kind == "Pod" and event.group.api_version == "v1":
            for pod in [p for p in self._pod_owners if p not in event.present]:
                if event.group.namespace is None or pod[0] == event.group.namespace:
                    self._pod_gone(pod[0], pod[1], event.received_at)

    def _pod_seen(self, pod: dict[str, Any], namespace: str | None, name: str, at: float) -> None:
        owners = [
            ref
            for kind, owner in owner_candidates(pod)
            for ref in self._by_identity.get((namespace, kind, owner), ())
            if ref in self._states
        ]
        self._drop_pod(namespace, name, at)
        if not owners:
            return
        verdict = self._judge.judge(pod, now=at)
        if verdict.recheck_at is not None:
            self._recheck[(namespace, name)] = (verdict.recheck_at, pod)
        else:
            self._recheck.pop((namespace, name), None)
        self._pod_owners[(namespace, name)] = owners
        for ref in owners:
            self._update(ref, at, lambda s: _set_pod_verdict(
                s, name, verdict.failure, verdict.waiting, at))

    def _pod_gone(self, namespace: str | None, name: str, at: float) -> None:
        self._judge.forget(namespace, name)
        self._recheck.pop((namespace, name), None)
        self._drop_pod(namespace, name, at)

    def _drop_pod(self, namespace: str | None, name: str, at: float) -> None:
        for ref in self._pod_owners.pop((namespace, name), ()):
            if ref in self._states:
                self._update(ref, at, lambda s: _set_pod_verdict(s, name, None, None, at))

    def _update(self, ref: ObjectRef, at: float, change: Callable[[_TargetState], None]) -> None:
        state = self._states[ref]
        before = state.effective()
        change(state)
        after = state.effective()
        if after == before:
            return
        if after.state is HealthState.CURRENT and before.state is not HealthState.CURRENT:
            state.current_since = at
        elif after.state is not HealthState.CURRENT:
            state.current_since = None
        if after.decided:
            self._undecided.discard(ref)
        else:
            self._undecided.add(ref)
        if self._on_change is not None:
            self._on_change(ref, after)


def _set_pod_verdict(
    state: _TargetState, pod: str, failure: str | None, waiting: str | None, at: float
) -> None:
    if failure is None:
        state.pod_failures.pop(pod, None)
    else:
        state.pod_failures[pod] = failure
    if waiting is None:
        state.pod_waiting.pop(pod, None)
    else:
        state.pod_waiting[pod] = waiting
        if "scale-up" in waiting:
            state.waits_seen.setdefault("for an autoscaled node pool to scale up", at)
