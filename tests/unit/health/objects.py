"""Small builders for status snippets, so each table row shows only what the rule reads."""

from __future__ import annotations

from typing import Any


def obj(
    api_version: str,
    kind: str,
    *,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    generation: int | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "x", "namespace": "ml", **metadata}
    if generation is not None:
        meta["generation"] = generation
    result: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": meta}
    if spec is not None:
        result["spec"] = spec
    if status is not None:
        result["status"] = status
    return result


def cond(type_: str, status: str = "True", reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def deployment(
    replicas: int = 2,
    *,
    ready: int = 2,
    updated: int | None = None,
    available: int | None = None,
    total: int | None = None,
    conditions: list[dict[str, str]] | None = None,
    generation: int = 1,
    observed: int = 1,
) -> dict[str, Any]:
    return obj(
        "apps/v1",
        "Deployment",
        generation=generation,
        spec={"replicas": replicas},
        status={
            "observedGeneration": observed,
            "replicas": replicas if total is None else total,
            "updatedReplicas": replicas if updated is None else updated,
            "readyReplicas": ready,
            "availableReplicas": ready if available is None else available,
            "conditions": conditions
            if conditions is not None
            else [
                cond("Available", "True", "MinimumReplicasAvailable"),
                cond("Progressing", "True", "NewReplicaSetAvailable"),
            ],
        },
    )
