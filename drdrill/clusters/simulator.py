"""A simulated operator for the kwok provider: it writes the status of ML custom resources.

kwok's own Stages cannot do this reliably: kwok v0.8 starts the controller of a custom
resource's Stage only if the CRD's GroupVersion is already published under /openapi/v3, tries
once, and never again; the CRDs of a drill come from Git, seconds later. So drdrill runs the
controller part itself, in-process, for the whole drill:

* it lists and watches CustomResourceDefinitions (resuming after disconnects and 410 Gone, as
  `health.group_watcher` does), and as soon as the CRD of a simulated kind is Established, at
  any moment of the drill, it watches that kind's objects in all namespaces;
* each object gets, after the scenario's readiness delay (plus jitter), the status that
  `simulated_kinds` decides: ready, the failure path, or stalled for lack of capacity. It goes
  through the status subresource when the CRD has one, else into the object itself;
* it writes once per spec and outcome, so its own writes never start it again, and it leaves
  alone an object whose status another manager wrote through the status subresource (a real
  controller).

Every object it wrote a status for is recorded, so the report can say what was simulated.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import queue
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from drdrill.clusters.simulated_kinds import (
    SIMULATED_KINDS,
    Outcome,
    SimulatedKind,
    build_status,
    decide,
)
from drdrill.health.discovery import ApiResources, KindNotServed
from drdrill.health.group_watcher import (
    Event,
    GroupTrouble,
    GroupWatcher,
    Listed,
    ObjectGone,
    ObjectSeen,
    WatchGroup,
)
from drdrill.kubeapi import is_transient_api_error
from drdrill.results import SimulatedResource, Simulation
from drdrill.scenario.models import NodePool

log = structlog.get_logger(__name__)

FIELD_MANAGER = "drdrill-kwok-simulator"
CRDS = WatchGroup("apiextensions.k8s.io/v1", "CustomResourceDefinition", None)
# Put on the queue by `stop` to wake the loop; never watched.
_WAKE = WatchGroup("", "", None)
RETRY_SECONDS = 1.0
STOP_JOIN_SECONDS = 3.0
REQUEST_TIMEOUT = (5.0, 30.0)


@dataclass(frozen=True)
class ServedKind:
    """A simulated kind whose CRD is Established: which version to use and how to write."""

    simulated: SimulatedKind
    api_version: str
    status_subresource: bool

    @property
    def group(self) -> WatchGroup:
        return WatchGroup(self.api_version, self.simulated.kind, None)


def served_kind(crd: Mapping[str, Any]) -> ServedKind | None:
    """The simulated kind a CRD serves, once it is Established; None for any other CRD."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    simulated = SIMULATED_KINDS.get((str(spec.get("group", "")), str(names.get("kind", ""))))
    if simulated is None or (crd.get("metadata") or {}).get("deletionTimestamp"):
        return None
    established = any(
        isinstance(c, Mapping) and c.get("type") == "Established" and c.get("status") == "True"
        for c in (crd.get("status") or {}).get("conditions") or ()
    )
    versions = [v for v in spec.get("versions") or () if isinstance(v, Mapping) and v.get("served")]
    if not established or not versions:
        return None
    # The storage version when it is served: no conversion on the way in or out.
    version = next((v for v in versions if v.get("storage")), versions[0])
    subresources = version.get("subresources") or {}
    return ServedKind(
        simulated=simulated,
        api_version=f"{spec['group']}/{version['name']}",
        status_subresource=isinstance(subresources, Mapping) and "status" in subresources,
    )


def content_digest(obj: Mapping[str, Any]) -> str:
    """What a controller reacts to: everything but metadata and status.

    Not `metadata.generation`: for a kind without a status subresource, writing its status
    bumps the generation, and a key on it would make every write call for the next one.
    """
    content = {k: v for k, v in obj.items()
               if k not in ("metadata", "status", "apiVersion", "kind")}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def foreign_status_manager(obj: Mapping[str, Any]) -> str | None:
    """The manager other than drdrill that wrote this object's status subresource, if any."""
    for entry in (obj.get("metadata") or {}).get("managedFields") or ():
        if (isinstance(entry, Mapping) and entry.get("subresource") == "status"
                and entry.get("manager") != FIELD_MANAGER):
            return str(entry.get("manager") or "unknown")
    return None


# (uid, content digest, outcome): a status is written once per key.
WriteKey = tuple[str, str, Outcome]
ObjectKey = tuple[str, str, str | None, str]  # group, kind, namespace, name


@dataclass
class _Tracked:
    served: ServedKind
    obj: dict[str, Any]
    pending: WriteKey | None = None
    written: WriteKey | None = None
    # Set when another manager wrote the status: a real controller runs, drdrill stays out.
    foreign: str | None = None


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    key: ObjectKey = field(compare=False)
    write: WriteKey = field(compare=False)


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _object_key(served: ServedKind, obj: Mapping[str, Any]) -> ObjectKey:
    metadata = obj.get("metadata") or {}
    return (served.simulated.group, served.simulated.kind, metadata.get("namespace") or None,
            str(metadata.get("name", "")))


class KwokSimulator:
    """The running simulation of one drill; `stop` ends it, `snapshot` says what it did."""

    def __init__(
        self,
        *,
        api_client: Any,
        pools: tuple[NodePool, ...],
        readiness_delay: float,
        readiness_jitter: float = 0.0,
        description: str = "",
        owns_client: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self._api = api_client
        self._pools = pools
        self._delay = readiness_delay
        self._jitter = readiness_jitter
        self._description = description
        self._owns_client = owns_client
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._resources = ApiResources(api_client=api_client)
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kwok-simulator", daemon=True)
        # Owned by the loop thread.
        self._watchers: dict[tuple[str, str], tuple[ServedKind, GroupWatcher]] = {}
        self._crds: dict[str, tuple[str, str]] = {}
        self._tracked: dict[ObjectKey, _Tracked] = {}
        self._due: list[_Due] = []
        self._seq = 0
        self._crd_watcher = GroupWatcher(api_client=api_client, resources=self._resources,
                                         group=CRDS, events=self._events)
        # Read by `snapshot` from other threads.
        self._lock = threading.Lock()
        self._records: dict[ObjectKey, SimulatedResource] = {}
        self._stopped = False

    # ---- the handle the cluster phase holds -------------------------------------------------

    def start(self) -> None:
        self._crd_watcher.start()
        self._thread.start()
        log.debug("simulated operator started", kinds=len(SIMULATED_KINDS))

    def stop(self) -> None:
        """Stop watching and writing; returns within a few seconds. Safe to call twice."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._stopping.set()
        self._events.put(GroupTrouble(_WAKE, "stopping"))
        end = time.monotonic() + STOP_JOIN_SECONDS
        if self._thread.is_alive():
            self._thread.join(timeout=max(0.1, end - time.monotonic()))
        watchers = [self._crd_watcher, *(w for _, w in list(self._watchers.values()))]
        for watcher in watchers:
            watcher.stop()
        for watcher in watchers:
            if watcher.is_alive():
                watcher.join(timeout=max(0.1, end - time.monotonic()))
        if self._owns_client:
            self._api.close()
        log.debug("simulated operator stopped", resources=len(self._records))

    def snapshot(self) -> Simulation:
        with self._lock:
            records = sorted(self._records.values(),
                             key=lambda r: (r.kind, r.namespace or "", r.name))
        return Simulation(pods=True, custom_resources=records, description=self._description)

    # ---- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            wait = self._due[0].at - time.monotonic() if self._due else None
            try:
                event = self._events.get(timeout=None if wait is None else max(0.0, wait))
            except queue.Empty:
                event = None
            if self._stopping.is_set():
                return
            try:
                if event is not None:
                    self._apply(event)
                self._write_due()
            except Exception:
                # One bad object must not end the simulation of every other one.
                log.warning("simulated operator: unexpected error", exc_info=True)

    def _apply(self, event: Event) -> None:
        if event.group == CRDS:
            self._crd_event(event)
            return
        active = self._watchers.get((event.group.api_version.rpartition("/")[0],
                                     event.group.kind))
        if active is None or active[0].group != event.group:
            return  # from a watcher stopped since
        served = active[0]
        if isinstance(event, ObjectSeen):
            self._object_seen(served, event.obj, event.received_at)
        elif isinstance(event, ObjectGone):
            self._tracked.pop((served.simulated.group, served.simulated.kind, event.namespace,
                               event.name), None)
        elif isinstance(event, Listed):
            for key in [k for k, t in self._tracked.items()
                        if t.served == served and (k[2], k[3]) not in event.present]:
                del self._tracked[key]
        elif isinstance(event, GroupTrouble):
            log.debug("simulated operator: watch trouble", message=event.message)

    # ---- CRDs -------------------------------------------------------------------------------

    def _crd_event(self, event: Event) -> None:
        if isinstance(event, ObjectSeen):
            name = str((event.obj.get("metadata") or {}).get("name", ""))
            served = served_kind(event.obj)
            if served is not None:
                self._crds[name] = (served.simulated.group, served.simulated.kind)
                self._serve(served)
            elif name in self._crds:
                self._unserve(self._crds.pop(name))
        elif isinstance(event, ObjectGone):
            if event.name in self._crds:
                self._unserve(self._crds.pop(event.name))
        elif isinstance(event, Listed):
            for name in [n for n in self._crds if (None, n) not in event.present]:
                self._unserve(self._crds.pop(name))
        elif isinstance(event, GroupTrouble):
            log.debug("simulated operator: CRD watch trouble", message=event.message)

    def _serve(self, served: ServedKind) -> None:
        kind = (served.simulated.group, served.simulated.kind)
        running = self._watchers.get(kind)
        if running is not None and running[0] == served:
            return
        if running is not None and running[0].group == served.group:
            # Same collection, only how to write changed (a status subresource was added).
            self._watchers[kind] = (served, running[1])
            for tracked in self._tracked.values():
                if tracked.served == running[0]:
                    tracked.served = served
            return
        if running is not None:
            self._unserve(kind)
        watcher = GroupWatcher(api_client=self._api, resources=self._resources,
                               group=served.group, events=self._events)
        self._watchers[kind] = (served, watcher)
        watcher.start()
        log.info("simulating custom resources", kind=served.simulated.kind,
                 api_version=served.api_version,
                 writes_to="status subresource" if served.status_subresource else "object")

    def _unserve(self, kind: tuple[str, str]) -> None:
        running = self._watchers.pop(kind, None)
        if running is None:
            return
        running[1].stop()
        for key in [k for k, t in self._tracked.items() if t.served == running[0]]:
            del self._tracked[key]
        log.info("no longer simulating custom resources (CRD gone)", kind=kind[1])

    # ---- objects ----------------------------------------------------------------------------

    def _object_seen(self, served: ServedKind, obj: dict[str, Any], received_at: float) -> None:
        key = _object_key(served, obj)
        tracked = self._tracked.get(key)
        if tracked is None:
            tracked = self._tracked[key] = _Tracked(served=served, obj=obj)
        tracked.served, tracked.obj = served, obj
        metadata = obj.get("metadata") or {}
        if metadata.get("deletionTimestamp"):
            tracked.pending = None
            return
        manager = foreign_status_manager(obj)
        if manager is not None or tracked.foreign is not None:
            if tracked.foreign is None:
                log.info("status written by a real controller; not simulated",
                         kind=key[1], namespace=key[2], name=key[3], manager=manager)
                tracked.foreign = manager
            tracked.pending = None
            return
        decision = decide(obj, simulated=served.simulated, pools=self._pools)
        write: WriteKey = (str(metadata.get("uid", "")), content_digest(obj), decision.outcome)
        if write in (tracked.written, tracked.pending):
            return
        tracked.pending = write
        delay = self._delay + (self._rng.uniform(0.0, self._jitter) if self._jitter else 0.0)
        self._schedule(received_at + delay, key, write)

    def _schedule(self, at: float, key: ObjectKey, write: WriteKey) -> None:
        self._seq += 1
        heapq.heappush(self._due, _Due(at, self._seq, key, write))

    def _write_due(self) -> None:
        now = time.monotonic()
        while self._due and self._due[0].at <= now and not self._stopping.is_set():
            due = heapq.heappop(self._due)
            tracked = self._tracked.get(due.key)
            if tracked is None or tracked.pending != due.write:
                continue  # deleted, or changed since: a later entry has its own write
            self._write(due.key, tracked, due.write)

    def _write(self, key: ObjectKey, tracked: _Tracked, write: WriteKey) -> None:
        from kubernetes.client.exceptions import ApiException

        served, obj = tracked.served, tracked.obj
        decision = decide(obj, simulated=served.simulated, pools=self._pools)
        generation = (obj.get("metadata") or {}).get("generation")
        status = build_status(
            obj, simulated=served.simulated, decision=decision, now=_now_rfc3339(),
            generation=generation if served.status_subresource and isinstance(
                generation, int) else None,
        )
        record = SimulatedResource(
            api_version=served.api_version, kind=served.simulated.kind, namespace=key[2],
            name=key[3], outcome=decision.outcome.value, simulator=served.simulated.simulator,
        )
        # Recorded before the write lands: a wait that sees the new status and ends at once
        # must find it in the snapshot it takes next.
        with self._lock:
            previous = self._records.get(key)
            self._records[key] = record
        try:
            self._patch_status(served, obj, status)
        except Exception as err:
            with self._lock:
                if previous is None:
                    self._records.pop(key, None)
                else:
                    self._records[key] = previous
            gone = isinstance(err, ApiException) and err.status == 404
            if isinstance(err, KindNotServed) or (is_transient_api_error(err) and not gone):
                self._schedule(time.monotonic() + RETRY_SECONDS, key, write)
                log.debug("simulated status not written yet; retrying", name=key[3],
                          error=str(err).splitlines()[0][:200])
                return
            # Deleted, replaced (the uid test fails: 422) or refused by the CRD's schema: not
            # written, not retried; a change to the object schedules a new write.
            tracked.pending, tracked.written = None, write
            level = log.debug if gone else log.warning
            level("simulated status not written", kind=key[1], namespace=key[2], name=key[3],
                  error=str(err).splitlines()[0][:300])
            return
        tracked.pending, tracked.written = None, write
        log.debug("simulated status written", kind=key[1], namespace=key[2], name=key[3],
                  outcome=decision.outcome.value)

    def _patch_status(self, served: ServedKind, obj: Mapping[str, Any],
                      status: dict[str, Any]) -> None:
        metadata = obj.get("metadata") or {}
        resource = self._resources.resolve(api_version=served.api_version,
                                           kind=served.simulated.kind)
        path = f"{resource.collection_path(metadata.get('namespace'))}/{metadata['name']}"
        if served.status_subresource:
            path += "/status"
        # The uid test keeps a status from landing on a namesake created since.
        body = [{"op": "test", "path": "/metadata/uid", "value": metadata.get("uid", "")},
                {"op": "add", "path": "/status", "value": status}]
        self._api.call_api(
            path, "PATCH",
            query_params=[("fieldManager", FIELD_MANAGER)],
            header_params={"Content-Type": "application/json-patch+json",
                           "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
            response_types_map={200: "object"},
            _return_http_data_only=True,
            _request_timeout=REQUEST_TIMEOUT,
        )
