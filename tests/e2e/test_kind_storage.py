"""End to end on kind: storage as on upstream kind. The test bed's node image carries
/kind/manifests/default-storage.yaml (rancher's local-path provisioner, built from source and
preloaded with its helper image; StorageClass `standard` as the default), which `kind create
cluster` applies, so a platform whose StatefulSet claims volumes through volumeClaimTemplates
recovers: the claim is Bound and the pod, which writes to the volume before it serves, is Ready.

The drill keeps its cluster (`--keep-cluster`) so that pytest-kind, the independent client,
looks at the claim, the volume and the pod after the drill; `drdrill cluster down` removes it.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import KindTestbed
from tests.e2e.test_kind_drills import CPU_POOL, DrillWatch, running, scenario

# a kind drill on 2 busy cores can take several minutes
pytestmark = pytest.mark.timeout(1500)

NAMESPACE = "feature-cache"
STATEFULSET = {
    "apiVersion": "apps/v1", "kind": "StatefulSet",
    "metadata": {"name": "embeddings", "namespace": NAMESPACE},
    "spec": {
        "serviceName": "embeddings", "replicas": 1,
        "selector": {"matchLabels": {"app": "embeddings"}},
        "template": {
            "metadata": {"labels": {"app": "embeddings"}},
            "spec": {"containers": [{
                "name": "server", "image": "drdrill.local/model-server:1.0",
                "imagePullPolicy": "Never",
                # the server writes DATA_DIR/served-by before it listens, and exits if it cannot
                "env": [{"name": "DATA_DIR", "value": "/data"},
                        {"name": "READY_AFTER", "value": "2s"}],
                "ports": [{"name": "http", "containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"},
                                   "periodSeconds": 2},
                "volumeMounts": [{"name": "cache", "mountPath": "/data"}],
            }]},
        },
        # no storageClassName: the cluster's default class must serve it
        "volumeClaimTemplates": [{
            "metadata": {"name": "cache"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "64Mi"}}},
        }],
    },
}


def write_platform(folder: Path) -> None:
    folder.mkdir()
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "embeddings", "namespace": NAMESPACE},
         "spec": {"clusterIP": "None", "selector": {"app": "embeddings"},
                  "ports": [{"name": "http", "port": 8080}]}},
        STATEFULSET,
    ]
    (folder / "platform.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))


def test_a_statefulset_with_volume_claims_recovers_on_kind_with_bound_volumes(
    tmp_path: Path, kind_testbed: KindTestbed
) -> None:
    platform = tmp_path / "platform"
    write_platform(platform)
    drill = f"e2e-pvc-{uuid.uuid4().hex[:6]}"
    file = scenario(tmp_path, kind_testbed, drill=drill, platform=platform, path="./",
                    workloads={},
                    budgets={"cluster": "4m", "bootstrap": "4m", "workloads": "4m"},
                    pools=(CPU_POOL,))
    watch = DrillWatch(kind_testbed, tmp_path, drill, file, "--keep-cluster")
    try:
        code, _, err = watch.wait()
        print(f"StatefulSet drill on kind end to end: {time.monotonic() - watch.started:.1f} s")
        assert code == 0, err[-3000:]
        report = watch.report()
        assert report["verdict"] == "pass"
        healthy = {(w["kind"], w["name"]): w for w in report["workloads"]}
        assert healthy[("StatefulSet", "embeddings")]["healthy"]

        cluster = watch.cluster()
        assert cluster is not None, "kind does not know the kept cluster"

        def get(*args: str) -> dict[str, Any]:
            return dict(json.loads(cluster.kubectl("get", *args, "-o", "json")))

        default = get("storageclass", "standard")
        assert default["provisioner"] == "rancher.io/local-path"
        assert default["metadata"]["annotations"][
            "storageclass.kubernetes.io/is-default-class"] == "true"
        claim = get("pvc", "cache-embeddings-0", "-n", NAMESPACE)
        assert claim["status"]["phase"] == "Bound"
        assert claim["spec"]["storageClassName"] == "standard"
        volume = get("pv", claim["spec"]["volumeName"])
        assert volume["metadata"]["annotations"][
            "pv.kubernetes.io/provisioned-by"] == "rancher.io/local-path"
        assert volume["spec"]["hostPath"]["path"].startswith("/var/local-path-provisioner/")
        pod = get("pod", "embeddings-0", "-n", NAMESPACE)
        assert running(pod), pod["status"]
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
        logs = cluster.kubectl("logs", "embeddings-0", "-n", NAMESPACE)
        assert "wrote /data/served-by" in logs, logs
        provisioner = watch.pods("local-path-storage")
        assert provisioner and all(running(p) for p in provisioner), provisioner
        assert {c["image"] for p in provisioner for c in p["spec"]["containers"]} == {
            "drdrill.local/local-path-provisioner:v0.0.30"}
    finally:
        if watch.process.poll() is None:
            watch.process.kill()
        watch.cluster_down()
    watch.assert_nothing_left()
