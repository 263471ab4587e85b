"""BackupsPhase in a drill context: Git references, skipping, time budget."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from drdrill.engine.context import DrillContext, RunOptions
from drdrill.engine.phases.backups import BackupsPhase
from drdrill.errors import PhaseFailure
from drdrill.results import PhaseStatus
from drdrill.scenario.loader import scenario_from_data
from drdrill.timing import Deadline
from tests.integration.backups.helpers import (
    backup_set,
    new_bucket,
    payload,
    put_set,
    write_scenario,
)
from tests.integration.s3_server import S3Server

pytestmark = pytest.mark.integration


_MADE: list[DrillContext] = []


@pytest.fixture(autouse=True)
def _teardown() -> Iterator[None]:
    """Each test's contexts are torn down as a drill's are (the phase's temporary restore
    folder is removed then, not by the phase)."""
    yield
    while _MADE:
        _MADE.pop().cleanup.run()


def _context(scenario: Path, tmp_path: Path) -> DrillContext:
    data = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    loaded = scenario_from_data(data, where=str(scenario))
    ctx = DrillContext(scenario=loaded, options=RunOptions(report_dir=tmp_path / "reports"))
    _MADE.append(ctx)
    return ctx


def _isvc(uri: str, name: str = "iris") -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": "ml"},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                                         "storageUri": uri}}},
    }


def test_references_into_a_verified_set_are_restorable(
    s3_credentials: S3Server, tmp_path: Path
) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    put_set(client, bucket, {"iris/v1/model.joblib": payload("iris")})
    ctx = _context(write_scenario(tmp_path, s3_credentials, [backup_set(bucket)]), tmp_path)
    ctx.applied_objects = [_isvc(f"s3://{bucket}/set/iris/v1")]
    outcome = BackupsPhase().run(ctx, deadline=Deadline.after(60))
    assert outcome.status is PhaseStatus.PASSED, outcome.message
    [reference] = ctx.references
    assert reference.restorable and reference.backup_set == "models"
    assert reference.source == "InferenceService ml/iris: spec.predictor.model.storageUri"
    assert len(ctx.cleanup) == 1  # the temporary restore folder is removed at teardown


def test_reference_outside_the_backups_fails_the_phase(
    s3_credentials: S3Server, tmp_path: Path
) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    put_set(client, bucket, {"iris/v1/model.joblib": payload("iris")})
    ctx = _context(write_scenario(tmp_path, s3_credentials, [backup_set(bucket)]), tmp_path)
    ctx.applied_objects = [
        _isvc(f"s3://{bucket}/set/iris/v1"),
        _isvc(f"s3://{bucket}/set/llama/v2", name="llama"),
    ]
    with pytest.raises(PhaseFailure, match=r"1 s3:// reference\(s\) not in a verified set"):
        BackupsPhase().run(ctx, deadline=Deadline.after(60))
    restorable = {r.uri: r.restorable for r in ctx.references}
    assert restorable == {f"s3://{bucket}/set/iris/v1": True,
                          f"s3://{bucket}/set/llama/v2": False}
    assert ctx.backups[0].verified


def test_no_sets_and_no_rpo_is_skipped(s3_credentials: S3Server, tmp_path: Path) -> None:
    ctx = _context(write_scenario(tmp_path, s3_credentials, [], rpo=None), tmp_path)
    phase = BackupsPhase()
    assert not phase.required(ctx)
    outcome = phase.run(ctx, deadline=Deadline.after(60))
    assert outcome.status is PhaseStatus.SKIPPED
    assert "no backup sets" in outcome.message


def test_rpo_without_sets_fails(s3_credentials: S3Server, tmp_path: Path) -> None:
    ctx = _context(write_scenario(tmp_path, s3_credentials, [], rpo="1h"), tmp_path)
    assert BackupsPhase().required(ctx)
    with pytest.raises(PhaseFailure, match="nothing to measure"):
        BackupsPhase().run(ctx, deadline=Deadline.after(60))


def test_expired_deadline_never_passes(s3_credentials: S3Server, tmp_path: Path) -> None:
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    put_set(client, bucket, {"a.bin": payload("a"), "b.bin": payload("b")})
    ctx = _context(write_scenario(tmp_path, s3_credentials, [backup_set(bucket)]), tmp_path)
    # The listing itself stops at the deadline now (before any object is restored).
    with pytest.raises(PhaseFailure, match=r"time budget ran out|within the phase budget"):
        BackupsPhase().run(ctx, deadline=Deadline.after(0.0))
