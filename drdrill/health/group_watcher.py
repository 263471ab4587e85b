"""One thread per watched collection: LIST once, then WATCH from that version, for as long as asked.

`kubernetes.watch.Watch.stream` gives up on `410 Gone` and on a dropped connection; this loop
does what a client-go informer does instead. The stream ending (server timeout) resumes from
the last version seen (bookmarks keep it fresh); `410 Gone` lists again; transient trouble
(connection refused while the API server restarts, a broken chunked stream, 429, 5xx, a kind
whose CRD is not established yet) backs off with jitter and resumes. What it sees goes to the
waiting thread's queue, stamped with the monotonic time it arrived.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from drdrill.health.collection import list_collection, object_key, watch_request
from drdrill.health.discovery import ApiResources, KindNotServed
from drdrill.kubeapi import is_transient_api_error

log = logging.getLogger(__name__)

WATCH_TIMEOUT_SECONDS = 240
_GONE = 410


@dataclass(frozen=True)
class WatchGroup:
    """One collection: a kind in one namespace, or across all (`namespace=None`)."""

    api_version: str
    kind: str
    namespace: str | None

    def describe(self) -> str:
        return f"{self.kind} ({self.api_version}) in " + (
            f"namespace {self.namespace}" if self.namespace else "all namespaces"
        )


@dataclass(frozen=True)
class ObjectSeen:
    group: WatchGroup
    obj: dict[str, Any]
    received_at: float
    # Whether the kind's API has a status subresource (None: not known).
    status_subresource: bool | None = None


@dataclass(frozen=True)
class ObjectGone:
    group: WatchGroup
    namespace: str | None
    name: str
    received_at: float


@dataclass(frozen=True)
class Listed:
    """A fresh LIST finished: objects of the group that are not in `present` no longer exist."""

    group: WatchGroup
    present: frozenset[tuple[str | None, str]]
    received_at: float


@dataclass(frozen=True)
class GroupTrouble:
    group: WatchGroup
    message: str


Event = ObjectSeen | ObjectGone | Listed | GroupTrouble


def is_transient(error: BaseException) -> bool:
    """Worth retrying: what `kubeapi.is_transient` says, or a CRD still being established."""
    return isinstance(error, KindNotServed) or is_transient_api_error(error)


def describe_error(error: BaseException) -> str:
    from kubernetes.client.exceptions import ApiException

    if isinstance(error, ApiException):
        return f"HTTP {error.status} {error.reason}".strip()
    return f"{type(error).__name__}: {error}".splitlines()[0][:200]


class GroupWatcher(threading.Thread):
    def __init__(
        self,
        *,
        api_client: Any,
        resources: ApiResources,
        group: WatchGroup,
        events: queue.SimpleQueue[Event],
        resume_from: str | None = None,
    ) -> None:
        """`resume_from` skips the first LIST and watches from that version (tests, resumes)."""
        super().__init__(name=f"watch-{group.kind}-{group.namespace or 'all'}", daemon=True)
        self._api_client = api_client
        self._resources = resources
        self.group = group
        self._events = events
        self._stopping = threading.Event()
        self._resource_version = resume_from
        self._status_subresource: bool | None = None
        # The open watch response; the lock makes "stop" and "open" see each other.
        self._lock = threading.Lock()
        self._response: Any = None

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            if self._response is not None:
                _shut_down(self._response)

    def _open_watch(self, path: str, **kwargs: Any) -> Any:
        response = watch_request(path, api_client=self._api_client, **kwargs)
        with self._lock:
            self._response = response
            if self._stopping.is_set():
                _shut_down(response)
        return response

    def run(self) -> None:
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            wait=wait_random_exponential(multiplier=0.1, max=5.0),
            stop=lambda _state: self._stopping.is_set(),
            sleep=self._sleep,
            before_sleep=self._report_trouble,
            reraise=True,
        )
        while not self._stopping.is_set():
            try:
                retrying(self._list_then_watch)
            except Exception as err:
                if self._stopping.is_set():
                    return
                message = f"cannot watch {self.group.describe()}: {describe_error(err)}"
                log.warning(message)
                self._events.put(GroupTrouble(self.group, message))
                return

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)  # a back-off that ends as soon as the wait is over

    def _report_trouble(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if error is not None:
            detail = describe_error(error)
            log.debug("watch %s: %s; retrying", self.group.describe(), detail)
            self._events.put(GroupTrouble(self.group, f"API trouble ({detail}), retrying"))

    def _list_then_watch(self) -> None:
        resource = self._resources.resolve(
            api_version=self.group.api_version, kind=self.group.kind
        )
        self._status_subresource = resource.status_subresource
        if self._resource_version is None:
            snapshot = list_collection(
                api_client=self._api_client, resource=resource, namespace=self.group.namespace
            )
            received_at = time.monotonic()
            for item in snapshot.items:
                self._events.put(ObjectSeen(self.group, item, received_at,
                                            self._status_subresource))
            present = frozenset(object_key(item) for item in snapshot.items)
            self._events.put(Listed(self.group, present, received_at))
            self._resource_version = snapshot.resource_version
        self._stream(resource.collection_path(self.group.namespace))

    def _stream(self, path: str) -> None:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.watch import Watch

        if self._stopping.is_set():
            return
        try:
            for event in Watch().stream(
                self._open_watch,
                path,
                resource_version=self._resource_version,
                timeout_seconds=WATCH_TIMEOUT_SECONDS,
                allow_watch_bookmarks=True,
            ):
                self._handle(event, time.monotonic())
                if self._stopping.is_set():
                    return
        except ApiException as err:
            if err.status != _GONE:
                raise
            log.debug("watch %s: resource version expired; listing again", self.group.describe())
            self._resource_version = None
        finally:
            with self._lock:
                self._response = None

    def _handle(self, event: dict[str, Any], received_at: float) -> None:
        kind, obj = event.get("type"), event.get("raw_object") or {}
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if version:
            self._resource_version = str(version)
        if kind in ("ADDED", "MODIFIED"):
            self._events.put(ObjectSeen(self.group, obj, received_at, self._status_subresource))
        elif kind == "DELETED":
            namespace, name = object_key(obj)
            self._events.put(ObjectGone(self.group, namespace, name, received_at))


def _shut_down(response: Any) -> None:
    """Unblock a thread reading this streaming response (closing alone can wait on a lock)."""
    connection = getattr(response, "connection", None)
    sock = getattr(connection, "sock", None)
    # An OSError means the socket is already closed: nothing left to unblock.
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
