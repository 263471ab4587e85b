"""What a drill applied to a cluster it does not own, and how teardown takes it away again.

An existing cluster is never deleted, so teardown undoes what the drill put there instead:
before the drill starts, a baseline records the namespaces and CRDs already present and the
time; at teardown, the GitOps objects created since then are deleted first (with `prune`
enabled, Flux's controller removes what each applied), then every object of their inventories
that was created since the baseline, then the namespaces and CRDs the drill created. Nothing
that existed before the drill is touched: each object is judged by its creation time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from drdrill.timing import Deadline

log = structlog.get_logger(__name__)

# Root objects of the GitOps engines: (group, version, plural, kind).
ROOT_KINDS = (
    ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "Kustomization"),
    ("helm.toolkit.fluxcd.io", "v2", "helmreleases", "HelmRelease"),
    ("argoproj.io", "v1alpha1", "applications", "Application"),
)
# Objects whose finalizers only their controller removes; in a namespace the drill created,
# they are released once their controller had its chance, so the namespace can go.
SOURCE_KINDS = (
    ("source.toolkit.fluxcd.io", "v1", "gitrepositories"),
    ("source.toolkit.fluxcd.io", "v1", "helmrepositories"),
    ("source.toolkit.fluxcd.io", "v1", "helmcharts"),
    ("source.toolkit.fluxcd.io", "v1beta2", "ocirepositories"),
    ("source.toolkit.fluxcd.io", "v1", "buckets"),
)
# Creation times and the server's `Date` have a resolution of one second: the baseline's time is
# the first second of the server's clock that began after the namespaces and CRDs were listed,
# so an object created before the baseline can never carry a creation time as late as it.
SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class ClusterBaseline:
    """What was in the cluster before the drill, and when that was looked at."""

    taken_at: datetime
    namespaces: frozenset[str]
    crds: frozenset[str]

    def created_by_drill(self, obj: Any) -> bool:
        stamp = _metadata(obj).get("creationTimestamp")
        if isinstance(stamp, str):
            stamp = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        return isinstance(stamp, datetime) and stamp >= self.taken_at


def _metadata(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return dict(obj.get("metadata") or {})
    metadata = getattr(obj, "metadata", None)
    if metadata is None:
        return {}
    return {"name": metadata.name, "namespace": metadata.namespace,
            "creationTimestamp": metadata.creation_timestamp}


def take_baseline(api_client: Any) -> ClusterBaseline:
    """The namespaces and CRDs present now, and the time by the API server's clock (the `Date` of
    its answers; the local clock may differ) once its next second has begun. Objects created
    during that wait (under a second) are judged as the drill's: nothing of the drill exists
    yet, so only an object someone else creates in that second could be misjudged."""
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    namespaces, _, headers = core.list_namespace_with_http_info(_request_timeout=15)
    crds = client.ApiextensionsV1Api(api_client).list_custom_resource_definition(
        _request_timeout=15).items
    taken_at = _server_time(headers) + SECOND
    give_up = time.monotonic() + 5  # a second, unless the server's clock stands still
    while time.monotonic() < give_up:
        _, _, headers = core.list_namespace_with_http_info(limit=1, _request_timeout=15)
        if _server_time(headers) >= taken_at:
            break
        time.sleep(0.05)
    return ClusterBaseline(
        taken_at=taken_at,
        namespaces=frozenset(ns.metadata.name for ns in namespaces.items),
        crds=frozenset(crd.metadata.name for crd in crds),
    )


def _server_time(headers: Any) -> datetime:
    """The `Date` of an API answer; the local clock when it has none."""
    from email.utils import parsedate_to_datetime

    from drdrill.timing import utc_now

    try:
        return parsedate_to_datetime(str(headers.get("Date")))
    except (TypeError, ValueError):
        return utc_now().replace(microsecond=0)


@dataclass(frozen=True)
class InventoryEntry:
    namespace: str | None
    name: str
    group: str
    kind: str

    @classmethod
    def parse(cls, entry_id: str) -> InventoryEntry | None:
        """Flux's inventory id: `<namespace>_<name>_<group>_<kind>` (empty namespace/group)."""
        parts = entry_id.split("_")
        if len(parts) < 4:
            return None
        namespace, kind, group = parts[0], parts[-1], parts[-2]
        name = "_".join(parts[1:-2])
        return cls(namespace or None, name, group, kind)


def inventory_of(obj: dict[str, Any]) -> list[InventoryEntry]:
    """What a Flux Kustomization says it applied (Argo CD Applications: `status.resources`)."""
    status = obj.get("status") or {}
    entries = [InventoryEntry.parse(str(e.get("id", "")))
               for e in ((status.get("inventory") or {}).get("entries") or [])]
    for resource in status.get("resources") or []:
        entries.append(InventoryEntry(resource.get("namespace") or None, resource.get("name", ""),
                                      resource.get("group", ""), resource.get("kind", "")))
    return [e for e in entries if e is not None and e.name and e.kind]


class _Remover:
    def __init__(self, api_client: Any, baseline: ClusterBaseline, deadline: Deadline) -> None:
        from kubernetes import client, dynamic

        self.api_client, self.baseline, self.deadline = api_client, baseline, deadline
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.dynamic = dynamic.DynamicClient(api_client)
        self.removed: list[str] = []
        self.problems: list[str] = []

    def _timeout(self) -> float:
        return max(1.0, min(15.0, self.deadline.remaining()))

    def roots(self) -> list[tuple[tuple[str, str, str, str], dict[str, Any]]]:
        from kubernetes.client.exceptions import ApiException

        found = []
        for kind in ROOT_KINDS:
            group, version, plural, _ = kind
            try:
                listed = self.custom.list_cluster_custom_object(
                    group, version, plural, _request_timeout=self._timeout())
            except ApiException as err:
                if err.status != 404:
                    self.problems.append(f"cannot list {plural}.{group}: {err.status}")
                continue
            found += [(kind, item) for item in listed.get("items", [])
                      if self.baseline.created_by_drill(item)]
        return found

    def delete_roots(self, roots: list[tuple[tuple[str, str, str, str], dict[str, Any]]],
                     *, wait: float) -> None:
        """Delete the drill's root objects (their controllers prune what they applied), wait a
        little for that, then release the finalizers of those still there."""
        from kubernetes.client.exceptions import ApiException

        for (group, version, plural, kind), item in roots:
            meta = item["metadata"]
            try:
                self.custom.delete_namespaced_custom_object(
                    group, version, meta["namespace"], plural, meta["name"],
                    _request_timeout=self._timeout())
                self.removed.append(f"{kind} {meta['namespace']}/{meta['name']}")
            except ApiException as err:
                if err.status != 404:
                    self.problems.append(f"cannot delete {kind} {meta['name']}: {err.status}")
        ends = Deadline.after(min(wait, self.deadline.remaining()))
        while not ends.expired() and self.roots():
            time.sleep(0.5)
        for (group, version, plural, _), item in self.roots():
            self._release(group, version, plural, item["metadata"])

    def _release(self, group: str, version: str, plural: str, meta: dict[str, Any]) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.custom.patch_namespaced_custom_object(
                group, version, meta["namespace"], plural, meta["name"],
                {"metadata": {"finalizers": None}}, _request_timeout=self._timeout())
        except ApiException as err:
            if err.status != 404:
                self.problems.append(f"cannot release {plural} {meta['name']}: {err.status}")

    def prune(self, entries: Iterable[InventoryEntry]) -> None:
        """Delete each inventory object created since the baseline, namespaces last."""
        ordered = sorted(set(entries), key=lambda e: (e.kind in ("Namespace",
                                                                 "CustomResourceDefinition"),
                                                      e.kind, e.name))
        for entry in ordered:
            if self.deadline.expired():
                self.problems.append("ran out of time removing applied objects")
                return
            self._delete_entry(entry)

    def _delete_entry(self, entry: InventoryEntry) -> None:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import (
            NotFoundError,
            ResourceNotFoundError,
        )

        api_version = f"{entry.group}/" if entry.group else ""
        try:
            resource = self.dynamic.resources.get(kind=entry.kind, group=entry.group or "")
            current = resource.get(name=entry.name, namespace=entry.namespace,
                                   _request_timeout=self._timeout())
        except (NotFoundError, ResourceNotFoundError):
            return
        except ApiException as err:
            self.problems.append(f"cannot read {entry.kind} {entry.name}: {err.status}")
            return
        if not self.baseline.created_by_drill(current.to_dict()):
            return  # it was there before the drill: not ours to remove
        try:
            resource.delete(name=entry.name, namespace=entry.namespace,
                            _request_timeout=self._timeout())
        except NotFoundError:
            return
        except ApiException as err:
            self.problems.append(f"cannot delete {entry.kind} {entry.name}: {err.status}")
            return
        where = f"{entry.namespace}/" if entry.namespace else ""
        self.removed.append(f"{api_version}{entry.kind} {where}{entry.name}")

    def release_sources(self, namespaces: Iterable[str]) -> None:
        from kubernetes.client.exceptions import ApiException

        for namespace in namespaces:
            for group, version, plural in SOURCE_KINDS:
                try:
                    listed = self.custom.list_namespaced_custom_object(
                        group, version, namespace, plural, _request_timeout=self._timeout())
                except ApiException:
                    continue
                for item in listed.get("items", []):
                    if item["metadata"].get("finalizers"):
                        self._release(group, version, plural, item["metadata"])

    def drill_namespaces(self) -> list[str]:
        listed = self.core.list_namespace(_request_timeout=self._timeout()).items
        return [ns.metadata.name for ns in listed
                if ns.metadata.name not in self.baseline.namespaces
                and self.baseline.created_by_drill(ns)]

    def delete_namespaces(self, names: list[str]) -> None:
        from kubernetes.client.exceptions import ApiException

        for name in names:
            try:
                self.core.delete_namespace(name, _request_timeout=self._timeout())
                self.removed.append(f"Namespace {name}")
            except ApiException as err:
                if err.status != 404:
                    self.problems.append(f"cannot delete namespace {name}: {err.status}")

    def delete_crds(self) -> None:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        extensions = client.ApiextensionsV1Api(self.api_client)
        for crd in extensions.list_custom_resource_definition(
                _request_timeout=self._timeout()).items:
            name = crd.metadata.name
            if name in self.baseline.crds or not self.baseline.created_by_drill(crd):
                continue
            try:
                extensions.delete_custom_resource_definition(name,
                                                             _request_timeout=self._timeout())
                self.removed.append(f"CRD {name}")
            except ApiException as err:
                if err.status != 404:
                    self.problems.append(f"cannot delete CRD {name}: {err.status}")


@dataclass(frozen=True)
class Removal:
    removed: list[str]
    problems: list[str]


def remove_applied(api_client: Any, *, baseline: ClusterBaseline, deadline: Deadline,
                   controller_wait: float = 30.0) -> Removal:
    """Undo what the drill applied to a cluster it does not own (see the module docstring)."""
    remover = _Remover(api_client, baseline, deadline)
    roots = remover.roots()
    entries = [entry for _, root in roots for entry in inventory_of(root)]
    remover.delete_roots(roots, wait=controller_wait if roots else 0.0)
    remover.prune(entries)
    namespaces = remover.drill_namespaces()
    remover.release_sources(namespaces)
    remover.delete_namespaces(namespaces)
    remover.delete_crds()
    log.info("removed what the drill applied", removed=len(remover.removed),
             problems=remover.problems or None)
    return Removal(remover.removed, remover.problems)
