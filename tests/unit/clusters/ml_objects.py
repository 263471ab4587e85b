"""Objects of every kind the kwok simulation serves, asking for given resources per pod."""

from __future__ import annotations

from typing import Any

from drdrill.clusters.simulated_kinds import KUBEFLOW_TRAINING_KINDS, SIMULATED_KINDS


def container(**requests: str) -> dict[str, Any]:
    """A container asking for `requests` (`nvidia_gpu` stands for nvidia.com/gpu)."""
    names = {"nvidia_gpu": "nvidia.com/gpu"}
    resources = {"requests": {names.get(k, k): v for k, v in requests.items()}} if (
        requests) else {}
    return {"name": "main", "image": "example.com/model:1", "resources": resources}


def pod_template(**requests: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [container(**requests)]}}


def _obj(api_version: str, kind: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": "x", "namespace": "ml", "uid": "u-1", "generation": 3,
                         **metadata},
            "spec": spec}


def sample(kind: str, **requests: str) -> dict[str, Any]:
    """An object of a simulated kind whose (every) pod asks for `requests`."""
    if kind == "InferenceService":
        return _obj("serving.kserve.io/v1beta1", kind, {"predictor": {"model": {
            "modelFormat": {"name": "sklearn"}, "storageUri": "s3://m/x/",
            **({"resources": container(**requests)["resources"]} if requests else {})}}})
    if kind == "Notebook":
        return _obj("kubeflow.org/v1", kind, {"template": pod_template(**requests)})
    ray_cluster = {"headGroupSpec": {"template": pod_template(cpu="2")},
                   "workerGroupSpecs": [{"groupName": "gpu", "replicas": 2,
                                         "template": pod_template(**requests)}]}
    if kind == "RayCluster":
        return _obj("ray.io/v1", kind, ray_cluster)
    if kind == "RayService":
        return _obj("ray.io/v1", kind, {"rayClusterConfig": ray_cluster})
    if kind in KUBEFLOW_TRAINING_KINDS:
        key = {"PyTorchJob": "pytorch", "TFJob": "tf", "MPIJob": "mpi", "XGBoostJob": "xgb",
               "PaddleJob": "paddle", "JAXJob": "jax"}[kind]
        return _obj("kubeflow.org/v1", kind, {f"{key}ReplicaSpecs": {
            "Master": {"replicas": 1, "template": pod_template(cpu="1")},
            "Worker": {"replicas": 3, "template": pod_template(**requests)}}})
    if kind == "TrainJob":
        trainer: dict[str, Any] = {"numNodes": 2}
        if requests:
            trainer["resourcesPerNode"] = container(**requests)["resources"]
        return _obj("trainer.kubeflow.org/v1alpha1", kind,
                    {"runtimeRef": {"name": "torch-distributed"}, "trainer": trainer})
    if kind == "Workflow":
        return _obj("argoproj.io/v1alpha1", kind, {"entrypoint": "main", "templates": [
            {"name": "main", "steps": [[{"name": "train", "template": "train"}]]},
            {"name": "train", "container": container(**requests)}]})
    if kind == "Application":
        return _obj("argoproj.io/v1alpha1", kind, {
            "project": "default", "source": {"repoURL": "https://git.example.com/p.git",
                                             "targetRevision": "main", "path": "apps"},
            "destination": {"server": "https://kubernetes.default.svc"}})
    raise AssertionError(kind)


ALL_KINDS = sorted(kind for _, kind in SIMULATED_KINDS)
PODDED_KINDS = [kind for kind in ALL_KINDS if kind != "Application"]
