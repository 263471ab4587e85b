"""`drdrill backups verify` and `manifest` against a real S3 server (versitygw)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drdrill.backups.in_cluster import RESULT_PREFIX, parse_result_line
from tests.integration.backups.helpers import (
    MANIFEST_KEY,
    backup_result,
    backup_set,
    latest_report,
    new_bucket,
    payload,
    problems,
    put,
    put_set,
    run_cli,
    write_scenario,
)
from tests.integration.s3_server import S3Server

pytestmark = pytest.mark.integration

OBJECTS = {
    "sklearn/iris/v1/model.joblib": payload("model", 300_000),
    "sklearn/iris/v1/meta.json": b'{"framework": "sklearn"}',
    "empty.bin": b"",
    "big/weights.bin": payload("weights", 9 * 1024 * 1024 + 7),
}


def _verify(tmp_path: Path, scenario: Path, *extra: str) -> tuple[int, str, str, Path]:
    report_dir = tmp_path / "reports"
    done = run_cli("-v", "--log-format", "json", "backups", "verify", str(scenario),
                   "--report-dir", str(report_dir), *extra, cwd=tmp_path)
    return done.returncode, done.stdout, done.stderr, report_dir


def test_good_set_passes_and_restores_every_byte(s3_credentials: S3Server, tmp_path: Path) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    put_set(client, bucket, OBJECTS)
    scenario = write_scenario(tmp_path, s3_credentials, [backup_set(bucket)])
    restore = tmp_path / "restore"
    code, out, err, reports = _verify(tmp_path, scenario, "--restore-dir", str(restore))
    assert code == 0, out + err
    result = backup_result(latest_report(reports))
    assert result["verified"] and result["rpoMet"]
    assert result["objectsChecked"] == len(OBJECTS)
    assert result["bytesChecked"] == sum(len(d) for d in OBJECTS.values())
    assert 240 < result["ageSeconds"] < 3600
    for key, data in OBJECTS.items():
        assert (restore / "models" / key).read_bytes() == data
    assert not (restore / "models" / "MANIFEST.json").exists()
    # Whole objects with a manifest sha256 go through obstore; the report says so, and how fast.
    assert result["engine"] == "obstore"
    assert result["restoreSeconds"] > 0
    assert result["bytesPerSecond"] == pytest.approx(
        result["bytesChecked"] / result["restoreSeconds"], rel=0.01)


def test_set_without_manifest_uses_last_modified(s3_credentials: S3Server, tmp_path: Path) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    for key, data in OBJECTS.items():
        put(client, bucket, "data/" + key, data)
    sets = [backup_set(bucket, name="data", prefix="data", manifestKey=None, holds="dataset")]
    code, out, err, reports = _verify(tmp_path, write_scenario(tmp_path, s3_credentials, sets))
    assert code == 0, out + err
    result = backup_result(latest_report(reports), "data")
    assert result["verified"] and result["objectsChecked"] == len(OBJECTS)
    assert result["ageSeconds"] < 600


def test_corrupted_missing_and_extra_objects_fail(
    s3_credentials: S3Server, tmp_path: Path
) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    described = {**OBJECTS, "gone.bin": b"was backed up once"}
    put_set(client, bucket, OBJECTS, manifest=described)
    corrupted = bytearray(OBJECTS["sklearn/iris/v1/model.joblib"])
    corrupted[1000] ^= 0xFF
    put(client, bucket, "set/sklearn/iris/v1/model.joblib", bytes(corrupted))
    put(client, bucket, "set/stray.bin", b"nobody listed me")
    scenario = write_scenario(tmp_path, s3_credentials, [backup_set(bucket)])
    code, out, _, reports = _verify(tmp_path, scenario)
    assert code == 1, out
    result = backup_result(latest_report(reports))
    assert not result["verified"]
    found = problems(result)
    assert "differs from the manifest" in found["sklearn/iris/v1/model.joblib"]
    assert "missing from the bucket" in found["gone.bin"]
    assert "not in the manifest" in found["stray.bin"]
    assert len(found) == 3
    report = latest_report(reports)
    assert report["verdict"] == "fail"


def test_bit_rot_behind_s3s_back_is_caught(s3_credentials: S3Server, tmp_path: Path) -> None:
    """The file changes on the server's disk: S3's stored checksum no longer matches."""
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    objects = {"a.bin": payload("a"), "b.bin": payload("b")}
    put_set(client, bucket, objects)
    on_disk = s3_credentials.root / bucket / "set" / "a.bin"
    data = bytearray(on_disk.read_bytes())
    data[10] ^= 0x01
    on_disk.write_bytes(bytes(data))
    code, out, _, reports = _verify(
        tmp_path, write_scenario(tmp_path, s3_credentials, [backup_set(bucket)])
    )
    assert code == 1, out
    found = problems(backup_result(latest_report(reports)))
    assert set(found) == {"a.bin"}
    assert "checksum" in found["a.bin"] or "sha256" in found["a.bin"]


def test_stale_set_breaches_rpo(s3_credentials: S3Server, tmp_path: Path) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    put_set(client, bucket, OBJECTS, created_at=datetime.now(UTC) - timedelta(days=3))
    scenario = write_scenario(tmp_path, s3_credentials, [backup_set(bucket, rpo="1h")])
    code, out, _, reports = _verify(tmp_path, scenario)
    assert code == 1, out
    report = latest_report(reports)
    result = backup_result(report)
    assert result["verified"] and not result["rpoMet"]
    assert result["rpoSeconds"] == 3600
    assert 3 * 86400 - 60 < result["ageSeconds"] < 3 * 86400 + 600
    assert not report["rpo"]["met"]
    assert "RPO" in report["phases"][0]["message"]


def test_sample_is_reproducible_from_the_recorded_seed(
    s3_credentials: S3Server, tmp_path: Path
) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    many = {f"part-{i:03d}.bin": payload(str(i), 1000) for i in range(40)}
    put_set(client, bucket, many)
    sample = {"mode": "sample", "count": 5, "seed": 1234}
    scenario = write_scenario(tmp_path, s3_credentials, [backup_set(bucket, verify=sample)])
    restored = []
    for run in ("one", "two"):
        target = tmp_path / f"restore-{run}"
        code, out, err, reports = _verify(tmp_path, scenario, "--restore-dir", str(target))
        assert code == 0, out + err
        result = backup_result(latest_report(reports))
        assert result["sampleSeed"] == 1234 and result["objectsChecked"] == 5
        restored.append(sorted(p.name for p in (target / "models").iterdir()))
    assert restored[0] == restored[1] and len(restored[0]) == 5


def test_hostile_keys_are_refused_and_nothing_leaves_the_folder(
    s3_credentials: S3Server, tmp_path: Path
) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    # versitygw itself normalises `a/../x`, so traversal comes from a manifest entry; keys
    # with backslashes are stored as they are.
    put(client, bucket, "set/ok.bin", b"fine")
    put(client, bucket, "set/..\\..\\escape.bin", b"evil")
    evil = {"ok.bin": b"fine", "..\\..\\escape.bin": b"evil", "../x": b"evil",
            "/etc/passwd": b"evil"}
    put_set(client, bucket, {}, manifest=evil)
    restore = tmp_path / "deep" / "restore"
    code, out, _, reports = _verify(
        tmp_path, write_scenario(tmp_path, s3_credentials, [backup_set(bucket)]),
        "--restore-dir", str(restore),
    )
    assert code == 1, out
    found = problems(backup_result(latest_report(reports)))
    assert set(found) == {"..\\..\\escape.bin", "../x", "/etc/passwd"}
    assert all("unsafe key" in p for p in found.values())
    assert sorted(p.name for p in (restore / "models").iterdir()) == ["ok.bin"]
    assert not (tmp_path / "escape.bin").exists() and not (tmp_path / "deep" / "x").exists()


@pytest.mark.parametrize(
    ("document", "message"),
    [(b"{not json", "not JSON"),
     (b'{"format": "drdrill-manifest/v1", "createdAt": "2026-01-01T00:00:00Z", '
      b'"algorithm": "sha256", "entries": [{"key": "a", "size": 99999999999999999, '
      b'"sha256": "' + b"a" * 64 + b'"}]}', "size")],
)
def test_unusable_manifest_fails_the_set_clearly(
    s3_credentials: S3Server, tmp_path: Path, document: bytes, message: str
) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    put(client, bucket, "set/a.bin", b"x")
    client.put_object(Bucket=bucket, Key=MANIFEST_KEY, Body=document)
    code, out, _, reports = _verify(
        tmp_path, write_scenario(tmp_path, s3_credentials, [backup_set(bucket)])
    )
    assert code == 1, out
    [failure] = backup_result(latest_report(reports))["failures"]
    assert "manifest" in failure["problem"] and message in failure["problem"]


def test_missing_bucket_fails_the_set(s3_credentials: S3Server, tmp_path: Path) -> None:
    code, out, _, reports = _verify(
        tmp_path, write_scenario(tmp_path, s3_credentials, [backup_set("no-such-bucket-here")])
    )
    assert code == 1, out
    [failure] = backup_result(latest_report(reports))["failures"]
    assert "does not exist" in failure["problem"]


def test_missing_credentials_exit_3(
    s3_server: S3Server, no_s3_credentials: None, tmp_path: Path
) -> None:
    code, out, err, reports = _verify(
        tmp_path, write_scenario(tmp_path, s3_server, [backup_set("whatever")])
    )
    assert code == 3, out + err
    assert "no S3 credentials" in err
    assert latest_report(reports)["verdict"] == "error"


def test_unreachable_endpoint_exit_3(s3_credentials: S3Server, tmp_path: Path) -> None:
    from tests.integration.s3_server import free_port

    scenario = write_scenario(tmp_path, f"http://127.0.0.1:{free_port()}", [backup_set("b-x")])
    code, out, err, _ = _verify(tmp_path, scenario)
    assert code == 3, out + err
    assert "cannot reach" in err


def test_existing_restore_dir_is_bad_input(s3_credentials: S3Server, tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, s3_credentials, [backup_set("b-x")])
    code, _, err, _ = _verify(tmp_path, scenario, "--restore-dir", str(tmp_path))
    assert code == 2
    assert "already exists" in err


def test_manifest_command_then_verify(s3_credentials: S3Server, tmp_path: Path) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    for key, data in OBJECTS.items():
        put(client, bucket, "set/" + key, data)
    common = ("backups", "manifest", "--bucket", bucket, "--prefix", "set",
              "--endpoint-url", s3_credentials.endpoint)
    printed = run_cli(*common, cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    document = json.loads(printed.stdout)
    assert document["format"] == "drdrill-manifest/v1"
    assert {e["key"] for e in document["entries"]} == set(OBJECTS)
    uploaded = run_cli(*common, "--upload", MANIFEST_KEY, cwd=tmp_path)
    assert uploaded.returncode == 0, uploaded.stderr
    code, out, err, _ = _verify(
        tmp_path, write_scenario(tmp_path, s3_credentials, [backup_set(bucket)])
    )
    assert code == 0, out + err


def test_no_secret_in_any_output(s3_credentials: S3Server, tmp_path: Path) -> None:
    """The secret key is a canary: grep every report file and the captured logs for it."""
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    put_set(client, bucket, OBJECTS, manifest={**OBJECTS, "gone.bin": b"x"})
    scenario = write_scenario(tmp_path, s3_credentials, [backup_set(bucket)])
    code, out, err, reports = _verify(tmp_path, scenario)
    assert code == 1
    files = [p for p in reports.rglob("*") if p.is_file()]
    assert len(files) >= 4
    for text in [out, err, *(p.read_text(encoding="utf-8", errors="replace") for p in files)]:
        assert s3_credentials.secret_key not in text
        assert s3_credentials.access_key not in text
        assert "X-Amz-Signature" not in text and "Signature=" not in text


def test_result_line_is_the_last_line_and_in_cluster_is_not_run_without_a_cluster(
    s3_credentials: S3Server, tmp_path: Path
) -> None:
    """What the in-cluster restore Job runs (`--result-line`), and a scenario asking for an
    in-cluster restore verified by `backups verify` alone: said not run, never a pass of it."""
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    put_set(client, bucket, {"a.bin": payload("a", 1000), "b.bin": payload("b", 3000)})
    scenario = write_scenario(tmp_path, s3_credentials, [backup_set(bucket, inCluster={})])
    code, out, err, reports = _verify(tmp_path, scenario, "--result-line")
    assert code == 0, out + err
    parsed = parse_result_line(out)
    assert out.strip().splitlines()[-1].startswith(RESULT_PREFIX)
    assert parsed == {"sets": [{"name": "models", "verified": True, "objects": 2, "bytes": 4000,
                                "restoreSeconds": parsed["sets"][0]["restoreSeconds"],
                                "problems": 0, "firstProblem": None}]}
    inside = backup_result(latest_report(reports))["inCluster"]
    assert inside["verified"] is None and inside["message"].startswith("not run: no cluster")
