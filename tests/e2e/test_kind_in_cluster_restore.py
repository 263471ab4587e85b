"""End to end on kind: backup sets restored into the cluster for real.

drdrill's own image (image/build.sh on a locally imported Debian base, no registry) is loaded
into the kind cluster; for each set with `inCluster` a Job pulls the whole set from a real S3
server (versitygw on this host's loopback, relayed by drdrill to the cluster's Docker network)
into a claim the local-path provisioner binds, and verifies every object there. One set
restores and verifies; the other names a credentials Secret that does not exist, so its pod
cannot start, and the drill fails naming it. The cluster is kept so that pytest-kind, the
independent client, sees that the restore's namespace was removed by drdrill's teardown.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import REPO, KindTestbed
from tests.e2e.test_kind_drills import CPU_POOL, DrillWatch, scenario
from tests.integration.backups.helpers import new_bucket, payload, put_set
from tests.integration.s3_server import S3Server, credential_env, running_versitygw

pytestmark = pytest.mark.timeout(1500)

MODELS = {"iris/v1/model.joblib": payload("iris", 300_000),
          "llama/v2/weights.bin": payload("llama", 2_500_000),
          "llama/v2/config.json": b'{"layers": 2}'}
DATASETS = {"train.parquet": payload("train", 50_000)}


@pytest.fixture
def drdrill_image(kind_testbed: KindTestbed) -> Iterator[str]:
    env = {**os.environ, **({"DOCKER_HOST": kind_testbed.docker_host}
                            if kind_testbed.docker_host else {})}
    base = subprocess.run(["bash", str(REPO / "image" / "debian-base.sh")], env=env,
                          capture_output=True, text=True, timeout=1200, check=False)
    assert base.returncode == 0, base.stderr[-3000:]
    tag = f"e2e-{uuid.uuid4().hex[:6]}"
    built = subprocess.run(["bash", str(REPO / "image" / "build.sh"), "--tag", tag, "--base",
                            base.stdout.strip().splitlines()[-1]], env=env,
                           capture_output=True, text=True, timeout=1200, check=False)
    assert built.returncode == 0, built.stderr[-3000:]
    yield f"drdrill:{tag}"
    subprocess.run(["docker", "rmi", f"drdrill:{tag}"], env=env, capture_output=True,
                   check=False, timeout=120)


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    with running_versitygw(tmp_path / "versitygw") as server:
        for name, value in credential_env(server).items():
            monkeypatch.setenv(name, value)
        yield server


def test_sets_restored_into_claims_on_kind_are_verified_there_and_a_pod_that_cannot_start_fails(
    tmp_path: Path, kind_testbed: KindTestbed, drdrill_image: str, s3: S3Server
) -> None:
    client = s3.client()
    bucket = new_bucket(s3, client)
    put_set(client, bucket, MODELS, prefix="models/")
    put_set(client, bucket, DATASETS, prefix="datasets/")
    platform = tmp_path / "platform"
    platform.mkdir()
    (platform / "ns.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml-serving"}}))
    drill = f"e2e-restore-{uuid.uuid4().hex[:6]}"
    file = scenario(tmp_path, kind_testbed, drill=drill, platform=platform, path="./",
                    workloads={}, budgets={"cluster": "4m", "bootstrap": "4m",
                                           "workloads": "2m", "backups": "5m"},
                    pools=(CPU_POOL,))
    data = yaml.safe_load(file.read_text())
    data["spec"]["cluster"]["kind"]["loadImages"].append(drdrill_image)
    data["spec"]["backups"] = {
        "s3": {"endpointUrl": s3.endpoint},  # 127.0.0.1: drdrill relays it for the pods
        "sets": [
            {"name": "models", "bucket": bucket, "prefix": "models/", "holds": "artifacts",
             "manifestKey": "models/MANIFEST.json", "verify": {"mode": "sample", "count": 1},
             "inCluster": {"image": drdrill_image, "size": "64Mi"}},
            {"name": "datasets", "bucket": bucket, "prefix": "datasets/", "holds": "dataset",
             "manifestKey": "datasets/MANIFEST.json",
             "inCluster": {"image": drdrill_image, "credentialsSecret": "no-such-secret"}},
        ],
    }
    file.write_text(yaml.safe_dump(data, sort_keys=False))
    watch = DrillWatch(kind_testbed, tmp_path, drill, file, "--keep-cluster")
    try:
        code, out, err = watch.wait()
        print(f"in-cluster restore drill on kind end to end: "
              f"{time.monotonic() - watch.started:.1f} s")
        report = watch.report()
        print({p["name"]: round(p.get("durationSeconds") or 0, 1) for p in report["phases"]})
        assert code == 1, err[-3000:]  # the datasets set's restore pod cannot start
        sets = {b["name"]: b for b in report["backups"]}
        models = sets["models"]
        assert models["verified"] and models["objectsChecked"] == 1  # the host's sample
        inside = models["inCluster"]
        print("models in the cluster:", inside)
        assert inside["simulated"] is False and inside["verified"] is True, inside
        assert inside["objects"] == len(MODELS)  # the whole set, not the host's sample
        assert inside["bytes"] == sum(len(v) for v in MODELS.values())
        assert inside["seconds"] > inside["transferSeconds"] > 0  # pod start-up included
        assert inside["image"] == drdrill_image
        datasets = sets["datasets"]["inCluster"]
        assert datasets["verified"] is False
        assert "CreateContainerConfigError" in datasets["message"], datasets
        assert "no-such-secret" in datasets["message"], datasets
        backups = next(p for p in report["phases"] if p["name"] == "backups")
        assert backups["status"] == "failed"
        assert "set datasets not restored in the cluster" in backups["message"]
        assert s3.secret_key not in out + err
        for name in ("report.json", "report.md", "report.html", "junit.xml"):
            assert s3.secret_key not in (
                tmp_path / "reports" / drill / "latest" / name).read_text()
        cluster = watch.cluster()
        assert cluster is not None
        left = cluster.kubectl("get", "namespace", "drdrill-restore", "--ignore-not-found",
                               "-o", "jsonpath={.status.phase}")
        assert left.strip() in ("", "Terminating"), left  # deleted by the drill's teardown
    finally:
        if watch.process.poll() is None:
            watch.process.kill()
        watch.cluster_down()
    watch.assert_nothing_left()
