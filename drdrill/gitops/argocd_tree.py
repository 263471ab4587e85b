"""Everything Argo CD applied: the root Application's `status.resources`, recursively through
app-of-apps, each object with the chain of Applications that applied it.

An app of apps' root lists its child Applications among its resources, and Argo CD does not
fold a child's health into its parent's, so the root is Healthy as soon as the children exist.
A drill that stopped there would never look at the children's Deployments: a false PASS. Each
child is therefore a layer, like a Flux Kustomization: once it is Synced and Healthy its own
`status.resources` are added (and its children's, to any depth); one that fails (Degraded, a
failed sync, an error condition) stops with Argo CD's message. Applications an ApplicationSet
in the tree generated (their owner reference names it) are its children, adopted once the
ApplicationSet controller reports `ResourcesUpToDate` (before that, an ApplicationSet whose
Applications do not exist yet would look like one that generates none); its `ErrorOccurred`
condition stops the layer with the controller's message.

`ApplicationTracker` holds the closure and does no I/O, so it is tested with plain dicts;
`expand_application_tree` feeds it one cluster-wide LIST of Applications per second (and of
ApplicationSets while one in the tree is not settled) until every layer is settled or the
deadline passes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drdrill.gitops.argocd import APPLICATION, APPLICATIONSET, application_state
from drdrill.gitops.objectwatch import WatchedObject
from drdrill.timing import Deadline

APPLICATION_KIND = ("argoproj.io", "Application")
APPLICATIONSET_KIND = ("argoproj.io", "ApplicationSet")


@dataclass(frozen=True)
class ArgoRef:
    """One object as Argo CD names it in `status.resources`."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""

    def describe(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass(frozen=True)
class ArgoApplied:
    ref: ArgoRef
    appliers: tuple[ArgoRef, ...]  # Applications (and ApplicationSets), root first


@dataclass(frozen=True)
class ArgoLayer:
    ref: ArgoRef
    appliers: tuple[ArgoRef, ...]
    ready_at: float | None
    problem: str | None


@dataclass(frozen=True)
class ArgoTree:
    objects: tuple[ArgoApplied, ...]
    layers: tuple[ArgoLayer, ...]


def ref_of(obj: Mapping[str, Any]) -> ArgoRef:
    metadata = obj.get("metadata") or {}
    return ArgoRef(str(obj.get("apiVersion") or f"{APPLICATION.group}/{APPLICATION.version}"),
                   str(obj.get("kind") or "Application"), metadata.get("namespace") or None,
                   str(metadata.get("name", "")))


def resources_of(application: Mapping[str, Any]) -> list[ArgoRef]:
    """`status.resources` as refs, in Argo CD's order."""
    refs = []
    for resource in (application.get("status") or {}).get("resources") or []:
        group, version = str(resource.get("group") or ""), str(resource.get("version") or "")
        kind, name = resource.get("kind"), resource.get("name")
        if not version or not isinstance(kind, str) or not isinstance(name, str):
            continue
        refs.append(ArgoRef(f"{group}/{version}" if group else version, kind,
                            str(resource.get("namespace") or "") or None, name))
    return refs


@dataclass
class _LayerState:
    appliers: tuple[ArgoRef, ...]
    ready_at: float | None = None
    problem: str | None = None
    expanded: bool = False


@dataclass
class ApplicationTracker:
    """The closure as known so far, updated Application by Application."""

    root: Mapping[str, Any]
    root_ready_at: float
    _objects: dict[ArgoRef, ArgoApplied] = field(default_factory=dict)
    _layers: dict[ArgoRef, _LayerState] = field(default_factory=dict)
    _latest: dict[ArgoRef, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        root_ref = ref_of(self.root)
        self._root = root_ref
        self._layers[root_ref] = _LayerState(appliers=(), ready_at=self.root_ready_at)
        self._latest[root_ref] = self.root
        self._expand(root_ref, self.root)

    def observe(self, applications: Iterable[Mapping[str, Any]], at: float,
                appsets: Iterable[Mapping[str, Any]] = ()) -> None:
        """A fresh look at every Application in the cluster, and at the ApplicationSets
        listed just before them."""
        applications = list(applications)
        for obj in (*appsets, *applications):
            self._latest[self._known(ref_of(obj))] = obj
        for appset, state in list(self._layers.items()):
            if (appset.group, appset.kind) != APPLICATIONSET_KIND or state.expanded:
                continue
            self._judge_appset(appset, at)
            if state.ready_at is not None:
                self._adopt_generated(appset, applications)
                state.expanded = True
        for layer in list(self._layers):
            if (layer.group, layer.kind) == APPLICATION_KIND and layer != self._root:
                self._judge(layer, at)

    def _known(self, ref: ArgoRef) -> ArgoRef:
        """The ref by which the tree knows an Application (the version in its parent's list)."""
        return next((known for known in self._layers
                     if (known.group, known.kind, known.namespace, known.name)
                     == (ref.group, ref.kind, ref.namespace, ref.name)), ref)

    def _adopt_generated(self, appset: ArgoRef, applications: Iterable[Mapping[str, Any]]) -> None:
        appliers = (*self._layers[appset].appliers, appset)
        for app in applications:
            owners = (app.get("metadata") or {}).get("ownerReferences") or []
            if any(o.get("kind") == "ApplicationSet" and o.get("name") == appset.name
                   for o in owners):
                ref = ref_of(app)
                if ref not in self._objects and ref not in self._layers:
                    self._objects[ref] = ArgoApplied(ref, appliers)
                    self._layers[ref] = _LayerState(appliers=appliers)
                    self._latest[ref] = app

    def waits_for_appsets(self) -> bool:
        return any((ref.group, ref.kind) == APPLICATIONSET_KIND and not state.expanded
                   and state.problem is None for ref, state in self._layers.items())

    def _judge_appset(self, ref: ArgoRef, at: float) -> None:
        state, obj = self._layers[ref], self._latest.get(ref)
        if obj is None or state.problem is not None:
            return
        conditions = {str(c.get("type")): c for c in
                      (obj.get("status") or {}).get("conditions") or [] if isinstance(c, dict)}
        error = conditions.get("ErrorOccurred")
        if error is not None and error.get("status") == "True":
            state.problem = (f"ApplicationSet {error.get('reason') or 'ErrorOccurred'}: "
                             f"{error.get('message') or ''}").rstrip(": ")
        elif (conditions.get("ResourcesUpToDate") or {}).get("status") == "True":
            state.ready_at = at

    def _judge(self, ref: ArgoRef, at: float) -> None:
        state = self._layers[ref]
        obj = self._latest.get(ref)
        if obj is None or state.problem is not None:
            return
        verdict = application_state(obj, expected_commit=None)
        if verdict.failure:
            state.problem = verdict.failure
        elif verdict.ready:
            if state.ready_at is None:
                state.ready_at = at
            self._expand(ref, obj)
        elif verdict.error_condition is not None and _reconciled(obj):
            state.problem = f"Application {verdict.error_condition}"

    def _expand(self, ref: ArgoRef, obj: Mapping[str, Any]) -> None:
        state = self._layers[ref]
        if state.expanded:
            return
        state.expanded = True
        appliers = (*state.appliers, ref)
        for child in resources_of(obj):
            if child in self._objects or child == self._root:
                continue
            self._objects[child] = ArgoApplied(child, appliers)
            if (child.group, child.kind) == APPLICATION_KIND:
                self._layers[child] = _LayerState(appliers=appliers)
            elif (child.group, child.kind) == APPLICATIONSET_KIND:
                # Its Applications (they carry its owner reference) are adopted once its
                # controller says they are up to date.
                self._layers[child] = _LayerState(appliers=appliers)

    def settled(self) -> bool:
        return all((state.ready_at is not None and state.expanded) or state.problem is not None
                   for state in self._layers.values())

    def waiting(self) -> list[str]:
        return [ref.describe() for ref, state in self._layers.items()
                if state.problem is None and not (state.ready_at is not None
                                                  and state.expanded)]

    def tree(self) -> ArgoTree:
        layers = tuple(ArgoLayer(ref, state.appliers, state.ready_at, state.problem)
                       for ref, state in self._layers.items())
        return ArgoTree(objects=tuple(self._objects.values()), layers=layers)


def _reconciled(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("status") or {}).get("reconciledAt"))


def expand_application_tree(*, api_client: Any, root: Mapping[str, Any], root_ready_at: float,
                            deadline: Deadline, interval: float = 1.0) -> ArgoTree:
    """Follow the root Application's resources through child Applications until every layer
    is ready or failed, or until the deadline (the unsettled ones are then left as they are,
    and the workloads wait judges them)."""
    from kubernetes import client

    tracker = ApplicationTracker(root=root, root_ready_at=root_ready_at)
    custom = client.CustomObjectsApi(api_client)
    def items(kind: WatchedObject) -> list[Any] | None:
        try:
            listed = custom.list_cluster_custom_object(
                kind.group, kind.version, kind.plural,
                _request_timeout=min(15.0, max(1.0, deadline.remaining())))
        except Exception:  # a failed look is retried at the next interval
            return None
        return list(listed.get("items") or [])

    while not tracker.settled() and not deadline.expired():
        # ApplicationSets first: one that says its Applications are up to date was written
        # after they were, so the Applications listed next include them.
        appsets = items(APPLICATIONSET) if tracker.waits_for_appsets() else []
        applications = items(APPLICATION) if appsets is not None else None
        if applications is not None:
            tracker.observe(applications, time.monotonic(), appsets=appsets or ())
        if not tracker.settled():
            time.sleep(min(interval, max(0.0, deadline.remaining())))
    return tracker.tree()
