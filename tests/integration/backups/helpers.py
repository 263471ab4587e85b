"""Set up buckets, objects, manifests and scenarios in a real S3 server; run the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from drdrill.backups.manifest import ManifestEntry, render_manifest
from tests.integration.s3_server import S3Server

MANIFEST_KEY = "set/MANIFEST.json"


def new_bucket(server: S3Server, client: Any | None = None) -> str:
    name = f"drill-{uuid.uuid4().hex[:12]}"
    (client or server.client()).create_bucket(Bucket=name)
    return name


def put(client: Any, bucket: str, key: str, data: bytes) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm="SHA256")


def payload(name: str, size: int = 200_000) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def put_set(
    client: Any,
    bucket: str,
    objects: dict[str, bytes],
    *,
    prefix: str = "set/",
    manifest: dict[str, bytes] | None = None,
    created_at: datetime | None = None,
) -> None:
    """Upload `objects` under `prefix` and a manifest describing `manifest` (default: them)."""
    for key, data in objects.items():
        put(client, bucket, prefix + key, data)
    described = objects if manifest is None else manifest
    entries = [
        ManifestEntry(key, len(data), hashlib.sha256(data).hexdigest())
        for key, data in described.items()
    ]
    document = render_manifest(
        created_at=created_at or datetime.now(UTC) - timedelta(minutes=5), entries=entries
    )
    client.put_object(Bucket=bucket, Key=prefix + "MANIFEST.json", Body=document)


def backup_set(bucket: str, **overrides: Any) -> dict[str, Any]:
    return {"name": "models", "bucket": bucket, "prefix": "set/", "holds": "artifacts",
            "manifestKey": MANIFEST_KEY, **overrides}


def write_scenario(
    tmp_path: Path, server: S3Server | str, sets: list[dict[str, Any]], *,
    rpo: str | None = "24h", budget: str = "2m", concurrency: int = 4,
) -> Path:
    endpoint = server if isinstance(server, str) else server.endpoint
    sla: dict[str, Any] = {"rto": "10m", "phases": {"backups": budget}}
    if rpo:
        sla["rpo"] = rpo
    data = {
        "apiVersion": "drdrill/v1alpha1",
        "kind": "Drill",
        "metadata": {"name": "backups-it"},
        "spec": {
            "backups": {
                "s3": {"endpointUrl": endpoint, "maxConcurrency": concurrency},
                "sets": sets,
            },
            "sla": sla,
        },
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`drdrill ARGS` in a subprocess, with the test's environment (credentials included)."""
    return subprocess.run(
        [sys.executable, "-c", "from drdrill.cli.app import main; main()", *args],
        capture_output=True, text=True, cwd=cwd, env=dict(os.environ), timeout=300,
        check=False,
    )


def latest_report(report_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (report_dir / "backups-it" / "latest" / "report.json").read_text(encoding="utf-8")
    )
    return data


def backup_result(report: dict[str, Any], name: str = "models") -> dict[str, Any]:
    [result] = [b for b in report["backups"] if b["name"] == name]
    assert isinstance(result, dict)
    return result


def problems(result: dict[str, Any]) -> dict[str, str]:
    return {f["key"]: f["problem"] for f in result["failures"]}
