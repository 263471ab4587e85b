"""The set check walks a sorted manifest and the listing side by side; a manifest that is not
sorted is compared whole instead, with the same findings and one line saying so."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.integration.backups.helpers import (
    MANIFEST_KEY,
    backup_result,
    backup_set,
    latest_report,
    new_bucket,
    problems,
    put,
    put_set,
    run_cli,
    write_scenario,
)
from tests.integration.s3_server import S3Server

pytestmark = pytest.mark.integration

OBJECTS = {f"shard-{i:03d}.bin": f"object {i}".encode() * (i + 1) for i in range(30)}


SHARD = "shard-007.bin"


def _entry(key: str, data: bytes) -> dict[str, object]:
    return {"key": key, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_missing_extra_and_resized_objects_found_in_either_order(
    s3_credentials: S3Server, tmp_path: Path, order: str
) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    described = {**OBJECTS, "gone.bin": b"was backed up once"}
    put_set(client, bucket, OBJECTS, manifest=described)
    put(client, bucket, "set/shard-007.bin", b"shorter")
    put(client, bucket, "set/stray.bin", b"nobody listed me")
    if order == "reversed":
        entries = [_entry(k, d) for k, d in sorted(described.items(), reverse=True)]
        document = {"format": "drdrill-manifest/v1", "createdAt": "2026-11-27T03:00:00Z",
                    "algorithm": "sha256", "entries": entries}
        client.put_object(Bucket=bucket, Key=MANIFEST_KEY, Body=json.dumps(document).encode())
    scenario = write_scenario(tmp_path, s3_credentials, [backup_set(bucket)], rpo=None)
    done = run_cli("--log-format", "json", "backups", "verify", str(scenario),
                   "--report-dir", str(tmp_path / "reports"), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    result = backup_result(latest_report(tmp_path / "reports"))
    found = problems(result)
    assert found == {
        "gone.bin": "listed in the manifest but missing from the bucket",
        "shard-007.bin": f"size 7 bytes in the bucket, manifest says {len(OBJECTS[SHARD])}",
        "stray.bin": "in the bucket but not in the manifest",
    }
    assert result["objectsChecked"] == len(OBJECTS) - 1
    fell_back = "manifest compared in memory" in done.stdout + done.stderr
    assert fell_back == (order == "reversed")
