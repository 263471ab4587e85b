"""Flux readiness: GitRepository and Kustomization Ready at the revision the drill asked for.

Readiness means, for both objects: `observedGeneration == generation` and `Ready=True`; the
source's artifact is the requested commit (for a branch or tag served locally, the commit it
points at) and the Kustomization's `lastAppliedRevision` equals that artifact revision.
A reconcile is requested through the `reconcile.fluxcd.io/requestedAt` annotation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from drdrill.errors import PhaseFailure
from drdrill.gitops.objectwatch import WatchedObject, watch_until
from drdrill.timing import Deadline, utc_now

log = structlog.get_logger(__name__)

SOURCE = WatchedObject("source.toolkit.fluxcd.io", "v1", "gitrepositories", "GitRepository")
KUSTOMIZATION = WatchedObject(
    "kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "Kustomization"
)
# Reasons with which Flux reports an error that another retry will not fix during a drill.
SOURCE_FAILURES = {"GitOperationFailed", "AuthenticationFailed", "URLInvalid", "InvalidURL",
                   "StorageOperationFailed", "ArtifactFailed", "IncludeUnavailable"}
KUSTOMIZATION_FAILURES = {"BuildFailed", "ReconciliationFailed", "HealthCheckFailed",
                          "PruneFailed", "DependencyNotReady", "InvalidPath"}


@dataclass(frozen=True)
class Readiness:
    ready: bool
    failure: str | None = None
    revision: str | None = None
    waiting_for: str = ""


def _condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return None


def _observed(obj: Mapping[str, Any]) -> bool:
    """The controller has looked at this generation. Flux moves `status.observedGeneration`
    only on success; a failed attempt shows in the Ready condition's own observedGeneration."""
    generation = (obj.get("metadata") or {}).get("generation")
    if (obj.get("status") or {}).get("observedGeneration") == generation:
        return True
    ready = _condition(obj, "Ready")
    return ready is not None and ready.get("observedGeneration") == generation


def commit_of(revision: str) -> str:
    """`main@sha1:abc` -> `abc`; `sha1:abc` -> `abc`; `abc` (older Flux) -> `abc`."""
    return revision.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def source_readiness(obj: Mapping[str, Any], *, expected_commit: str | None) -> Readiness:
    ready = _condition(obj, "Ready")
    stalled = _condition(obj, "Stalled")
    if stalled and stalled.get("status") == "True":
        return Readiness(False, failure=f"GitRepository stalled: {stalled.get('message', '')}")
    if not _observed(obj) or ready is None:
        return Readiness(False, waiting_for="GitRepository not reconciled yet")
    if ready.get("status") == "False" and ready.get("reason") in SOURCE_FAILURES:
        return Readiness(False, failure=f"GitRepository {ready.get('reason')}: "
                                        f"{ready.get('message', '')}")
    revision = ((obj.get("status") or {}).get("artifact") or {}).get("revision")
    if ready.get("status") != "True" or not revision:
        return Readiness(False, waiting_for=f"GitRepository: {ready.get('message', '')}")
    if expected_commit and commit_of(revision) != expected_commit:
        return Readiness(False, revision=revision,
                         waiting_for=f"GitRepository at {revision}, expected {expected_commit}")
    return Readiness(True, revision=revision)


def kustomization_readiness(obj: Mapping[str, Any], *, source_revision: str | None) -> Readiness:
    ready = _condition(obj, "Ready")
    if not _observed(obj) or ready is None:
        return Readiness(False, waiting_for="Kustomization not reconciled yet")
    status = obj.get("status") or {}
    # A failure counts once Flux has tried the very revision the source holds: before that,
    # "artifact not found" only means the source is not ready yet.
    message = str(ready.get("message", ""))
    tried_current = source_revision is not None and (
        status.get("lastAttemptedRevision") == source_revision
        # Fetching the artifact failed for a reason other than the source not being ready
        # (e.g. "kustomization path not found"); Flux sets no attempted revision then.
        or (ready.get("reason") == "ArtifactFailed" and not message.startswith("Source"))
    )
    if ready.get("status") == "False" and source_revision is not None and (
        ready.get("reason") in KUSTOMIZATION_FAILURES or tried_current
    ):
        return Readiness(False, failure=f"Kustomization {ready.get('reason')}: "
                                        f"{ready.get('message', '')}")
    applied = status.get("lastAppliedRevision")
    if ready.get("status") != "True" or source_revision is None or applied != source_revision:
        return Readiness(False, revision=applied,
                         waiting_for=f"Kustomization: {ready.get('message', '') or 'applying'}")
    return Readiness(True, revision=applied)


def request_reconcile(
    api_client: Any, *, namespace: str, name: str, source_name: str | None = None
) -> None:
    from kubernetes import client

    custom = client.CustomObjectsApi(api_client)
    body = {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": utc_now().isoformat()}}}
    for target, object_name in ((SOURCE, source_name or name), (KUSTOMIZATION, name)):
        custom.patch_namespaced_custom_object(
            target.group, target.version, namespace, target.plural, object_name, body,
            _request_timeout=15,
        )


@dataclass(frozen=True)
class FluxResult:
    revision: str
    kustomization: dict[str, Any]


def wait_for_flux(
    api_client: Any, *, namespace: str, name: str, expected_commit: str | None,
    deadline: Deadline, source_name: str | None = None,
) -> FluxResult:
    """Watch both objects until the Kustomization applied the expected revision.

    `source_name` names the GitRepository when it differs from the Kustomization's name.
    """
    latest: dict[str, Mapping[str, Any]] = {}
    last_reason = ["GitRepository and Kustomization not seen yet"]

    def decide(kind: str, obj: Mapping[str, Any]) -> bool:
        latest[kind] = obj
        source = latest.get(SOURCE.kind)
        if source is None:
            return False
        src = source_readiness(source, expected_commit=expected_commit)
        if src.failure:
            raise PhaseFailure(src.failure)
        kustomization = latest.get(KUSTOMIZATION.kind)
        if kustomization is None:
            last_reason[0] = src.waiting_for or "Kustomization not seen yet"
            return False
        kus = kustomization_readiness(kustomization, source_revision=src.revision if src.ready
                                      else None)
        if kus.failure:
            raise PhaseFailure(kus.failure)
        last_reason[0] = src.waiting_for or kus.waiting_for
        return src.ready and kus.ready

    done = watch_until(
        api_client, targets=[SOURCE, KUSTOMIZATION], namespace=namespace, name=name,
        decide=decide, deadline=deadline,
        names={SOURCE.kind: source_name or name},
    )
    if not done:
        raise PhaseFailure(f"Flux did not reconcile in time: {last_reason[0]}")
    source_revision = source_readiness(latest[SOURCE.kind], expected_commit=expected_commit)
    assert source_revision.revision is not None
    return FluxResult(revision=source_revision.revision,
                      kustomization=dict(latest[KUSTOMIZATION.kind]))
