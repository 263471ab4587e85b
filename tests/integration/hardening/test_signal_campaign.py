"""The signal campaign on the real local cluster: SIGINT and SIGTERM, single and double, at
moments spread over every phase (cluster create, bootstrap script, local Flux start, GitOps
wait, workloads wait, restore, teardown). Every run must exit 3 with a report whose verdict is
`interrupted`, and leave no process, port, temp folder or state file behind.

DRDRILL_CAMPAIGN=full sends all four kinds (SIGINT, SIGTERM, each single and double) at every
moment; the default sends one kind per moment, rotating, to keep CI within a few minutes.
The figures are written to $DRDRILL_CAMPAIGN_RESULTS (JSON) when set.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drdrill.backups.manifest import ManifestEntry, render_manifest
from tests.integration.hardening.campaign import (
    Interruption,
    Moment,
    Outcome,
    kill_leaked,
    run_interrupted,
    write_platform,
    write_scenario,
)
from tests.integration.s3_server import S3Server, Toxiproxy, credential_env

MOMENTS = [
    Moment("keys: before the cluster", r'"phase": "keys"', 0.0),
    Moment("cluster: create starting", r'"drill started"', 0.2),
    Moment("cluster: components starting", r'"drill started"', 2.0),
    Moment("cluster: apiserver up", r'"drill started"', 3.5),
    Moment("cluster: nodes", r'"drill started"', 5.0),
    Moment("bootstrap: script starting", r'"bootstrap script starting"', 0.0),
    Moment("bootstrap: script output", r'"event": "bootstrap"', 0.2),
    Moment("bootstrap: CRDs applied", r'serverside-applied', 0.0),
    Moment("bootstrap: script done", r'flux bootstrap: done', 0.0),
    Moment("bootstrap: Flux starting", r'"flux controller started"', 0.0),
    Moment("bootstrap: helm-controller starting", r'"controller": "helm-controller"', 0.0),
    Moment("gitops wait", r'"controller": "kustomize-controller"', 0.5),
    Moment("workloads wait: start", r'"phase": "bootstrap", "status": "passed"', 0.1),
    Moment("workloads wait: pods starting", r'"phase": "bootstrap", "status": "passed"', 1.2),
    Moment("workloads wait: late", r'"phase": "bootstrap", "status": "passed"', 2.5),
    Moment("restore: start", r'"phase": "workloads", "status"', 0.1),
    Moment("restore: mid-transfer", r'"phase": "workloads", "status"', 1.5),
    Moment("restore: late transfer", r'"phase": "workloads", "status"', 3.0),
    Moment("restore: set checked", r'"event": "backup set checked"', 0.0),
    Moment("teardown", r'"phase": "backups", "status"', 0.0),
]
KINDS = [(signal.SIGINT, False), (signal.SIGTERM, True), (signal.SIGTERM, False),
         (signal.SIGINT, True)]


def _interruptions() -> list[Interruption]:
    if os.environ.get("DRDRILL_CAMPAIGN") == "full":
        return [Interruption(m, s, d) for m in MOMENTS for s, d in KINDS]
    return [Interruption(m, *KINDS[i % len(KINDS)]) for i, m in enumerate(MOMENTS)]


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server,
          toxiproxy: Toxiproxy) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("campaign")
    client = s3_server.client()
    bucket = f"drill-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    entries = []
    for index in range(24):
        data = hashlib.sha256(str(index).encode()).digest() * 8192  # 256 KiB each
        key = f"model/part-{index:02d}.bin"
        client.put_object(Bucket=bucket, Key=f"set/{key}", Body=data)
        entries.append(ManifestEntry(key, len(data), hashlib.sha256(data).hexdigest()))
    client.put_object(Bucket=bucket, Key="set/MANIFEST.json", Body=render_manifest(
        created_at=datetime.now(UTC) - timedelta(minutes=5), entries=entries))
    # A bandwidth cap makes the restore last a few seconds: there is a mid-transfer to hit.
    endpoint = toxiproxy.proxy("campaign-s3", upstream=f"127.0.0.1:{s3_server.port}")
    toxiproxy.add_toxic("campaign-s3", name="slow", kind="bandwidth", rate=1024)
    write_platform(root, s3_uri=f"s3://{bucket}/set/model/")
    scenario = write_scenario(root, name=f"campaign-{uuid.uuid4().hex[:6]}",
                              endpoint=endpoint, bucket=bucket)
    return scenario, {**os.environ, **credential_env(s3_server)}


def test_the_drill_passes_when_left_alone(drill: tuple[Path, dict[str, str]],
                                          tmp_path: Path) -> None:
    scenario, env = drill
    outcome = run_interrupted(scenario, None, env=env, workdir=tmp_path)
    assert outcome.exit_code == 0, outcome.stderr_tail
    assert outcome.verdict == "pass"
    assert outcome.leaks == []


_RESULTS: list[Outcome] = []


@pytest.mark.parametrize("interruption", _interruptions(), ids=lambda i: i.label)
def test_an_interrupted_drill_exits_3_reports_interrupted_and_leaves_nothing(
        drill: tuple[Path, dict[str, str]], tmp_path: Path, interruption: Interruption) -> None:
    scenario, env = drill
    outcome = run_interrupted(scenario, interruption, env=env, workdir=tmp_path)
    _RESULTS.append(outcome)
    _write_figures()
    kill_leaked(outcome.leaked_pids)
    assert outcome.fired, f"the moment never came: {outcome.stderr_tail}"
    assert outcome.leaks == [], outcome.leaks
    assert outcome.exit_code == 3, outcome.stderr_tail
    assert outcome.verdict == "interrupted", outcome.stderr_tail
    assert outcome.seconds < 120


def _write_figures() -> None:
    target = os.environ.get("DRDRILL_CAMPAIGN_RESULTS")
    if not target:
        return
    figures = {
        "moments_interrupted": len({o.moment for o in _RESULTS}),
        "runs": len(_RESULTS),
        "signals_fired": sum(1 for o in _RESULTS if o.fired),
        "leaks": sum(len(o.leaks) for o in _RESULTS),
        "wrong_verdicts": sum(1 for o in _RESULTS if o.wrong_verdict),
        "runs_detail": [{"run": o.label, "exit": o.exit_code, "verdict": o.verdict,
                         "seconds": o.seconds, "leaks": o.leaks} for o in _RESULTS],
    }
    Path(target).write_text(json.dumps(figures, indent=2) + "\n")
