"""The in-cluster restore where pods are simulated (kwok) and where there is no cluster.

On kwok the Job, claim and ConfigMap are sent to the real kube-apiserver (which judges them)
but no pod runs, so the report must say the in-cluster restore was simulated and give it no
verdict; the host restore still verifies every byte against the real S3 server.
The real restore into a claim runs on kind: tests/e2e/test_kind_in_cluster_restore.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.integration.backups.helpers import backup_set, new_bucket, payload, put_set
from tests.integration.gitops.drills import (
    NAMESPACE,
    base_env,
    deployment,
    phase,
    run_drill,
    write_repo,
    write_scenario,
)
from tests.integration.s3_server import S3Server

pytestmark = pytest.mark.integration


def test_on_kwok_the_in_cluster_restore_is_created_but_labelled_simulated(
    tmp_path: Path, s3_credentials: S3Server
) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    put_set(client, bucket, {"iris/v1/model.joblib": payload("iris")})
    write_repo(tmp_path, [NAMESPACE, deployment("iris")])
    path = write_scenario(tmp_path, name="in-cluster-kwok", gitops={})
    data = yaml.safe_load(path.read_text())
    data["spec"]["backups"] = {"s3": {"endpointUrl": s3_credentials.endpoint},
                               "sets": [backup_set(bucket, inCluster={"size": "2Gi"})]}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result, report = run_drill(path, env=base_env(tmp_path))
    assert report.get("verdict") == "pass", (result.stderr[-3000:], report.get("phases"))
    [models] = report["backups"]
    assert models["verified"] and models["objectsChecked"] == 1  # the host restore, for real
    inside = models["inCluster"]
    assert inside["simulated"] is True and inside["verified"] is None
    assert inside["namespace"] == "drdrill-restore" and inside["claim"] == "drdrill-restore-models"
    assert "kwok" in inside["message"]
    assert "in-cluster restore(s) simulated" in phase(report, "backups")["message"]
    markdown = (tmp_path / "reports" / "in-cluster-kwok" / "latest" / "report.md").read_text()
    assert "in-cluster restore of models: SIMULATED" in markdown
    junit = (tmp_path / "reports" / "in-cluster-kwok" / "latest" / "junit.xml").read_text()
    assert 'name="models in cluster"' in junit and "<skipped" in junit
    assert s3_credentials.secret_key not in result.stderr + result.stdout
