"""Canary secrets through a real drill on the local test bed: the S3 secret key in the AWS
environment, a secret file's content, and a bootstrap script (the shipped Flux script behind a
few lines) that prints both, its whole environment and a bearer token. Neither the canaries
nor their base64 forms appear on stdout, stderr or in any report file, in both log formats,
with and without -v; the script never sees the AWS variables at all."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from drdrill.backups.manifest import ManifestEntry, render_manifest
from drdrill.gitops.bootstrap import BOOTSTRAP_ROOT
from tests.integration.hardening.campaign import write_platform
from tests.integration.s3_server import CANARY_SECRET, S3Server, credential_env

FILE_CANARY = "CANARY-deploy-token-5b0e2f71"
NOISY_SCRIPT = f"""#!/usr/bin/env bash
echo "deploy token: $(cat "$DRDRILL_SECRET_DEPLOY_TOKEN_FILE")"
echo "Authorization: Bearer {FILE_CANARY}"
env | grep '^AWS_' || echo "no AWS_ variables in the script's environment"
exec bash "{BOOTSTRAP_ROOT / 'flux' / 'v2.7' / 'bootstrap.sh'}"
"""


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Path:
    root = tmp_path_factory.mktemp("canary")
    client = s3_server.client()
    bucket = f"canary-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    data = b"weights"
    client.put_object(Bucket=bucket, Key="set/model/w.bin", Body=data)
    client.put_object(Bucket=bucket, Key="set/MANIFEST.json", Body=render_manifest(
        created_at=datetime.now(UTC) - timedelta(minutes=5),
        entries=[ManifestEntry("model/w.bin", len(data), hashlib.sha256(data).hexdigest())]))
    write_platform(root, s3_uri=f"s3://{bucket}/set/model/")
    script = root / "scripts" / "flux" / "v2.7" / "bootstrap.sh"
    script.parent.mkdir(parents=True)
    script.write_text(NOISY_SCRIPT)
    (root / "deploy_token").write_text(f"{FILE_CANARY}\n")
    document = {
        "apiVersion": "drdrill/v1alpha1", "kind": "Drill",
        "metadata": {"name": f"canary-{uuid.uuid4().hex[:6]}"},
        "spec": {
            "cluster": {"provider": "kwok", "kwok": {"readinessDelay": "500ms"},
                        "nodePools": [{"name": "cpu", "count": 1}]},
            "gitops": {"engine": "flux", "version": "v2.7", "bootstrapDir": "./scripts",
                       "repository": {"path": "./platform"}, "ref": {"branch": "main"},
                       "path": "./clusters/drill",
                       "secretFiles": {"deploy-token": "./deploy_token"}},
            "backups": {"s3": {"endpointUrl": s3_server.endpoint},
                        "sets": [{"name": "models", "bucket": bucket, "prefix": "set/",
                                  "holds": "artifacts", "manifestKey": "set/MANIFEST.json"}]},
            "sla": {"rto": "10m", "rpo": "24h"},
        },
    }
    path = root / "drill.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _forms(value: str) -> list[str]:
    encoded = base64.b64encode(value.encode()).decode()
    return [value, encoded.rstrip("="), encoded[4:-4]]


@pytest.mark.parametrize("flags", [["--log-format", "json", "-v"], ["--log-format", "console"]],
                         ids=["json-verbose", "console"])
def test_no_canary_leaves_a_real_drill(scenario: Path, s3_server: S3Server, tmp_path: Path,
                                       flags: list[str]) -> None:
    reports = tmp_path / "reports"
    env = {**os.environ, **credential_env(s3_server), "XDG_STATE_HOME": str(tmp_path / "state"),
           "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "drdrill", *flags, "run", str(scenario), "--report-dir",
         str(reports)], cwd=scenario.parent, env=env, capture_output=True, text=True,
        timeout=400, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = {"stdout": result.stdout, "stderr": result.stderr}
    outputs |= {str(p): p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file()}
    assert len(outputs) >= 6
    hits = [f"{where}: {form}" for where, text in outputs.items()
            for secret in (CANARY_SECRET, FILE_CANARY) for form in _forms(secret)
            if form in text]
    assert hits == []
    assert "no AWS_ variables in the script's environment" in result.stderr
    assert "deploy token: [redacted]" in result.stderr


FLUX_CANARY = "CANARY-git-password-8d41c7a2"


@pytest.mark.parametrize("flags", [["--log-format", "json", "-v"], ["--log-format", "console"]],
                         ids=["json-verbose", "console"])
def test_no_canary_from_a_flux_error_about_a_remote_with_credentials(
        tmp_path: Path, flags: list[str]) -> None:
    """A child GitRepository whose URL carries a password, on a git host that refuses it
    (401): source-controller's own error quotes the URL, the drill fails naming the
    GitRepository, and the password is in no output."""
    from tests.integration.gitops.drills import NAMESPACE, deployment, write_repo, write_scenario
    from tests.unit.gitops.test_remotes import _NeedsAuth

    host = ThreadingHTTPServer(("127.0.0.1", 0), _NeedsAuth)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    url = f"http://flux-bot:{FLUX_CANARY}@127.0.0.1:{host.server_address[1]}/team-models.git"
    write_repo(tmp_path, [NAMESPACE, deployment("serve")])
    team = tmp_path / "platform" / "clusters" / "drill" / "team.yaml"
    team.write_text(yaml.safe_dump_all([
        {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
         "metadata": {"name": "team-models", "namespace": "flux-system"},
         "spec": {"url": url, "interval": "1m", "ref": {"branch": "main"}}},
        {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
         "metadata": {"name": "team-models", "namespace": "flux-system"},
         "spec": {"interval": "1m", "path": "./", "prune": True,
                  "sourceRef": {"kind": "GitRepository", "name": "team-models"}}},
    ], sort_keys=False))
    kustomization = team.parent / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace(
        "- objects.yaml", "- objects.yaml\n- team.yaml"))
    scenario = write_scenario(tmp_path, name=f"flux-canary-{uuid.uuid4().hex[:6]}", gitops={},
                              sla={"rto": "4m", "phases": {"bootstrap": "2m",
                                                           "workloads": "60s"}})
    reports = tmp_path / "reports"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "drdrill", *flags, "run", str(scenario), "--report-dir",
             str(reports)], cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1",
                                              "XDG_STATE_HOME": str(tmp_path / "s")},
            capture_output=True, text=True, timeout=400, check=False)
    finally:
        host.shutdown()
        host.server_close()
    assert result.returncode == 1, result.stderr[-3000:]
    outputs = {"stdout": result.stdout, "stderr": result.stderr}
    outputs |= {str(p): p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file()}
    # the failure is reported, naming the remote (so the URL did pass through)
    assert any("team-models" in text for where, text in outputs.items()
               if where.endswith("report.json")), result.stderr[-2000:]
    hits = [f"{where}: {form}" for where, text in outputs.items()
            for form in _forms(FLUX_CANARY) if form in text]
    assert hits == []
