"""A whole drill on kwok whose Git repository installs ML CRDs and custom resources.

The CRDs arrive from Git during bootstrap, after the cluster (and the simulated operator)
started: the kwok Stages of earlier versions never picked such CRDs up. The report must say
which custom resources were simulated and how, and a model server that asks for GPUs on a
cluster without any must fail the drill, early and with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.integration.gitops.drills import (
    NAMESPACE,
    base_env,
    phase,
    run_drill,
    write_repo,
    write_scenario,
)

DEMO_CRDS = (Path(__file__).resolve().parents[3] / "scenarios" / "demo" / "platform" /
             "clusters" / "demo" / "crds.yaml")


def _crds() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(DEMO_CRDS.read_text(encoding="utf-8")) if d]


def inference_service(name: str, *, gpus: int = 0) -> dict[str, Any]:
    model: dict[str, Any] = {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://m/x/"}
    if gpus:
        model["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": name, "namespace": "ml-serving"},
            "spec": {"predictor": {"model": model}}}


NOTEBOOK = {"apiVersion": "kubeflow.org/v1", "kind": "Notebook",
            "metadata": {"name": "research", "namespace": "ml-serving"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "notebook", "image": "example.com/jupyter:1",
                 "resources": {"requests": {"cpu": "2", "memory": "8Gi"}}}]}}}}


def test_gpu_model_on_a_cluster_without_gpus_fails_and_the_report_says_what_was_simulated(
    tmp_path: Path,
) -> None:
    write_repo(tmp_path, [NAMESPACE, *_crds(), NOTEBOOK, inference_service("fraud"),
                          inference_service("llm", gpus=8)])
    scenario = write_scenario(tmp_path, name="sim-no-gpu", gitops={},
                              pools=[{"name": "cpu", "count": 2}])
    result, report = run_drill(scenario, env=base_env(tmp_path))
    assert report, result.stderr[-2000:]
    workloads = phase(report, "workloads")
    assert workloads["status"] == "failed"
    assert workloads["durationSeconds"] < 60, "the capacity verdict came only at the deadline"
    by_name = {w["name"]: w for w in report["workloads"]}
    llm, fraud, notebook = by_name["llm"], by_name["fraud"], by_name["research"]
    assert not llm["healthy"]
    assert "8 nvidia.com/gpu" in llm["reason"] and "(simulated)" in llm["reason"]
    assert fraud["healthy"] and notebook["healthy"]
    assert llm["simulated"] and fraud["simulated"] and notebook["simulated"]
    assert report["verdict"] == "fail"
    simulation = report["simulation"]
    assert simulation["pods"] is True
    assert "kwok" in simulation["description"]
    outcomes = {(r["kind"], r["name"]): (r["outcome"], r["simulator"])
                for r in simulation["customResources"]}
    assert outcomes == {
        ("InferenceService", "fraud"): ("ready", "drdrill-kwok/InferenceService"),
        ("InferenceService", "llm"): ("insufficient-capacity", "drdrill-kwok/InferenceService"),
        ("Notebook", "research"): ("ready", "drdrill-kwok/Notebook"),
    }
