"""A valid scenario as text and as data, for tests to break one piece at a time."""

from __future__ import annotations

import copy
from typing import Any

import yaml

VALID: dict[str, Any] = {
    "apiVersion": "drdrill/v1alpha1",
    "kind": "Drill",
    "metadata": {"name": "ml-platform"},
    "spec": {
        "cluster": {
            "provider": "kwok",
            "nodePools": [
                {"name": "gpu", "count": 2, "gpus": 4, "labels": {"pool": "gpu"}},
                {"name": "cpu", "count": 3},
            ],
        },
        "gitops": {
            "engine": "flux",
            "version": "v2.7",
            "repository": {"path": "./platform"},
            "ref": {"branch": "main"},
            "path": "./clusters/demo",
        },
        "backups": {
            "sets": [{"name": "models", "bucket": "ml-models", "holds": "artifacts", "rpo": "24h"}]
        },
        "sla": {"rto": "15m", "rpo": "24h", "phases": {"cluster": "2m"}},
    },
}


def valid_data() -> dict[str, Any]:
    return copy.deepcopy(VALID)


def valid_text() -> str:
    return yaml.safe_dump(VALID, sort_keys=False)
