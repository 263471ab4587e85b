"""The Argo CD path on the local cluster: real CRDs and script, simulated Application status.

Argo CD cannot be built here, so drdrill's simulated operator plays its controller: Synced and
Healthy at the requested revision, or Degraded for an Application labelled
drdrill.dev/simulate=fail. The real controllers run in the opt-in kind test.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.gitops.drills import (
    CONFIGMAP,
    NAMESPACE,
    base_env,
    phase,
    run_drill,
    write_repo,
    write_scenario,
)

# The bundled script, with the Application labelled for the failure path when it is created
# (a label added afterwards would race with a Healthy status the drill may already have read).
LABELS = "labels: {app.kubernetes.io/managed-by: drdrill}"
FAILING_LABELS = "labels: {app.kubernetes.io/managed-by: drdrill, drdrill.dev/simulate: fail}"


def test_application_synced_and_healthy_passes_bootstrap(tmp_path: Path) -> None:
    write_repo(tmp_path, [NAMESPACE, CONFIGMAP])
    scenario = write_scenario(tmp_path, name="argo-pass",
                              gitops={"engine": "argocd", "version": "v3.1"})
    _, report = run_drill(scenario, env=base_env(tmp_path))
    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "passed", bootstrap
    assert report["bootstrap"]["engine"] == "argocd"
    assert report["bootstrap"]["revision"] == "main"
    [application] = report["simulation"]["customResources"]
    assert (application["kind"], application["name"], application["outcome"]) == (
        "Application", "platform", "ready")
    # Simulated status lists no resources: the drill says so instead of passing on nothing.
    workloads = phase(report, "workloads")
    assert workloads["status"] == "failed"
    assert "applied no workloads" in workloads["message"]
    assert report["verdict"] == "fail"


def test_degraded_application_fails_bootstrap_early(tmp_path: Path) -> None:
    bundled = Path(__file__).resolve().parents[3] / "bootstrap" / "argocd" / "v3.1" / "bootstrap.sh"
    script = tmp_path / "scripts" / "argocd" / "v3.1-degraded" / "bootstrap.sh"
    script.parent.mkdir(parents=True)
    bundled_text = bundled.read_text()
    assert LABELS in bundled_text
    script.write_text(bundled_text.replace(LABELS, FAILING_LABELS))
    write_repo(tmp_path, [NAMESPACE, CONFIGMAP])
    scenario = write_scenario(
        tmp_path, name="argo-degraded",
        gitops={"engine": "argocd", "version": "v3.1-degraded", "bootstrapDir": "./scripts"},
    )
    _, report = run_drill(scenario, env=base_env(tmp_path))
    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "failed"
    assert "Degraded" in bootstrap["message"] and "(simulated)" in bootstrap["message"]
    assert bootstrap["durationSeconds"] < 60
