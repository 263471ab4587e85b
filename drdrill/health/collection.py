"""The two requests a watcher makes: LIST a collection page by page, and WATCH it from a version.

Both return plain JSON dicts (no model deserialisation: the rules read dicts, and building
typed models for a thousand objects only costs time). List items lack `apiVersion`/`kind`, so
they are filled in from the collection.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from drdrill.health.discovery import ApiResources, KindNotServed, ResourceType
from drdrill.health.refs import ObjectRef

LIST_PAGE_SIZE = 500
CONNECT_TIMEOUT_SECONDS = 5.0
LIST_READ_TIMEOUT_SECONDS = 60.0
# A watch idle for longer than this (plus the server's own timeout) is assumed dead.
WATCH_READ_SLACK_SECONDS = 15.0


@dataclass(frozen=True)
class Snapshot:
    """A complete, consistent LIST: every object and the version to watch from."""

    items: list[dict[str, Any]]
    resource_version: str


def list_collection(
    *, api_client: Any, resource: ResourceType, namespace: str | None
) -> Snapshot:
    items: list[dict[str, Any]] = []
    continue_token = ""
    while True:
        query: list[tuple[str, Any]] = [("limit", LIST_PAGE_SIZE)]
        if continue_token:
            query.append(("continue", continue_token))
        page = api_client.call_api(
            resource.collection_path(namespace),
            "GET",
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            response_types_map={200: "object"},
            _return_http_data_only=True,
            _request_timeout=(CONNECT_TIMEOUT_SECONDS, LIST_READ_TIMEOUT_SECONDS),
        )
        for item in page.get("items") or ():
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
            items.append(item)
        metadata = page.get("metadata") or {}
        continue_token = metadata.get("continue") or ""
        if not continue_token:
            return Snapshot(items=items, resource_version=str(metadata.get("resourceVersion", "")))


def watch_request(
    path: str,
    *,
    api_client: Any,
    watch: bool,
    _preload_content: bool,
    resource_version: str,
    timeout_seconds: int,
    allow_watch_bookmarks: bool,
) -> Any:
    """The request `kubernetes.watch.Watch.stream` calls; returns the raw streaming response.

    Its signature is what `Watch.stream` passes (it adds `watch` and `_preload_content`); no
    return-type line in this docstring on purpose, so the stream yields plain dicts.
    """
    query: list[tuple[str, Any]] = [
        ("watch", "true" if watch else "false"),
        ("resourceVersion", resource_version),
        ("timeoutSeconds", timeout_seconds),
        ("allowWatchBookmarks", "true" if allow_watch_bookmarks else "false"),
    ]
    return api_client.call_api(
        path,
        "GET",
        query_params=query,
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
        _return_http_data_only=True,
        _preload_content=_preload_content,
        _request_timeout=(CONNECT_TIMEOUT_SECONDS, timeout_seconds + WATCH_READ_SLACK_SECONDS),
    )


def object_key(obj: dict[str, Any]) -> tuple[str | None, str]:
    metadata = obj.get("metadata") or {}
    return metadata.get("namespace") or None, str(metadata.get("name", ""))


def iter_names(items: list[dict[str, Any]]) -> Iterator[tuple[str | None, str]]:
    return (object_key(item) for item in items)


def fetch_objects(*, api_client: Any, refs: Sequence[ObjectRef]) -> list[dict[str, Any]]:
    """The current objects behind `refs`: one LIST per (kind, namespace), not one GET each.

    Kinds the server does not serve are skipped: the caller reports those through health.
    """
    wanted: dict[tuple[str, str, str | None], set[str]] = defaultdict(set)
    for ref in refs:
        wanted[(ref.api_version, ref.kind, ref.namespace)].add(ref.name)
    resources = ApiResources(api_client=api_client)
    found: list[dict[str, Any]] = []
    for (api_version, kind, namespace), names in sorted(wanted.items(), key=str):
        try:
            resource = resources.resolve(api_version=api_version, kind=kind)
        except KindNotServed:
            continue
        snapshot = list_collection(api_client=api_client, resource=resource,
                                   namespace=namespace)
        found += [item for item in snapshot.items
                  if (item.get("metadata") or {}).get("name") in names]
    return found
