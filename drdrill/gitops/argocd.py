"""Argo CD readiness: the Application Synced and Healthy at the requested revision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drdrill.errors import PhaseFailure
from drdrill.gitops.flux import Readiness
from drdrill.gitops.objectwatch import WatchedObject, watch_until
from drdrill.timing import Deadline

APPLICATION = WatchedObject("argoproj.io", "v1alpha1", "applications", "Application")


def application_readiness(
    obj: Mapping[str, Any], *, accepted_revisions: tuple[str, ...]
) -> Readiness:
    """Synced and Healthy at one of `accepted_revisions`.

    A real Argo CD reports the resolved commit; simulated status (kwok) can only echo the
    requested ref, so the caller accepts both the expected commit and the ref it asked for.
    """
    status = obj.get("status") or {}
    health = (status.get("health") or {}).get("status")
    sync = status.get("sync") or {}
    if health == "Degraded":
        message = (status.get("health") or {}).get("message", "")
        return Readiness(False, failure=f"Application Degraded: {message}")
    operation = status.get("operationState") or {}
    if operation.get("phase") in ("Failed", "Error"):
        return Readiness(False, failure=f"Application sync {operation.get('phase')}: "
                                        f"{operation.get('message', '')}")
    revision = sync.get("revision") or ""
    if health != "Healthy" or sync.get("status") != "Synced":
        return Readiness(False, revision=revision or None,
                         waiting_for=f"Application {sync.get('status', 'Unknown')}/"
                                     f"{health or 'Unknown'}")
    if accepted_revisions and revision not in accepted_revisions:
        return Readiness(False, revision=revision,
                         waiting_for=f"Application at {revision}, expected "
                                     f"{' or '.join(accepted_revisions)}")
    return Readiness(True, revision=revision)


def wait_for_application(
    api_client: Any, *, namespace: str, name: str, accepted_revisions: tuple[str, ...],
    deadline: Deadline,
) -> dict[str, Any]:
    latest: dict[str, Any] = {}
    reason = ["Application not seen yet"]

    def decide(_kind: str, obj: Mapping[str, Any]) -> bool:
        latest["app"] = dict(obj)
        state = application_readiness(obj, accepted_revisions=accepted_revisions)
        if state.failure:
            raise PhaseFailure(state.failure)
        reason[0] = state.waiting_for
        return state.ready

    if not watch_until(api_client, targets=[APPLICATION], namespace=namespace, name=name,
                       decide=decide, deadline=deadline):
        raise PhaseFailure(f"Argo CD did not sync in time: {reason[0]}")
    application: dict[str, Any] = latest["app"]
    return application
