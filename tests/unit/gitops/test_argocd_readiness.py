"""Argo CD readiness and the app-of-apps closure, judged from plain Application dicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drdrill.gitops.argocd import REFRESH_ANNOTATION, application_state
from drdrill.gitops.argocd_bootstrap import argocd_script_env
from drdrill.gitops.argocd_tree import ApplicationTracker, ArgoRef
from drdrill.scenario.models import ArgoCDOptions

SHA = "ea9219ac517553a2439812a42de30e4991a2901b"
OLD = "f" * 40


@pytest.mark.parametrize(
    ("status", "ready", "failed"),
    [
        ({"health": {"status": "Healthy"}, "sync": {"status": "Synced", "revision": SHA}},
         True, False),
        # Only the resolved commit counts: a ref name (what a simulation would echo) does not.
        ({"health": {"status": "Healthy"}, "sync": {"status": "Synced", "revision": "main"}},
         False, False),
        ({"health": {"status": "Healthy"}, "sync": {"status": "Synced", "revision": OLD}},
         False, False),
        ({"health": {"status": "Healthy"},
          "sync": {"status": "Synced", "revisions": [SHA, "1.2.3"]}}, True, False),
        ({"health": {"status": "Progressing"}, "sync": {"status": "OutOfSync"}}, False, False),
        ({"health": {"status": "Degraded", "message": "crash"},
          "sync": {"status": "Synced", "revision": SHA}}, False, True),
        # Degraded at an older commit while the new one syncs: not final.
        ({"health": {"status": "Degraded"}, "sync": {"status": "OutOfSync", "revision": OLD}},
         False, False),
        ({"operationState": {"phase": "Failed", "message": "one or more objects failed",
                             "syncResult": {"revision": SHA, "resources": [
                                 {"kind": "ConfigMap", "namespace": "ml", "name": "bad",
                                  "status": "SyncFailed", "message": "is invalid: data"}]}}},
         False, True),
    ],
    ids=["commit", "ref-name", "other-commit", "multi-source", "progressing", "degraded",
         "degraded-old", "sync-failed"],
)
def test_application_state(status: dict[str, Any], ready: bool, failed: bool) -> None:
    state = application_state({"status": status}, expected_commit=SHA)
    assert state.ready is ready
    assert (state.failure is not None) is failed


def test_sync_failure_names_the_rejected_resource() -> None:
    state = application_state({"status": {"operationState": {
        "phase": "Failed", "message": "one or more objects failed to apply",
        "syncResult": {"revision": SHA, "resources": [
            {"kind": "ConfigMap", "namespace": "ml", "name": "bad", "status": "SyncFailed",
             "message": "ConfigMap \"bad\" is invalid"}]}}}}, expected_commit=SHA)
    assert state.failure == 'Application sync failed: ConfigMap ml/bad: ConfigMap "bad" is invalid'


def test_comparison_error_is_reported_as_a_condition() -> None:
    state = application_state({"metadata": {"annotations": {REFRESH_ANNOTATION: "hard"}},
                               "status": {"conditions": [
                                   {"type": "ComparisonError", "message": "app path does not "
                                    "exist"}], "sync": {"status": "Unknown"}}},
                              expected_commit=SHA)
    assert not state.ready and state.failure is None
    assert state.error_condition == "ComparisonError: app path does not exist"


def app(name: str, *, resources: list[dict[str, Any]], health: str = "Healthy",
        owner: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "argocd"}
    if owner:
        metadata["ownerReferences"] = [{"kind": "ApplicationSet", "name": owner}]
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": metadata,
            "status": {"health": {"status": health},
                       "sync": {"status": "Synced", "revision": SHA},
                       "reconciledAt": "2026-11-30T10:00:00Z", "resources": resources}}


def res(kind: str, name: str, namespace: str | None = "ml", group: str = "apps") -> dict[str, Any]:
    return {"group": group, "version": "v1", "kind": kind, "namespace": namespace, "name": name}


def child(name: str) -> dict[str, Any]:
    return {"group": "argoproj.io", "version": "v1alpha1", "kind": "Application",
            "namespace": "argocd", "name": name}


def test_app_of_apps_closure_follows_children_once_they_are_healthy() -> None:
    root = app("root", resources=[child("a"), child("b")])
    tracker = ApplicationTracker(root=root, root_ready_at=1.0)
    assert not tracker.settled()
    children = [app("a", resources=[res("Deployment", "serve")]),
                app("b", resources=[res("Deployment", "train")], health="Progressing")]
    tracker.observe([root, *children], at=2.0)
    assert not tracker.settled() and tracker.waiting() == ["Application argocd/b"]
    children[1] = app("b", resources=[res("Deployment", "train")])
    tracker.observe([root, *children], at=3.0)
    assert tracker.settled()
    found = {o.ref.describe(): [a.name for a in o.appliers] for o in tracker.tree().objects}
    assert found == {"Application argocd/a": ["root"], "Application argocd/b": ["root"],
                     "Deployment ml/serve": ["root", "a"], "Deployment ml/train": ["root", "b"]}
    ready = {layer.ref.name: layer.ready_at for layer in tracker.tree().layers}
    assert ready == {"root": 1.0, "a": 2.0, "b": 3.0}


def test_a_degraded_child_is_a_stopped_layer_with_argo_cds_message() -> None:
    root = app("root", resources=[child("a")])
    tracker = ApplicationTracker(root=root, root_ready_at=1.0)
    failing = app("a", resources=[res("Job", "migrate", group="batch")], health="Degraded")
    failing["status"]["health"]["message"] = "Job has reached the specified backoff limit"
    tracker.observe([root, failing], at=2.0)
    assert tracker.settled()
    [problem] = [layer.problem for layer in tracker.tree().layers if layer.problem]
    assert problem == "Application Degraded: Job has reached the specified backoff limit"


def appset_object(name: str, *conditions: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
            "metadata": {"name": name, "namespace": "argocd"},
            "status": {"conditions": list(conditions)}}


APPSET = {"group": "argoproj.io", "version": "v1alpha1", "kind": "ApplicationSet",
          "namespace": "argocd", "name": "teams"}


def test_applications_an_applicationset_generated_are_its_children_once_up_to_date() -> None:
    root = app("root", resources=[APPSET])
    tracker = ApplicationTracker(root=root, root_ready_at=1.0)
    generating = appset_object("teams", {"type": "ParametersGenerated", "status": "True"})
    # before its controller says the Applications are up to date, none may be missed
    tracker.observe([root], at=1.5, appsets=[generating])
    assert not tracker.settled() and tracker.waiting() == ["ApplicationSet argocd/teams"]
    done = appset_object("teams", {"type": "ResourcesUpToDate", "status": "True"})
    generated = app("team-a", resources=[res("Deployment", "a")], owner="teams")
    tracker.observe([root, generated], at=2.0, appsets=[done])
    tracker.observe([root, generated], at=2.5)
    chains = {o.ref.name: [a.describe() for a in o.appliers] for o in tracker.tree().objects}
    assert chains["a"] == ["Application argocd/root", "ApplicationSet argocd/teams",
                           "Application argocd/team-a"]
    assert tracker.settled() and not tracker.waits_for_appsets()


def test_an_applicationset_error_stops_its_layer_with_the_controllers_message() -> None:
    root = app("root", resources=[APPSET])
    tracker = ApplicationTracker(root=root, root_ready_at=1.0)
    failed = appset_object("teams", {"type": "ErrorOccurred", "status": "True",
                                     "reason": "ApplicationGenerationFromParamsError",
                                     "message": "failed to execute go template"})
    tracker.observe([root], at=2.0, appsets=[failed])
    assert tracker.settled()
    [problem] = [layer.problem for layer in tracker.tree().layers if layer.problem]
    assert problem == ("ApplicationSet ApplicationGenerationFromParamsError: "
                       "failed to execute go template")


def test_script_env_for_helm_values_and_further_sources(tmp_path: Path) -> None:
    options = ArgoCDOptions.model_validate({
        "helm": {"valueFiles": ["values.yaml", "$values/prod.yaml"]},
        "sources": [{"repoURL": "https://charts.example/", "chart": "iris",
                     "targetRevision": "1.2.3"}]})
    env = argocd_script_env(options, local_components=True, folder=tmp_path)
    assert env["DRDRILL_ARGOCD_COMPONENTS"] == "local"
    assert env["DRDRILL_HELM_VALUE_FILES"] == "values.yaml\n$values/prod.yaml"
    assert Path(env["DRDRILL_EXTRA_SOURCES_FILE"]).read_text() == (
        '- {"chart": "iris", "repoURL": "https://charts.example/", "targetRevision": '
        '"1.2.3"}\n')
    assert ArgoRef("v1", "Service", "ml", "x").group == ""


def test_a_rejected_object_ends_the_wait_while_argo_cd_still_retries() -> None:
    message = ('one or more objects failed to apply, reason: ConfigMap "Bad" is invalid: '
               "metadata.name: Invalid value. Retrying attempt #1 at 11:19AM.")
    retrying = {"phase": "Running", "retryCount": 1, "message": message,
                "operation": {"sync": {"revision": SHA}}}
    state = application_state({"status": {"operationState": retrying}}, expected_commit=SHA)
    assert state.failure is not None and state.failure.startswith("Application sync failed: ")
    transient = {**retrying, "message": "the server could not find the requested resource"}
    assert application_state({"status": {"operationState": transient}},
                             expected_commit=SHA).failure is None
