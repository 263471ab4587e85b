"""Why a pod is still not Ready, from its Warning events.

A pod's status says that its readiness probe fails (`ready: false`) but not why: the probe's
own message ("Readiness probe failed: HTTP probe failed with statuscode: 503") exists only as
an Event. When the wait ends with a workload still on its way, the latest Warning event of
each of its pods is read once (one LIST per namespace, after the wait, never polled) so the
report says what a `kubectl describe pod` would have shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

# A short bound on the one request per namespace made after the wait's deadline.
EVENTS_TIMEOUT_SECONDS = 5.0
_MAX_MESSAGE = 300


def latest_warnings(events: Iterable[Mapping[str, Any]], pods: set[str]) -> dict[str, str]:
    """For each pod of `pods`, its latest Warning event as `Reason: message` (pure)."""
    latest: dict[str, tuple[str, str]] = {}
    for event in events:
        involved = event.get("involvedObject") or {}
        pod = str(involved.get("name") or "")
        if event.get("type") != "Warning" or involved.get("kind") != "Pod" or pod not in pods:
            continue
        at = str(event.get("lastTimestamp") or event.get("eventTime")
                 or (event.get("metadata") or {}).get("creationTimestamp") or "")
        message = " ".join(str(event.get("message") or "").split())
        if len(message) > _MAX_MESSAGE:
            message = message[:_MAX_MESSAGE] + "..."
        text = f"{event.get('reason') or 'Warning'}: {message}".rstrip(": ")
        if pod not in latest or at >= latest[pod][0]:
            latest[pod] = (at, text)
    return {pod: text for pod, (_, text) in latest.items()}


def read_pod_warnings(api_client: Any, pods_by_namespace: Mapping[str, set[str]]
                      ) -> dict[tuple[str, str], str]:
    """The latest Warning event of each pod, keyed by (namespace, pod). Best effort: a
    namespace whose events cannot be read adds nothing (the verdict stands without them)."""
    core = client.CoreV1Api(api_client)
    found: dict[tuple[str, str], str] = {}
    for namespace, pods in sorted(pods_by_namespace.items()):
        if not pods:
            continue
        try:
            listed = core.list_namespaced_event(
                namespace, field_selector="involvedObject.kind=Pod,type=Warning",
                _request_timeout=EVENTS_TIMEOUT_SECONDS, _preload_content=False)
            items = json.loads(listed.data).get("items") or []
        except (ApiException, HTTPError, OSError, ValueError):
            continue
        for pod, text in latest_warnings(items, pods).items():
            found[(namespace, pod)] = text
    return found
