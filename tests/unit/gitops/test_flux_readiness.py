"""Flux readiness rules on status snippets (the controllers' real condition shapes)."""

from __future__ import annotations

from typing import Any

import pytest

from drdrill.gitops.flux import commit_of, kustomization_readiness, source_readiness

SHA = "ea9219ac517553a2439812a42de30e4991a2901b"
REV = f"main@sha1:{SHA}"


def obj(generation: int = 1, **status: Any) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "status": status}


def ready(status: str, reason: str = "Succeeded", message: str = "", generation: int = 1) -> (
    dict[str, Any]
):
    return {"type": "Ready", "status": status, "reason": reason, "message": message,
            "observedGeneration": generation}


@pytest.mark.parametrize(("revision", "commit"), [(REV, SHA), (f"sha1:{SHA}", SHA), (SHA, SHA),
                                                  (f"v1.2.0@sha1:{SHA}", SHA)])
def test_commit_of(revision: str, commit: str) -> None:
    assert commit_of(revision) == commit


def test_source_ready_at_the_expected_commit() -> None:
    source = obj(observedGeneration=1, conditions=[ready("True")], artifact={"revision": REV})
    state = source_readiness(source, expected_commit=SHA)
    assert state.ready and state.revision == REV


def test_source_at_another_commit_is_not_ready() -> None:
    source = obj(observedGeneration=1, conditions=[ready("True")], artifact={"revision": REV})
    state = source_readiness(source, expected_commit="0" * 40)
    assert not state.ready and state.failure is None
    assert "expected" in state.waiting_for


def test_source_failed_attempt_is_a_failure_even_without_observed_generation() -> None:
    source = obj(observedGeneration=-1, conditions=[ready(
        "False", "GitOperationFailed", "unable to clone: connection refused")])
    state = source_readiness(source, expected_commit=None)
    assert state.failure is not None and "connection refused" in state.failure


def test_source_not_reconciled_for_a_new_generation() -> None:
    source = obj(generation=2, observedGeneration=1, conditions=[ready("True")],
                 artifact={"revision": REV})
    assert source_readiness(source, expected_commit=None).waiting_for


def test_kustomization_applied_the_source_revision() -> None:
    kustomization = obj(observedGeneration=1, conditions=[ready("True", "ReconciliationSucceeded")],
                        lastAppliedRevision=REV, lastAttemptedRevision=REV)
    assert kustomization_readiness(kustomization, source_revision=REV).ready


@pytest.mark.parametrize("source_revision", [None, REV])
def test_kustomization_waiting_for_its_source_is_not_a_failure(source_revision: str | None) -> (
    None
):
    kustomization = obj(conditions=[ready("False", "ArtifactFailed",
                                          "Source artifact not found, retrying in 30s")])
    state = kustomization_readiness(kustomization, source_revision=source_revision)
    assert not state.ready and state.failure is None


def test_kustomization_path_not_found_fails_without_attempted_revision() -> None:
    kustomization = obj(observedGeneration=-1, conditions=[ready(
        "False", "ArtifactFailed", "kustomization path not found: stat /tmp/k/x: no such file")])
    state = kustomization_readiness(kustomization, source_revision=REV)
    assert state.failure is not None


@pytest.mark.parametrize("reason", ["BuildFailed", "ReconciliationFailed", "ArtifactFailed"])
def test_kustomization_failure_on_the_current_revision(reason: str) -> None:
    kustomization = obj(observedGeneration=-1, lastAttemptedRevision=REV,
                        conditions=[ready("False", reason, "kustomization path not found")])
    state = kustomization_readiness(kustomization, source_revision=REV)
    assert state.failure is not None and "path not found" in state.failure
