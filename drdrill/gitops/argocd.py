"""Argo CD readiness: the Application Synced and Healthy at the commit the drill expects.

drdrill resolves the requested branch or tag itself (from the served copy, or `git ls-remote`
for a repository given by URL) and accepts only that commit: Argo CD reports the resolved SHA
in `status.sync.revision` (`revisions[0]` for a multi-source Application, whose first source
is the drill's repository). A hard refresh is requested at once instead of waiting for Argo
CD's poll (3 minutes by default). What Argo CD will not retry by itself ends the wait early
with its own message: health Degraded, a sync operation that Failed or Errored, and the
ComparisonError / InvalidSpecError conditions (an unknown path, a manifest that does not
render) once they outlive a transient repo-server hiccup.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drdrill.errors import PhaseFailure
from drdrill.gitops.objectwatch import WatchedObject, watch_until
from drdrill.proc import inherited_environment
from drdrill.timing import Deadline

APPLICATION = WatchedObject("argoproj.io", "v1alpha1", "applications", "Application")
APPLICATIONSET = WatchedObject("argoproj.io", "v1alpha1", "applicationsets", "ApplicationSet")
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
# Conditions that say the desired state cannot be computed or is invalid.
_ERROR_CONDITIONS = ("ComparisonError", "InvalidSpecError", "SyncError")
# Messages of a repo-server or network that is not there yet: retried, not final.
_TRANSIENT = re.compile(r"connection refused|Unavailable|DeadlineExceeded|i/o timeout|"
                        r"context deadline exceeded|EOF", re.IGNORECASE)
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
# The apiserver's 422: the manifest itself is invalid, a retry cannot fix it.
_REJECTED = re.compile(r"\bis invalid: ")


@dataclass(frozen=True)
class ApplicationState:
    """One look at an Application: ready, failed for good, or still on its way (and why)."""

    ready: bool
    failure: str | None = None
    revision: str | None = None
    waiting_for: str = ""
    # An error condition that may still clear (judged over time by the caller).
    error_condition: str | None = None


def _main_revision(status: Mapping[str, Any]) -> str:
    sync = status.get("sync") or {}
    revisions = sync.get("revisions") or []
    if revisions:
        return str(revisions[0] or "")
    return str(sync.get("revision") or "")


def _error_condition(status: Mapping[str, Any]) -> str | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") in _ERROR_CONDITIONS:
            return f"{condition.get('type')}: {condition.get('message', '')}".strip()
    return None


def application_state(obj: Mapping[str, Any], *, expected_commit: str | None) -> ApplicationState:
    """Synced and Healthy at `expected_commit` (any commit when None: Argo CD's own resolution
    is then recorded as it is)."""
    status = obj.get("status") or {}
    health = status.get("health") or {}
    sync = status.get("sync") or {}
    revision = _main_revision(status)
    operation = status.get("operationState") or {}
    op_revision = str((operation.get("syncResult") or {}).get("revision")
                      or (operation.get("operation") or {}).get("sync", {}).get("revision")
                      or "")
    # Automated sync retries (5 times by default, with backoff, minutes in all) whatever the
    # cause; an object the apiserver rejects as invalid at this commit stays invalid.
    rejected = (operation.get("phase") == "Running" and int(operation.get("retryCount") or 0) > 0
                and _REJECTED.search(str(operation.get("message") or "")) is not None)
    if (operation.get("phase") in ("Failed", "Error") or rejected) and (
            not expected_commit or op_revision in ("", expected_commit)):
        failed = [f"{r.get('kind')} {r.get('namespace') or ''}/{r.get('name')}: "
                  f"{r.get('message', '')}".replace(" /", " ")
                  for r in (operation.get("syncResult") or {}).get("resources") or []
                  if r.get("status") in ("SyncFailed",) or r.get("hookPhase") in ("Failed",
                                                                                 "Error")]
        detail = "; ".join(failed[:3]) or operation.get("message", "")
        phase = "failed" if rejected else str(operation.get("phase")).lower()
        return ApplicationState(False, revision=revision or None, failure=(
            f"Application sync {phase}: {detail}"))
    if health.get("status") == "Degraded" and revision in ("", expected_commit or revision):
        detail = _degraded_detail(status) or health.get("message") or (
            "no resource named (resource health is not persisted in the Application: "
            "`argocd app get` shows it)")
        return ApplicationState(False, revision=revision or None,
                                failure=f"Application Degraded: {detail}")
    error = _error_condition(status)
    if error is not None:
        return ApplicationState(False, revision=revision or None, waiting_for=error,
                                error_condition=error)
    if health.get("status") != "Healthy" or sync.get("status") != "Synced":
        return ApplicationState(False, revision=revision or None, waiting_for=(
            f"Application {sync.get('status', 'Unknown')}/{health.get('status') or 'Unknown'}"
            + (f" at {revision[:12]}" if revision else "")))
    if expected_commit and revision != expected_commit:
        return ApplicationState(False, revision=revision, waiting_for=(
            f"Application at {revision[:12]}, expected {expected_commit[:12]}"))
    return ApplicationState(True, revision=revision)


def _degraded_detail(status: Mapping[str, Any]) -> str:
    """The resources that make an Application Degraded, with their health messages."""
    parts = []
    for resource in status.get("resources") or []:
        health = resource.get("health") or {}
        if health.get("status") == "Degraded":
            where = f"{resource.get('namespace')}/" if resource.get("namespace") else ""
            message = health.get("message", "")
            parts.append(f"{resource.get('kind')} {where}{resource.get('name')}"
                         + (f": {message}" if message else ""))
    return "; ".join(parts[:3])


def request_hard_refresh(api_client: Any, *, namespace: str, name: str) -> None:
    """Ask Argo CD to re-read Git now, bypassing its manifest cache (instead of its poll)."""
    from kubernetes import client

    client.CustomObjectsApi(api_client).patch_namespaced_custom_object(
        APPLICATION.group, APPLICATION.version, namespace, APPLICATION.plural, name,
        {"metadata": {"annotations": {REFRESH_ANNOTATION: "hard"}}}, _request_timeout=15,
    )


def wait_for_application(
    api_client: Any, *, namespace: str, name: str, expected_commit: str | None,
    deadline: Deadline, error_grace_seconds: float = 10.0,
) -> dict[str, Any]:
    """Watch the Application until it is Synced and Healthy at `expected_commit`; raise
    PhaseFailure with Argo CD's message when it fails for good, or at the deadline."""
    latest: dict[str, Any] = {}
    reason = ["Application not seen yet"]
    error_since: dict[str, float] = {}

    def decide(_kind: str, obj: Mapping[str, Any]) -> bool:
        latest["app"] = dict(obj)
        state = application_state(obj, expected_commit=expected_commit)
        if state.failure:
            raise PhaseFailure(state.failure)
        reason[0] = state.waiting_for
        if state.error_condition is not None:
            first = error_since.setdefault(state.error_condition, time.monotonic())
            final = not _TRANSIENT.search(state.error_condition) and _settled_error(obj)
            if final or time.monotonic() - first > error_grace_seconds:
                raise PhaseFailure(f"Application {state.error_condition}")
        else:
            error_since.clear()
        return state.ready

    if not watch_until(api_client, targets=[APPLICATION], namespace=namespace, name=name,
                       decide=decide, deadline=deadline):
        if latest.get("app") is not None:
            state = application_state(latest["app"], expected_commit=expected_commit)
            if state.error_condition is not None:
                raise PhaseFailure(f"Application {state.error_condition}")
        raise PhaseFailure(f"Argo CD did not sync in time: {reason[0]}")
    application: dict[str, Any] = latest["app"]
    return application


def _settled_error(obj: Mapping[str, Any]) -> bool:
    """An error condition Argo CD reported after reconciling with the hard refresh done (the
    annotation is removed once the refresh was processed): not a leftover of an earlier try."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return REFRESH_ANNOTATION not in annotations and bool(
        (obj.get("status") or {}).get("reconciledAt"))


def resolve_remote(url: str, *, branch: str | None, tag: str | None,
                   timeout: float = 30.0) -> str | None:
    """The commit a branch or tag of a remote repository points at (`git ls-remote`; an
    annotated tag is peeled), or None when it cannot be asked (credentials, network)."""
    ref = f"refs/heads/{branch}" if branch else f"refs/tags/{tag}"
    env = {**inherited_environment(), "GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND":
           "ssh -o BatchMode=yes"}
    try:
        done = subprocess.run(["git", "ls-remote", url, ref, f"{ref}^{{}}"], env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    found: dict[str, str] = {}
    for line in done.stdout.splitlines():
        sha, _, name = line.partition("\t")
        if _FULL_SHA.match(sha):
            found[name] = sha
    return found.get(f"{ref}^{{}}") or found.get(ref)
