"""deploy/: the Kustomize bases build with the test bed's kubectl, their example scenarios are
valid drills, and the API server accepts them (server-side dry-run on the local kwok
cluster); the CronJob's account has no rights where it runs, the drill identity has them on
the drill cluster only."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from drdrill import testbed
from drdrill.clusters.base import ClusterInfo
from drdrill.scenario import load_scenario

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def kubectl(*args: str, kubeconfig: Path | None = None,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    extra = ("--kubeconfig", str(kubeconfig)) if kubeconfig else ()
    return subprocess.run([str(testbed.testbed_binary("kubectl")), *extra, *args], input=stdin,
                          capture_output=True, text=True, timeout=120, check=False)


def build(folder: str) -> tuple[str, list[dict[str, object]]]:
    done = kubectl("kustomize", str(DEPLOY / folder))
    assert done.returncode == 0, done.stderr
    return done.stdout, [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.mark.parametrize("folder", ["base", "simulated"])
def test_cronjob_bases_build_and_the_server_accepts_them(folder: str, namespace: str,
                                                        kwok_cluster: ClusterInfo) -> None:
    text, objects = build(folder)
    kinds = sorted(str(o["kind"]) for o in objects)
    assert kinds == ["ConfigMap", "ConfigMap", "CronJob", "ServiceAccount"]
    cronjob = next(o for o in objects if o["kind"] == "CronJob")
    job = cronjob["spec"]["jobTemplate"]["spec"]  # type: ignore[index]
    pod = job["template"]["spec"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"  # type: ignore[index]
    assert job["backoffLimit"] == 0
    assert pod["automountServiceAccountToken"] is False
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    expected_image = "drdrill-testbed:0.1.0" if folder == "simulated" else "drdrill:0.1.0"
    assert pod["containers"][0]["image"] == expected_image
    scenario_map = next(o for o in objects if o["kind"] == "ConfigMap"
                        and str(o["metadata"]["name"]).startswith("drdrill-scenario"))  # type: ignore[index]
    assert f"name: {scenario_map['metadata']['name']}" in text  # type: ignore[index]  # hash suffix wired in

    applied = kubectl("apply", "--server-side", "--dry-run=server", "-n", namespace, "-f", "-",
                      kubeconfig=kwok_cluster.kubeconfig, stdin=text)
    assert applied.returncode == 0, applied.stderr
    assert "cronjob.batch/drdrill serverside-applied (server dry run)" in applied.stdout


def test_example_scenarios_are_valid_drills() -> None:
    assert load_scenario(DEPLOY / "base" / "scenario.yaml").spec.cluster.provider == "existing"
    assert load_scenario(DEPLOY / "simulated" / "scenario.yaml").spec.cluster.provider == "kwok"


def test_home_account_has_no_rights_and_drill_identity_is_for_the_drill_cluster(
        namespace: str, kwok_cluster: ClusterInfo) -> None:
    text, _ = build("base")
    config = kwok_cluster.kubeconfig
    assert kubectl("apply", "--server-side", "-n", namespace, "-f", "-", kubeconfig=config,
                   stdin=text).returncode == 0
    home = f"system:serviceaccount:{namespace}:drdrill"
    for verb, resource in (("get", "secrets"), ("list", "pods"), ("create", "deployments")):
        can = kubectl("auth", "can-i", verb, resource, "-n", namespace, f"--as={home}",
                      kubeconfig=config)
        assert can.stdout.strip() == "no", (verb, resource, can.stdout, can.stderr)

    drill_text, drill_objects = build("drill-cluster")
    assert {str(o["kind"]) for o in drill_objects} == {
        "Namespace", "ServiceAccount", "Secret", "ClusterRoleBinding"}
    try:
        applied = kubectl("apply", "--server-side", "-f", "-", kubeconfig=config,
                          stdin=drill_text)
        assert applied.returncode == 0, applied.stderr
        can = kubectl("auth", "can-i", "create", "customresourcedefinitions",
                      "--as=system:serviceaccount:drdrill-system:drdrill", kubeconfig=config)
        assert can.stdout.strip() == "yes"
    finally:
        kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-", kubeconfig=config,
                stdin=drill_text)
