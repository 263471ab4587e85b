"""Watch a few named custom objects until a decision function says done (or raises).

One watch per object kind with a field selector on the name; a dropped connection or an
apiserver restart resumes with backoff, a 410 Gone re-lists. One deadline for all.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from tenacity import Retrying, retry_if_exception, stop_never, wait_random_exponential

from drdrill.timing import Deadline

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class WatchedObject:
    group: str
    version: str
    plural: str
    kind: str


def _transient(error: BaseException) -> bool:
    from kubernetes.client.exceptions import ApiException

    if isinstance(error, ApiException):
        return error.status in (404, 410, 429) or error.status >= 500
    return isinstance(error, (OSError, ValueError)) or "urllib3" in type(error).__module__


def _watch_loop(
    api_client: Any, target: WatchedObject, *, namespace: str, name: str,
    events: queue.Queue[tuple[str, Mapping[str, Any]]], stop: threading.Event,
) -> None:
    from kubernetes import client, watch

    custom = client.CustomObjectsApi(api_client)
    selector = f"metadata.name={name}"

    def one_round() -> None:
        listed = custom.list_namespaced_custom_object(
            target.group, target.version, namespace, target.plural, field_selector=selector,
            _request_timeout=15,
        )
        for item in listed.get("items", []):
            events.put((target.kind, item))
        version = listed["metadata"]["resourceVersion"]
        stream = watch.Watch()
        while not stop.is_set():
            for event in stream.stream(
                custom.list_namespaced_custom_object, target.group, target.version, namespace,
                target.plural, field_selector=selector, resource_version=version,
                timeout_seconds=5, _request_timeout=15,
            ):
                if event["type"] == "ERROR":
                    raise _Gone()
                obj = event["object"]
                version = obj["metadata"]["resourceVersion"]
                if event["type"] in ("ADDED", "MODIFIED"):
                    events.put((target.kind, obj))
                if stop.is_set():
                    break

    for attempt in Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, _Gone) or _transient(e)),
        wait=wait_random_exponential(multiplier=0.2, max=3),
        stop=stop_never,
        reraise=True,
        before_sleep=lambda state: log.debug("watch resumes", kind=target.kind,
                                             error=str(state.outcome.exception()
                                                       if state.outcome else "")),
    ):
        with attempt:
            if stop.is_set():
                return
            one_round()


class _Gone(Exception):
    """The watch's resourceVersion is too old (410): list again."""


def watch_until(
    api_client: Any, *, targets: Sequence[WatchedObject], namespace: str, name: str,
    decide: Callable[[str, Mapping[str, Any]], bool], deadline: Deadline,
    names: Mapping[str, str] | None = None,
) -> bool:
    """Feed every change to `decide(kind, obj)` until it returns True; False at the deadline.

    `names` gives a kind its own object name (default `name`). Exceptions raised by `decide`
    end the wait and propagate.
    """
    events: queue.Queue[tuple[str, Mapping[str, Any]]] = queue.Queue()
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_watch_loop, args=(api_client, target),
            kwargs={"namespace": namespace, "name": (names or {}).get(target.kind, name),
                    "events": events, "stop": stop},
            name=f"drdrill-watch-{target.kind}", daemon=True,
        )
        for target in targets
    ]
    for thread in threads:
        thread.start()
    try:
        while not deadline.expired():
            try:
                kind, obj = events.get(timeout=min(0.5, max(0.01, deadline.remaining())))
            except queue.Empty:
                continue
            if decide(kind, obj):
                return True
        return False
    finally:
        stop.set()
