"""Real drills with real Flux reconciliation on the local kwok cluster: passes and failures."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.gitops.drills import (
    CONFIGMAP,
    NAMESPACE,
    base_env,
    deployment,
    phase,
    run_drill,
    write_repo,
    write_scenario,
)


def git_head(folder: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_drill_passes_with_real_flux_and_records_the_commit(tmp_path: Path) -> None:
    repo = write_repo(tmp_path, [NAMESPACE, CONFIGMAP, deployment("model", replicas=2),
                                 deployment("gpu-model", gpus=1)])
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
                   cwd=repo, check=True)
    scenario = write_scenario(tmp_path, name="flux-pass", gitops={})
    result, report = run_drill(scenario, env=base_env(tmp_path))
    assert report["verdict"] == "pass", result.stderr[-2000:]  # no backups asked for
    assert phase(report, "bootstrap")["status"] == "passed", phase(report, "bootstrap")
    assert phase(report, "workloads")["status"] == "passed", phase(report, "workloads")
    assert report["bootstrap"]["revision"].endswith(git_head(repo))
    assert len(report["bootstrap"]["sha256"]) == 64
    names = {(w["kind"], w["name"]) for w in report["workloads"]}
    assert {("Deployment", "model"), ("Deployment", "gpu-model")} <= names
    assert all(w["healthy"] and w["readyAfterSeconds"] > 0 for w in report["workloads"])
    assert phase(report, "teardown")["status"] == "passed"


def test_unknown_path_fails_bootstrap_with_flux_reason(tmp_path: Path) -> None:
    write_repo(tmp_path, [NAMESPACE, CONFIGMAP])
    scenario = write_scenario(tmp_path, name="flux-nopath", gitops={"path": "./does/not/exist"})
    _, report = run_drill(scenario, env=base_env(tmp_path))
    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "failed"
    assert "Kustomization" in bootstrap["message"]
    assert "not found" in bootstrap["message"] or "no such file" in bootstrap["message"]
    assert bootstrap["durationSeconds"] < bootstrap["budgetSeconds"]
    assert phase(report, "workloads")["status"] == "skipped"


def test_unreachable_repository_fails_inside_the_budget(tmp_path: Path) -> None:
    scenario = write_scenario(
        tmp_path, name="flux-unreachable",
        gitops={"repository": {"url": "http://127.0.0.1:9/nothing.git"}},
    )
    _, report = run_drill(scenario, env=base_env(tmp_path))
    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "failed"
    assert "GitRepository" in bootstrap["message"]
    assert bootstrap["durationSeconds"] < bootstrap["budgetSeconds"]


def test_unknown_branch_fails_before_flux_runs(tmp_path: Path) -> None:
    write_repo(tmp_path, [NAMESPACE, CONFIGMAP])
    scenario = write_scenario(tmp_path, name="flux-nobranch",
                              gitops={"ref": {"branch": "release-9"}})
    _, report = run_drill(scenario, env=base_env(tmp_path))
    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "failed"
    assert "branch release-9 not found" in bootstrap["message"]


def test_manifest_rejected_by_the_apiserver_reports_flux_message(tmp_path: Path) -> None:
    broken = deployment("broken")
    broken["spec"]["replicas"] = -3  # the apiserver refuses a negative replica count
    write_repo(tmp_path, [NAMESPACE, broken])
    scenario = write_scenario(tmp_path, name="flux-rejected", gitops={})
    _, report = run_drill(scenario, env=base_env(tmp_path))
    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "failed"
    assert "Kustomization" in bootstrap["message"]
    assert "replicas" in bootstrap["message"]


def test_failing_bootstrap_script_keeps_its_output_tail(tmp_path: Path) -> None:
    script = tmp_path / "scripts" / "flux" / "v0.1" / "bootstrap.sh"
    script.parent.mkdir(parents=True)
    script.write_text("#!/usr/bin/env bash\nset -euo pipefail\necho 'installing flux'\n"
                      "echo 'error: cannot reach the registry mirror' >&2\nexit 7\n")
    write_repo(tmp_path, [NAMESPACE, CONFIGMAP])
    scenario = write_scenario(tmp_path, name="script-fails",
                              gitops={"version": "v0.1", "bootstrapDir": "./scripts"})
    _, report = run_drill(scenario, env=base_env(tmp_path))
    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "failed"
    assert "exited 7" in bootstrap["message"]
    assert report["bootstrap"]["exitCode"] == 7
    assert "error: cannot reach the registry mirror" in report["bootstrap"]["outputTail"]


def test_bootstrap_script_killed_at_its_budget(tmp_path: Path) -> None:
    script = tmp_path / "scripts" / "flux" / "v0.2" / "bootstrap.sh"
    script.parent.mkdir(parents=True)
    script.write_text("#!/usr/bin/env bash\necho started\nsleep 300 &\nsleep 300\n")
    write_repo(tmp_path, [NAMESPACE, CONFIGMAP])
    scenario = write_scenario(tmp_path, name="script-hangs",
                              gitops={"version": "v0.2", "bootstrapDir": "./scripts"},
                              sla={"rto": "4m", "phases": {"bootstrap": "5s"}})
    _, report = run_drill(scenario, env=base_env(tmp_path))
    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "failed"
    assert "ran out of its budget" in bootstrap["message"]
    assert bootstrap["durationSeconds"] < 15
    leftovers = subprocess.run(["pgrep", "-f", str(script)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""


@pytest.mark.parametrize("fault", ["crash-loop", "image-pull"])
def test_terminal_pod_failure_ends_the_workloads_wait_early(tmp_path: Path, fault: str) -> None:
    write_repo(tmp_path, [NAMESPACE, deployment("flaky", labels={"drdrill.dev/simulate": fault})])
    scenario = write_scenario(tmp_path, name=f"pod-{fault}", gitops={},
                              sla={"rto": "4m", "phases": {"workloads": "2m"}})
    _, report = run_drill(scenario, env=base_env(tmp_path))
    workloads = phase(report, "workloads")
    assert workloads["status"] == "failed"
    assert workloads["durationSeconds"] < 60
    flaky = next(w for w in report["workloads"] if w["name"] == "flaky")
    assert not flaky["healthy"]
    expected = "CrashLoopBackOff" if fault == "crash-loop" else "ImagePullBackOff"
    assert expected in flaky["reason"]


def test_gpu_shortage_is_reported_as_unschedulable(tmp_path: Path) -> None:
    write_repo(tmp_path, [NAMESPACE, deployment("too-big", gpus=8)])
    scenario = write_scenario(tmp_path, name="gpu-short", gitops={})
    _, report = run_drill(scenario, env=base_env(tmp_path))
    too_big = next(w for w in report["workloads"] if w["name"] == "too-big")
    assert not too_big["healthy"]
    assert "nvidia.com/gpu" in too_big["reason"]
    assert phase(report, "workloads")["durationSeconds"] < 60
