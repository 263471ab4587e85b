"""The CRDs of every kind the kwok simulation serves, and installing or removing them for real.

KServe's InferenceService and Kubeflow's Notebook come from the demo platform's stand-ins, the
other operators' from `fixtures/ml-operator-crds.yaml` (same group, version, kind and status
subresource as upstream), Argo CD's Application from the real CRDs in the test bed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from drdrill.testbed import testbed_dir

ROOT = Path(__file__).resolve().parents[3]
STAND_INS = (
    ROOT / "scenarios" / "demo" / "platform" / "clusters" / "demo" / "crds.yaml",
    Path(__file__).resolve().parent / "fixtures" / "ml-operator-crds.yaml",
)
ARGOCD_APPLICATION = "applications.argoproj.io"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def ml_crds() -> dict[str, dict[str, Any]]:
    """CRD documents by kind."""
    found: dict[str, dict[str, Any]] = {}
    for path in STAND_INS:
        for document in _documents(path):
            found[document["spec"]["names"]["kind"]] = document
    for path in sorted((testbed_dir() / "crds" / "argocd").glob("*.yaml")):
        for document in _documents(path):
            if document.get("kind") == "CustomResourceDefinition" and (
                    document["metadata"]["name"] == ARGOCD_APPLICATION):
                found["Application"] = document
    assert "Application" in found, "the test bed has no Argo CD CRDs: run `make testbed`"
    return found


def plural(crd: dict[str, Any]) -> str:
    return str(crd["spec"]["names"]["plural"])


def storage_version(crd: dict[str, Any]) -> str:
    return str(next(v["name"] for v in crd["spec"]["versions"] if v.get("storage")))


def _established(api: Any, name: str) -> bool:
    try:
        crd = client.ApiextensionsV1Api(api).read_custom_resource_definition(name)
    except ApiException as err:
        if err.status == 404:
            return False
        raise
    return any(c.type == "Established" and c.status == "True"
               for c in (crd.status.conditions or []))


def install(api: Any, crds: list[dict[str, Any]], *, timeout: float = 30) -> None:
    """Create the CRDs that are missing and wait until every one is Established."""
    extensions = client.ApiextensionsV1Api(api)
    for crd in crds:
        try:
            extensions.create_custom_resource_definition(crd)
        except ApiException as err:
            if err.status != 409:
                raise
    ends = time.monotonic() + timeout
    for crd in crds:
        while not _established(api, crd["metadata"]["name"]):
            assert time.monotonic() < ends, f"{crd['metadata']['name']} not Established"
            time.sleep(0.1)


def remove(api: Any, crd: dict[str, Any], *, timeout: float = 60) -> None:
    """Delete a CRD (with all its objects) and wait until it is gone."""
    name = crd["metadata"]["name"]
    try:
        client.ApiextensionsV1Api(api).delete_custom_resource_definition(name)
    except ApiException as err:
        if err.status != 404:
            raise
    ends = time.monotonic() + timeout
    while True:
        try:
            client.ApiextensionsV1Api(api).read_custom_resource_definition(name)
        except ApiException as err:
            if err.status == 404:
                return
            raise
        assert time.monotonic() < ends, f"CRD {name} still there after {timeout}s"
        time.sleep(0.2)
