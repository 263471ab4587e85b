"""Everything Git applied: the transitive closure of Flux's inventories, with the chain of each.

The root Kustomization's inventory lists what it applied; among that are child Kustomizations
(each with its own inventory once it has applied) and HelmReleases (whose objects are in the
Helm release helm-controller stored). A drill that read only the root's inventory would never
look at the Deployments of an `apps` Kustomization or a Helm chart: a false PASS.

`expand_applied_tree` watches Kustomizations and HelmReleases (one cluster-wide watch per
kind, plus HelmCharts once a HelmRelease is in the tree; never one poll per object), and
expands each layer as soon as it is Ready at its current generation. It ends when every layer
is ready, has failed (Flux's or helm-controller's message), or waits on a failed dependency,
or at the deadline. For each layer it records when it became ready, so the report shows the
dependsOn order as it happened.

A HelmRelease's objects come from the release helm-controller stored (the Secret
`sh.helm.release.v1.<release>.v<version>` in the storage namespace, one GET per release):
the rendered manifest names every object, and helm-controller labels each of them
`helm.toolkit.fluxcd.io/name` / `namespace`. The Secret's content is decoded in memory only.
"""

from __future__ import annotations

import base64
import gzip
import json
import queue
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from drdrill.health.discovery import ApiResources, KindNotServed
from drdrill.health.flux_rules import flux_object
from drdrill.health.group_watcher import Event, GroupWatcher, ObjectSeen, WatchGroup
from drdrill.health.inventory import refs_from_flux_inventory
from drdrill.health.refs import ObjectRef
from drdrill.health.status import HealthState, conditions, str_field
from drdrill.health.status import field as status_field
from drdrill.timing import Deadline

KUSTOMIZATION = WatchGroup("kustomize.toolkit.fluxcd.io/v1", "Kustomization", None)
HELMRELEASE = WatchGroup("helm.toolkit.fluxcd.io/v2", "HelmRelease", None)
HELMCHART = WatchGroup("source.toolkit.fluxcd.io/v1", "HelmChart", None)
_LAYER_KINDS = {("kustomize.toolkit.fluxcd.io", "Kustomization"),
                ("helm.toolkit.fluxcd.io", "HelmRelease")}
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?$")
_STOP_JOIN_SECONDS = 2.0


def is_layer(ref: ObjectRef) -> bool:
    return (ref.group, ref.kind) in _LAYER_KINDS


def chain_text(chain: Iterable[ObjectRef]) -> list[str]:
    return [ref.describe() for ref in chain]


@dataclass(frozen=True)
class AppliedObject:
    ref: ObjectRef
    # The layers that applied it, root first (the object itself not included).
    appliers: tuple[ObjectRef, ...]

    @property
    def chain(self) -> list[str]:
        return chain_text((*self.appliers, self.ref))


@dataclass(frozen=True)
class Layer:
    ref: ObjectRef
    appliers: tuple[ObjectRef, ...]
    depends_on: tuple[str, ...]
    ready_at: float | None
    problem: str | None
    # Waits for a dependency that failed: it will not become ready in this drill.
    blocked: bool = False
    # The last failure its controller reported (e.g. a Helm install that failed and is being
    # retried): not final, but the best answer to "why is it not ready".
    last_failure: str | None = None

    @property
    def chain(self) -> list[str]:
        return chain_text((*self.appliers, self.ref))


@dataclass(frozen=True)
class AppliedTree:
    objects: tuple[AppliedObject, ...]
    layers: tuple[Layer, ...]

    def refs(self) -> list[ObjectRef]:
        return [o.ref for o in self.objects]

    def chain(self, ref: ObjectRef) -> list[str]:
        found = next((o for o in self.objects if o.ref == ref), None)
        return found.chain if found is not None else [ref.describe()]

    def stopped(self) -> list[Layer]:
        """Layers that failed or wait on a failed dependency: their verdict is final."""
        return [layer for layer in self.layers if layer.problem is not None]

    def last_failure(self, ref: ObjectRef) -> str | None:
        found = next((layer for layer in self.layers if layer.ref == ref), None)
        return found.last_failure if found is not None and found.ready_at is None else None


# Reads the objects of a HelmRelease's current release; None while it cannot be read yet.
ReleaseReader = Callable[[Mapping[str, Any]], "list[ObjectRef] | None"]


@dataclass
class _LayerState:
    appliers: tuple[ObjectRef, ...]
    ready_at: float | None = None
    problem: str | None = None
    expanded: bool = False
    waiting: str = "not seen yet"
    last_failure: str | None = None


class TreeTracker:
    """The closure as known so far, updated object by object; no I/O (the release reader is
    given), so it is tested with plain dicts."""

    def __init__(self, *, root: Mapping[str, Any], root_ready_at: float,
                 read_release: ReleaseReader) -> None:
        self._read_release = read_release
        self._objects: dict[ObjectRef, AppliedObject] = {}
        self._layers: dict[ObjectRef, _LayerState] = {}
        self._latest: dict[ObjectRef, Mapping[str, Any]] = {}
        root_ref = _ref_of(root)
        self._root = root_ref
        self._layers[root_ref] = _LayerState(appliers=(), ready_at=root_ready_at)
        self._latest[root_ref] = root
        self._expand(root_ref, root)

    @property
    def has_helm(self) -> bool:
        return any(ref.kind == "HelmRelease" for ref in self._layers)

    def observe(self, obj: Mapping[str, Any], at: float) -> None:
        ref = _ref_of(obj)
        self._latest[ref] = obj
        if ref.kind == "HelmChart":
            for layer_ref, state in self._layers.items():
                if layer_ref.kind == "HelmRelease" and state.ready_at is None:
                    self._judge(layer_ref, at)
            return
        if ref in self._layers:
            self._judge(ref, at)

    def retry_pending(self, at: float) -> None:
        """Ready HelmReleases whose release could not be read yet are read again."""
        for ref, state in list(self._layers.items()):
            if state.ready_at is not None and not state.expanded and ref in self._latest:
                self._expand(ref, self._latest[ref])

    def _judge(self, ref: ObjectRef, at: float) -> None:
        state = self._layers[ref]
        obj = self._latest.get(ref)
        if obj is None or ref == self._root:
            return
        health = flux_object(obj)
        if health.state is HealthState.CURRENT:
            problem = _chart_version_problem(obj) if ref.kind == "HelmRelease" else None
            if problem is not None:
                state.problem = problem
                return
            if state.ready_at is None:
                state.ready_at = at
            state.problem = None
            self._expand(ref, obj)
            return
        state.ready_at = None
        ready = conditions(obj).get("Ready")
        if ready is not None and ready.is_false and ready.reason.endswith("Failed") and (
            ready.observed_generation in (None, status_field(obj, "metadata.generation"))
        ):
            state.last_failure = f"{ready.reason}: {ready.describe()}"
        if health.state is HealthState.FAILED:
            state.problem = health.reason
            return
        state.problem = self._chart_problem(obj) if ref.kind == "HelmRelease" else None
        state.waiting = health.reason

    def _chart_problem(self, release: Mapping[str, Any]) -> str | None:
        """A HelmRelease waits on its HelmChart; a chart that failed for good fails it, with
        helm-controller's message (which quotes the chart's)."""
        ready = conditions(release).get("Ready")
        chart_name = str_field(release, "status.helmChart")
        if ready is None or ready.reason != "SourceNotReady" or "/" not in chart_name:
            return None
        namespace, _, name = chart_name.partition("/")
        chart = self._latest.get(ObjectRef(HELMCHART.api_version, "HelmChart", namespace, name))
        if chart is None:
            return None
        verdict = flux_object(chart)
        if verdict.state is not HealthState.FAILED:
            return None
        problem = f"HelmRelease {ready.reason}: {ready.message}"
        chart_message = conditions(chart).get("Ready")
        detail = chart_message.message if chart_message is not None else verdict.reason
        if detail and detail not in problem:
            problem += f" (HelmChart {namespace}/{name}: {detail})"
        return problem

    def _expand(self, ref: ObjectRef, obj: Mapping[str, Any]) -> None:
        state = self._layers[ref]
        if state.expanded:
            return
        if ref.kind == "HelmRelease":
            children = self._read_release(obj)
            if children is None:
                return
        else:
            children = refs_from_flux_inventory(
                status_field(obj, "status.inventory.entries") or [])
        state.expanded = True
        appliers = (*state.appliers, ref)
        for child in children:
            if child in self._objects or child == self._root:
                continue
            self._objects[child] = AppliedObject(child, appliers)
            if is_layer(child) and child not in self._layers:
                self._layers[child] = _LayerState(appliers=appliers)
                if child in self._latest:
                    self._judge(child, time.monotonic())

    def settled(self) -> bool:
        return all((state.ready_at is not None and state.expanded) or state.problem is not None
                   or self._blocked(ref) for ref, state in self._layers.items())

    def _blocked(self, ref: ObjectRef, seen: frozenset[ObjectRef] = frozenset()) -> bool:
        """Waits on a dependsOn entry that failed (or is itself blocked)."""
        obj = self._latest.get(ref)
        if obj is None or ref in seen:
            return False
        for dependency in _depends_on(obj):
            state = self._layers.get(dependency)
            if state is not None and (state.problem is not None
                                      or self._blocked(dependency, seen | {ref})):
                return True
        return False

    def tree(self) -> AppliedTree:
        layers = []
        for ref, state in self._layers.items():
            obj = self._latest.get(ref) or {}
            problem = state.problem
            blocked = False
            if problem is None and state.ready_at is None and self._blocked(ref):
                blocked = True
                names = ", ".join(d.describe() for d in _depends_on(obj))
                problem = f"waits for a dependency that failed ({names})"
            layers.append(Layer(
                ref=ref, appliers=state.appliers,
                depends_on=tuple(d.describe() for d in _depends_on(obj)),
                ready_at=state.ready_at, problem=problem, blocked=blocked,
                last_failure=state.last_failure,
            ))
        return AppliedTree(objects=tuple(self._objects.values()), layers=tuple(layers))


def _ref_of(obj: Mapping[str, Any]) -> ObjectRef:
    metadata = obj.get("metadata") or {}
    return ObjectRef(str(obj.get("apiVersion", "")), str(obj.get("kind", "")),
                     metadata.get("namespace") or None, str(metadata.get("name", "")))


def _depends_on(obj: Mapping[str, Any]) -> list[ObjectRef]:
    ref = _ref_of(obj)
    found = []
    for entry in status_field(obj, "spec.dependsOn") or []:
        if isinstance(entry, Mapping) and entry.get("name"):
            found.append(ObjectRef(ref.api_version, ref.kind,
                                   str(entry.get("namespace") or ref.namespace), entry["name"]))
    return found


def _chart_version_problem(release: Mapping[str, Any]) -> str | None:
    """Ready at another chart version than Git asks for (an exact version only)."""
    wanted = str(status_field(release, "spec.chart.spec.version") or "")
    history = status_field(release, "status.history") or []
    if not _EXACT_VERSION.match(wanted) or not history or not isinstance(history[0], Mapping):
        return None
    installed = str(history[0].get("chartVersion") or "")
    if installed and installed.lstrip("v") != wanted.lstrip("v"):
        return (f"HelmRelease is Ready at chart version {installed}, but Git asks for "
                f"{wanted}")
    return None


def release_objects(manifest: str, *, namespace: str, namespaced: Callable[[str, str], bool],
                    ) -> list[ObjectRef]:
    """The objects a rendered Helm manifest names; namespaced kinds default to `namespace`."""
    refs = []
    for doc in yaml.safe_load_all(manifest):
        if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion"):
            continue
        metadata = doc.get("metadata") or {}
        api_version, kind = str(doc["apiVersion"]), str(doc["kind"])
        if not metadata.get("name"):
            continue
        scoped = namespaced(api_version, kind)
        refs.append(ObjectRef(api_version, kind,
                              (metadata.get("namespace") or namespace) if scoped else None,
                              str(metadata["name"])))
    return refs


def decode_release(data: str) -> dict[str, Any]:
    """Helm's storage format: base64 (Secret) of base64 of gzipped JSON."""
    raw = base64.b64decode(base64.b64decode(data))
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    decoded: dict[str, Any] = json.loads(raw)
    return decoded


def stored_release_reader(*, api_client: Any, resources: ApiResources) -> ReleaseReader:
    def namespaced(api_version: str, kind: str) -> bool:
        try:
            return resources.resolve(api_version=api_version, kind=kind).namespaced
        except KindNotServed:
            return True

    def read(release: Mapping[str, Any]) -> list[ObjectRef] | None:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        history = status_field(release, "status.history") or []
        if not history or not isinstance(history[0], Mapping):
            return None
        latest = history[0]
        storage = (str_field(release, "status.storageNamespace")
                   or str_field(release, "metadata.namespace"))
        secret_name = f"sh.helm.release.v1.{latest.get('name')}.v{latest.get('version')}"
        try:
            secret = client.CoreV1Api(api_client).read_namespaced_secret(
                secret_name, storage, _request_timeout=15)
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        stored = decode_release((secret.data or {}).get("release", ""))
        return release_objects(str(stored.get("manifest") or ""),
                               namespace=str(latest.get("namespace") or storage),
                               namespaced=namespaced)

    return read


@dataclass
class _Watches:
    api_client: Any
    resources: ApiResources
    events: queue.SimpleQueue[Event] = field(default_factory=queue.SimpleQueue)
    running: dict[WatchGroup, GroupWatcher] = field(default_factory=dict)

    def ensure(self, group: WatchGroup) -> None:
        if group not in self.running:
            watcher = GroupWatcher(api_client=self.api_client, resources=self.resources,
                                   group=group, events=self.events)
            self.running[group] = watcher
            watcher.start()

    def stop(self) -> None:
        for watcher in self.running.values():
            watcher.stop()
        for watcher in self.running.values():
            watcher.join(timeout=_STOP_JOIN_SECONDS)


def expand_applied_tree(
    *, api_client: Any, root: Mapping[str, Any], root_ready_at: float, deadline: Deadline,
    read_release: ReleaseReader | None = None,
) -> AppliedTree:
    """Watch the layers under `root` (a Ready Kustomization as the API returned it) until the
    closure is settled or `deadline`; what is known then is returned either way."""
    resources = ApiResources(api_client=api_client)
    reader = read_release or stored_release_reader(api_client=api_client, resources=resources)
    tracker = TreeTracker(root=root, root_ready_at=root_ready_at, read_release=reader)
    if tracker.settled():
        return tracker.tree()
    watches = _Watches(api_client=api_client, resources=resources)
    try:
        watches.ensure(KUSTOMIZATION)
        while not tracker.settled() and not deadline.expired():
            if tracker.has_helm:
                watches.ensure(HELMRELEASE)
                watches.ensure(HELMCHART)
            try:
                event = watches.events.get(timeout=min(1.0, max(0.01, deadline.remaining())))
            except queue.Empty:
                tracker.retry_pending(time.monotonic())
                continue
            if isinstance(event, ObjectSeen):
                tracker.observe(event.obj, event.received_at)
    finally:
        watches.stop()
    return tracker.tree()
