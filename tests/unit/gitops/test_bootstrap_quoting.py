"""The versioned bootstrap scripts write scenario values into YAML heredocs: a quote, a
backslash, a line break or YAML syntax in a value must come out as that same string, never as
extra keys. The scripts run for real under bash; `kubectl` is a stub that keeps what it is
asked to apply."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from drdrill.gitops.bootstrap import BOOTSTRAP_ROOT

STUB = """#!/usr/bin/env bash
# Record `apply -f -` input; accept everything else.
if [[ " $* " == *" -f - "* ]]; then cat >> "$STUB_OUT"; echo '---' >> "$STUB_OUT"; fi
exit 0
"""
HOSTILE_PATH = './apps"\n  prune: false\n  suspend: true\n  x: "'
HOSTILE_REF = 'main"\n    commit: "deadbeef'


def _run(tmp_path: Path, engine: str, version: str, **values: str) -> tuple[int, list, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "kubectl").write_text(STUB)
    (bin_dir / "kubectl").chmod(0o755)
    out = tmp_path / "applied.yaml"
    out.write_text("")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "KUBECONFIG": str(tmp_path / "k"),
           "STUB_OUT": str(out), "DRDRILL_INSTALL_MANIFESTS": str(tmp_path / "install.yaml"),
           "DRDRILL_REPO_URL": "http://127.0.0.1:1/r.git", "DRDRILL_REF_KIND": "branch",
           "DRDRILL_REF": "main", "DRDRILL_PATH": "./apps", "DRDRILL_NAMESPACE": "flux-system",
           "DRDRILL_NAME": "platform", "DRDRILL_INTERVAL": "1m", **values}
    script = BOOTSTRAP_ROOT / engine / version / "bootstrap.sh"
    result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    documents = [d for d in yaml.safe_load_all(out.read_text()) if d]
    return result.returncode, documents, result.stderr


@pytest.mark.parametrize("value", [HOSTILE_PATH, 'a\\"b', "x: {y: 1}", "#not-a-comment",
                                   "tab\there", "quote's"])
def test_flux_values_stay_strings(tmp_path: Path, value: str) -> None:
    code, documents, stderr = _run(tmp_path, "flux", "v2.7", DRDRILL_PATH=value,
                                   DRDRILL_REF=HOSTILE_REF)
    assert code == 0, stderr
    kustomization = next(d for d in documents if d["kind"] == "Kustomization")
    repository = next(d for d in documents if d["kind"] == "GitRepository")
    assert kustomization["spec"]["path"] == value
    assert kustomization["spec"]["prune"] is True and "suspend" not in kustomization["spec"]
    assert repository["spec"]["ref"] == {"branch": HOSTILE_REF}


def test_argocd_values_stay_strings(tmp_path: Path) -> None:
    code, documents, stderr = _run(tmp_path, "argocd", "v3.1", DRDRILL_PATH=HOSTILE_PATH,
                                   DRDRILL_REF=HOSTILE_REF, DRDRILL_NAMESPACE="argocd")
    assert code == 0, stderr
    application = next(d for d in documents if d["kind"] == "Application")
    assert application["spec"]["source"]["path"] == HOSTILE_PATH
    assert application["spec"]["source"]["targetRevision"] == HOSTILE_REF
    assert application["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_a_control_character_is_refused(tmp_path: Path) -> None:
    code, documents, stderr = _run(tmp_path, "flux", "v2.7", DRDRILL_PATH="./a\x1bb")
    assert code == 2 and "control character" in stderr
    assert not [d for d in documents if d.get("kind") == "Kustomization"]


def test_an_unknown_ref_kind_is_refused(tmp_path: Path) -> None:
    code, _, stderr = _run(tmp_path, "flux", "v2.7", DRDRILL_REF_KIND="branch: x\n    y")
    assert code == 2 and "DRDRILL_REF_KIND" in stderr
