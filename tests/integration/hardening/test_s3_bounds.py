"""S3 listing and manifest reads within the phase deadline, and sampled sets whose Git
references count only once their objects were read: on the real local S3 server (versitygw),
slowed by toxiproxy."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drdrill.backups.references import match_references
from drdrill.backups.s3client import S3Endpoint, make_s3_client
from drdrill.backups.setcheck import check_backup_set
from drdrill.errors import PrerequisiteError
from drdrill.scenario.models import BackupSet
from drdrill.timing import Deadline
from tests.integration.s3_server import S3Server, Toxiproxy, credential_env


@pytest.fixture
def credentials(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for name, value in credential_env(s3_server).items():
        monkeypatch.setenv(name, value)
    return s3_server


def _bucket_with(server: S3Server, keys: list[str], *, body: bytes = b"x") -> str:
    client = server.client()
    bucket = f"bounds-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=body), keys))
    return bucket


def test_a_slow_listing_stops_at_the_phase_deadline(credentials: S3Server, toxiproxy: Toxiproxy,
                                                    tmp_path: Path) -> None:
    bucket = _bucket_with(credentials, [f"set/{i:05d}.bin" for i in range(1100)])  # two pages
    endpoint_url = toxiproxy.proxy("slow-list", upstream=f"127.0.0.1:{credentials.port}")
    toxiproxy.add_toxic("slow-list", name="latency", kind="latency", latency=2500)
    endpoint = S3Endpoint(endpoint_url=endpoint_url)
    started = time.monotonic()
    result, catalog = check_backup_set(
        make_s3_client(endpoint=endpoint), backup_set=BackupSet(
            name="models", bucket=bucket, prefix="set/", holds="artifacts"),
        endpoint=endpoint, rpo_seconds=None, folder=tmp_path / "r",
        deadline=Deadline.after(2.0), now=datetime.now(UTC))
    assert time.monotonic() - started < 12  # a page or two late at most, never all of it
    assert not result.verified and not catalog.verified
    assert "did not finish within the phase budget" in result.failures[0].problem


def test_a_sampled_set_reads_what_git_points_at(credentials: S3Server, tmp_path: Path) -> None:
    keys = [f"set/models/m{i:02d}/weights.bin" for i in range(20)]
    bucket = _bucket_with(credentials, keys, body=b"weights")
    endpoint = S3Endpoint(endpoint_url=credentials.endpoint)
    sample = BackupSet.model_validate({"name": "models", "bucket": bucket, "prefix": "set/",
                                       "holds": "artifacts",
                                       "verify": {"mode": "sample", "count": 2, "seed": 7}})
    referenced = "set/models/m13"
    result, catalog = check_backup_set(
        make_s3_client(endpoint=endpoint), backup_set=sample, endpoint=endpoint,
        rpo_seconds=None, folder=tmp_path / "r", deadline=Deadline.after(60),
        now=datetime.now(UTC), referenced=[referenced])
    assert result.verified and result.objects_checked in (2, 3)
    assert catalog.verified_keys is not None and "models/m13/weights.bin" in catalog.verified_keys
    [pointed] = match_references([(f"s3://{bucket}/{referenced}", "git")], [catalog])
    assert pointed.restorable
    unread = next(k.removeprefix("set/") for k in keys
                  if k.removeprefix("set/") not in catalog.verified_keys)
    [other] = match_references([(f"s3://{bucket}/set/{unread}", "git")], [catalog])
    assert other.backup_set == "models" and not other.restorable


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 76 MiB tmpfs: room for 8 MiB of objects and drdrill's 64 MiB margin, no more."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=76m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_disk_that_fills_up_mid_restore_is_a_clear_failure(
        credentials: S3Server, toxiproxy: Toxiproxy, small_disk: Path) -> None:
    keys = [f"set/{i}.bin" for i in range(8)]
    bucket = _bucket_with(credentials, keys, body=b"m" * (1024 * 1024))
    endpoint_url = toxiproxy.proxy("disk-full", upstream=f"127.0.0.1:{credentials.port}")
    toxiproxy.add_toxic("disk-full", name="slow", kind="bandwidth", rate=512)
    endpoint = S3Endpoint(endpoint_url=endpoint_url, max_concurrency=2)

    def fill() -> None:  # another program takes the space the restore counted on
        ends = time.monotonic() + 60
        restore = small_disk / "restore"
        while time.monotonic() < ends and not (restore.is_dir() and any(restore.iterdir())):
            time.sleep(0.05)  # until the restore has begun writing
        with contextlib.suppress(OSError), (small_disk / "filler").open("wb") as filler:
            while True:
                filler.write(b"\0" * (1024 * 1024))

    filler = threading.Thread(target=fill, daemon=True)
    filler.start()
    with pytest.raises(PrerequisiteError, match="disk filled up"):
        check_backup_set(
            make_s3_client(endpoint=endpoint), backup_set=BackupSet(
                name="models", bucket=bucket, prefix="set/", holds="artifacts"),
            endpoint=endpoint, rpo_seconds=None, folder=small_disk / "restore",
            deadline=Deadline.after(120), now=datetime.now(UTC))
    filler.join(timeout=10)
