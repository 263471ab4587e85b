"""Is every ML workload healthy? kstatus-style rules per kind, and one watch per collection.

Public surface: `assess` and `assess_pod_failure` (pure rules), `wait_until_healthy` (watches
the cluster), and the inventory helpers that say what to wait for.
"""

from drdrill.health.inventory import (
    Selection,
    is_workload,
    refs_from_argocd_resources,
    refs_from_flux_inventory,
    select,
)
from drdrill.health.pod_failures import assess_pod_failure
from drdrill.health.refs import ObjectRef, WorkloadOutcome
from drdrill.health.rules import assess
from drdrill.health.status import Health, HealthState
from drdrill.health.watch import wait_until_healthy

__all__ = [
    "Health",
    "HealthState",
    "ObjectRef",
    "Selection",
    "WorkloadOutcome",
    "assess",
    "assess_pod_failure",
    "is_workload",
    "refs_from_argocd_resources",
    "refs_from_flux_inventory",
    "select",
    "wait_until_healthy",
]
