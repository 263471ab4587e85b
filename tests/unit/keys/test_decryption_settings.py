"""Which decryption Secrets a Flux drill provides, and how kustomize-controller's decryption
error is said."""

from __future__ import annotations

from pathlib import Path

import yaml

from drdrill.engine.phases.bootstrap import decryption_secrets, explain_decryption_failure
from drdrill.gitops.layout import RepoFiles, find_decryption_secrets
from drdrill.scenario.models import GitOpsSpec

CHILD = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
         "metadata": {"name": "apps", "namespace": "flux-system"},
         "spec": {"path": "./apps", "decryption": {"provider": "sops",
                                                   "secretRef": {"name": "sops-apps"}}}}
PATCHED = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
           "resources": ["gotk-sync.yaml"],
           "patches": [{"target": {"kind": "Kustomization", "name": "flux-system"},
                        "patch": yaml.safe_dump({
                            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                            "kind": "Kustomization", "metadata": {"name": "flux-system"},
                            "spec": {"decryption": {"provider": "sops",
                                                    "secretRef": {"name": "sops-gpg"}}}})}]}


def _files() -> RepoFiles:
    return RepoFiles(files={"clusters/x/apps.yaml": yaml.safe_dump(CHILD).encode(),
                            "clusters/x/flux-system/kustomization.yaml":
                                yaml.safe_dump(PATCHED).encode()}, revision="c")


def test_secrets_named_in_git_by_kustomizations_and_their_patches() -> None:
    assert set(find_decryption_secrets(_files())) == {("flux-system", "sops-apps"),
                                                      (None, "sops-gpg")}


def test_the_drill_provides_the_roots_secret_and_every_one_git_names() -> None:
    gitops = GitOpsSpec.model_validate({
        "version": "v2.7", "repository": {"path": "./p"},
        "decryption": {"provider": "sops", "keyFile": "./age.agekey"}})
    assert decryption_secrets(gitops, namespace="flux-system", files=_files()) == [
        ("flux-system", "sops-age"), ("flux-system", "sops-apps"), ("flux-system", "sops-gpg")]
    plain = GitOpsSpec.model_validate({"version": "v2.7", "repository": {"path": "./p"}})
    assert decryption_secrets(plain, namespace="flux-system", files=_files()) == []


def test_decryption_failure_names_the_secret_and_the_key_file() -> None:
    message = ("Kustomization BuildFailed: decryption failed for 'Secret.v1.[noGrp]/hf-token': "
               "failed to decrypt and format 'ml-serving/hf-token' Secret data: cannot get "
               "sops data key:\n\nGroup 0: FAILED\n  age1xyz: FAILED")
    said = explain_decryption_failure(message, key_file=Path("/vault/age.agekey"))
    assert said is not None
    assert said.startswith("Secret ml-serving/hf-token cannot be decrypted with the key in "
                           "/vault/age.agekey: Kustomization BuildFailed: ")
    assert "\n" not in said and "Group 0: FAILED age1xyz: FAILED" in said
    assert explain_decryption_failure("Kustomization BuildFailed: kustomize build failed",
                                      key_file=Path("/k")) is None


def test_decryption_is_flux_only_and_keys_take_a_budget() -> None:
    import pytest
    from pydantic import ValidationError

    from drdrill.scenario.models import PhaseBudgets

    with pytest.raises(ValidationError, match="decryption: only for engine flux"):
        GitOpsSpec.model_validate({"engine": "argocd", "version": "v3.1",
                                   "repository": {"path": "./p"},
                                   "decryption": {"keyFile": "./age.agekey"}})
    with pytest.raises(ValidationError):
        GitOpsSpec.model_validate({"version": "v2.7", "repository": {"path": "./p"},
                                   "decryption": {"provider": "gpg", "keyFile": "./k"}})
    assert PhaseBudgets.model_validate({"keys": "30s"}).keys == "30s"
