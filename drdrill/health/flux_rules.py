"""Health of Flux's own objects anywhere in the tree: sources, Kustomizations, HelmReleases.

Flux moves `status.observedGeneration` only when a reconciliation succeeds: a failed object
keeps `-1` (or an older generation) for good, and kstatus' generic rule would call it "in
progress" until the drill's budget ran out. What says that Flux has looked at the current spec
is the `Ready` condition's own `observedGeneration`; when that condition is False with a reason
that another retry will not fix during a drill, or `Stalled` is True, the object has failed
and Flux's own message is the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drdrill.health.status import Health, conditions, field, str_field

FLUX_GROUP_SUFFIX = ".toolkit.fluxcd.io"

# Ready=False reasons that a retry during a drill will not fix (the spec or Git must change).
TERMINAL_REASONS: frozenset[str] = frozenset({
    # Kustomization
    "BuildFailed", "HealthCheckFailed", "ReconciliationFailed", "PruneFailed", "InvalidPath",
    "PostBuildSubstitutionFailed", "DecryptionFailed",
    # HelmRelease (helm-controller sets RetriesExceeded, and Stalled, once remediation is spent)
    "RetriesExceeded", "InitFailed",
    # sources
    "GitOperationFailed", "AuthenticationFailed", "URLInvalid", "InvalidURL",
    "StorageOperationFailed", "ChartPullFailed", "ChartPackageFailed", "InvalidChartReference",
    "BucketOperationFailed", "OCIPullFailed", "InvalidProvider", "VerificationError",
    "InvalidSTSConfiguration",
})
# "Source artifact not found" is only the source catching up; any other artifact failure is not.
_WAITING_FOR_SOURCE = "ArtifactFailed"


def is_flux(group: str) -> bool:
    return group.endswith(FLUX_GROUP_SUFFIX)


def flux_object(obj: Mapping[str, Any]) -> Health:
    kind = str_field(obj, "kind") or "object"
    if kind == "HelmRepository" and field(obj, "spec.type") == "oci":
        # source-controller v1.3+ never reconciles these: a static object, read by the
        # HelmChart that pulls from it (whose failure is the HelmRelease's).
        return Health.current("OCI HelmRepository: a static object source-controller does not "
                              "reconcile")
    if not field(obj, "status"):
        return Health.in_progress("no controller has reconciled it (no status): is the Flux "
                                  f"controller for {kind} installed and running?").by("no-status")
    if field(obj, "spec.suspend") is True:
        return Health.failed("suspended (spec.suspend: true): Flux will not reconcile it")
    conds = conditions(obj)
    if stalled := conds.true("Stalled"):
        return Health.failed(f"{kind} stalled: {stalled.describe()}")
    generation = field(obj, "metadata.generation")
    ready = conds.get("Ready")
    ready_is_current = ready is not None and (
        ready.observed_generation is None or ready.observed_generation == generation
    )
    if ready is not None and ready_is_current and ready.is_false:
        gave_up = ready.reason in TERMINAL_REASONS or (
            ready.reason == _WAITING_FOR_SOURCE and not ready.message.startswith("Source")
        )
        if gave_up:
            return Health.failed(f"{kind} {ready.reason}: {ready.describe()}")
    observed = field(obj, "status.observedGeneration")
    if isinstance(generation, int) and observed != generation:
        waiting = f": {ready.describe()}" if ready is not None and not ready.is_true else ""
        return Health.in_progress(f"generation {generation} not applied yet{waiting}")
    if reconciling := conds.true("Reconciling"):
        return Health.in_progress(f"reconciling: {reconciling.describe()}")
    if ready is not None and ready.is_true:
        return Health.current(f"Ready: {ready.describe()}")
    if ready is None:
        return Health.in_progress("no Ready condition yet")
    return Health.in_progress(f"not Ready: {ready.describe()}")
