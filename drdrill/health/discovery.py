"""Where a kind lives in the API: its plural and whether it is namespaced, from discovery.

One GET per apiVersion (`/api/v1`, `/apis/<group>/<version>`), cached for the whole wait and
shared by every watcher thread; no on-disk cache, so a cluster restored a minute ago is never
answered from a stale file.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from drdrill.errors import InfrastructureError


class KindNotServed(InfrastructureError):
    """The API server does not (yet) serve this kind: a missing CRD, a wrong apiVersion."""


@dataclass(frozen=True)
class ResourceType:
    api_version: str
    kind: str
    plural: str
    namespaced: bool
    # The API serves `<plural>/status`: a controller is expected to write status.
    status_subresource: bool = False

    def collection_path(self, namespace: str | None) -> str:
        base = f"/api/{self.api_version}" if "/" not in self.api_version else (
            f"/apis/{self.api_version}"
        )
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


class ApiResources:
    """Discovery results per apiVersion, fetched on first use; safe to share between threads."""

    def __init__(self, *, api_client: Any) -> None:
        self._api_client = api_client
        self._lock = threading.Lock()
        self._by_version: dict[str, dict[str, ResourceType]] = {}

    def resolve(self, *, api_version: str, kind: str) -> ResourceType:
        # Held across the request: watcher threads start together and need one lookup, not N.
        with self._lock:
            known = self._by_version.get(api_version)
            if known is None or kind not in known:
                # A miss refreshes: the CRD may have been established since the last look.
                known = self._discover(api_version)
                self._by_version[api_version] = known
        if kind not in known:
            raise KindNotServed(f"{kind} is not served under {api_version} (is its CRD installed?)")
        return known[kind]

    def _discover(self, api_version: str) -> dict[str, ResourceType]:
        from kubernetes.client.exceptions import ApiException

        path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        try:
            document = self._api_client.call_api(
                path,
                "GET",
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                response_types_map={200: "object"},
                _return_http_data_only=True,
                _request_timeout=(5, 30),
            )
        except ApiException as err:
            if err.status == 404:
                return {}
            raise
        found: dict[str, ResourceType] = {}
        listed = document.get("resources", ())
        with_status = {
            str(r.get("name", "")).partition("/")[0]
            for r in listed if str(r.get("name", "")).endswith("/status")
        }
        for resource in listed:
            if "/" in resource.get("name", "/"):
                continue  # a subresource such as deployments/status
            found[resource["kind"]] = ResourceType(
                api_version=api_version,
                kind=resource["kind"],
                plural=resource["name"],
                namespaced=bool(resource.get("namespaced")),
                status_subresource=resource["name"] in with_status,
            )
        return found
