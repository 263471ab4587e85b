"""The offline key check with real tools: SOPS files encrypted by real `sops` for real
`age-keygen` keys, SealedSecrets sealed by real `kubeseal` from a certificate (offline), in a
git repository at the drilled ref. Runs the keys phase itself (it needs no cluster) and the
CLI for a bad key file."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from drdrill.engine.context import DrillContext, RunOptions
from drdrill.engine.phases.keys import KeysPhase
from drdrill.errors import PhaseFailure
from drdrill.logs import forget_registered_secrets, redact_text
from drdrill.results import PhaseStatus
from drdrill.scenario import load_scenario
from drdrill.timing import Deadline
from tests.integration.gitops.fleet import commit, kustomize_file, namespace, scenario, write
from tests.unit.keys.material import (
    age_keygen,
    key_backup,
    kubeseal,
    seal_value,
    sealed_secret,
    sealing_key,
    secret,
    sops_encrypt,
    tools,
)

# The first run builds sops, age and kubeseal from the module proxy (minutes on 2 cores).
pytestmark = pytest.mark.timeout(1800)

def _seal(cert: Path, key: Any, doc: dict[str, Any], *, scope: str = "strict") -> dict[str, Any]:
    binary = tools().kubeseal
    if binary is not None:
        return kubeseal(binary, cert, doc, scope=scope)
    # kubeseal could not be built: seal with the public key by the same scheme.
    meta = doc["metadata"]
    label = {"strict": f"{meta['namespace']}/{meta['name']}", "namespace-wide":
             meta["namespace"], "cluster-wide": ""}[scope]
    annotations = {} if scope == "strict" else {f"sealedsecrets.bitnami.com/{scope}": "true"}
    return sealed_secret(meta["name"], meta["namespace"], {
        k: seal_value(key.public_key(), v.encode(), label.encode())
        for k, v in doc["stringData"].items()}, annotations=annotations)


@pytest.fixture
def vault(tmp_path: Path) -> dict[str, Any]:
    """A repository with three SOPS Secrets (one with base64 `data`), a SOPS JSON Secret and
    three SealedSecrets
    (strict, cluster-wide, and one sealed with the older of two controller keys); the keys
    that open them and keys that do not."""
    found = tools()
    keys = tmp_path / "keys"
    keys.mkdir()
    right = age_keygen(found.age_keygen, keys / "age.agekey")
    age_keygen(found.age_keygen, keys / "wrong.agekey")
    pem, cert, key = sealing_key(keys, name="current")
    old_pem, old_cert, old_key = sealing_key(keys, name="old")
    wrong_pem, _, _ = sealing_key(keys, name="wrong")
    key_backup(keys / "sealed-secrets-keys.yaml", [pem, old_pem], [cert, old_cert])
    values = {"hf": secrets.token_urlsafe(24), "db": secrets.token_urlsafe(24),
              "blob": secrets.token_urlsafe(24)}
    repo = tmp_path / "fleet"
    apps = repo / "apps"
    write(apps, "hf-token.yaml", [secret("hf-token", "ml-serving", {"token": values["hf"]})])
    write(apps, "db.yaml", [secret("db", "ml-serving", {"password": values["db"]})])
    (apps / "settings.json").write_text(json.dumps({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "settings",
                                                           "namespace": "ml-serving"},
        "stringData": {"mode": "a"}}))
    write(apps, "blob.yaml", [{"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "blob", "namespace": "ml-serving"}, "data": {
            "blob": base64.b64encode(values["blob"].encode()).decode()}}])
    for name in ("hf-token.yaml", "db.yaml", "settings.json", "blob.yaml"):
        sops_encrypt(found.sops, apps / name, recipient=right)
    write(apps, "sealed.yaml", [
        _seal(cert, key, secret("registry", "ml-serving", {"token": "r-" + values["db"]})),
        _seal(cert, key, secret("shared", "ml-serving", {"ca": "shared-ca"}),
              scope="cluster-wide"),
        _seal(old_cert, old_key, secret("legacy", "ml-serving", {"k": "legacy-v"})),
    ])
    write(apps, "plain.yaml", [namespace("ml-serving")])
    kustomize_file(apps, ["plain.yaml"])
    commit(repo)
    return {"keys": keys, "values": values, "wrong_pem": wrong_pem, "repo": repo}


def _run_phase(path: Path) -> tuple[PhaseStatus, str]:
    ctx = DrillContext(scenario=load_scenario(path), options=RunOptions())
    phase = KeysPhase()
    assert phase.required(ctx)
    try:
        outcome = phase.run(ctx, deadline=Deadline.after(60))
    except PhaseFailure as failure:
        return PhaseStatus.FAILED, str(failure)
    return outcome.status, outcome.message


def test_right_age_and_sealing_keys_open_every_secret(tmp_path: Path,
                                                      vault: dict[str, Any]) -> None:
    forget_registered_secrets()
    path = scenario(tmp_path, name="keys-right", gitops={"keys": {
        "age": ["./keys/age.agekey"], "sealingKeys": ["./keys/sealed-secrets-keys.yaml"]}})
    status, message = _run_phase(path)
    assert status is PhaseStatus.PASSED, message
    assert message.startswith("7 encrypted secret(s) open with the keys given"), message
    # Every value that was opened is masked should anything ever print it.
    for value in vault["values"].values():
        assert value not in redact_text(f"an API error quoting {value}")
    age_key = next(line for line in (vault["keys"] / "age.agekey").read_text().splitlines()
                   if line.startswith("AGE-SECRET-KEY-"))
    assert age_key not in redact_text(age_key)
    forget_registered_secrets()


def test_wrong_keys_name_each_secret_that_does_not_open(tmp_path: Path,
                                                        vault: dict[str, Any]) -> None:
    path = scenario(tmp_path, name="keys-wrong", gitops={"keys": {
        "age": ["./keys/wrong.agekey"], "sealingKeys": ["./keys/wrong.key"]}})
    status, message = _run_phase(path)
    assert status is PhaseStatus.FAILED
    wrong_age, wrong_sealing = vault["keys"] / "wrong.agekey", vault["keys"] / "wrong.key"
    assert message.startswith("7 of 7 encrypted secret(s) do not open with the keys in "
                              f"{wrong_age}; {wrong_sealing}: "), message
    for file, what in (("apps/hf-token.yaml", "sops Secret ml-serving/hf-token"),
                       ("apps/db.yaml", "sops Secret ml-serving/db"),
                       ("apps/settings.json", "sops Secret ml-serving/settings")):
        assert f"platform:{file}: {what}: no key given is one of its age recipients" in message
    for name in ("registry", "shared", "legacy"):
        assert f"platform:apps/sealed.yaml: sealed-secret SealedSecret ml-serving/{name}: " \
               "encryptedData." in message
    assert "label ml-serving/registry" in message and "cluster-wide scope" in message
    assert "\n" not in message
    for value in vault["values"].values():
        assert value not in message


def test_only_the_current_sealing_key_leaves_the_old_secret_unopened(
    tmp_path: Path, vault: dict[str, Any],
) -> None:
    path = scenario(tmp_path, name="keys-current", gitops={"keys": {
        "age": ["./keys/age.agekey"], "sealingKeys": ["./keys/current.key"]}})
    status, message = _run_phase(path)
    assert status is PhaseStatus.FAILED
    assert message.startswith("1 of 7 encrypted secret(s) do not open"), message
    assert "SealedSecret ml-serving/legacy: encryptedData.k: no sealing key given opens" in message


def test_a_tampered_sops_file_is_named(tmp_path: Path, vault: dict[str, Any]) -> None:
    file = vault["repo"] / "apps" / "db.yaml"
    doc = yaml.safe_load(file.read_text())
    doc["metadata"]["labels"] = {"added": "after-encryption"}
    file.write_text(yaml.safe_dump(doc))
    commit(vault["repo"])
    path = scenario(tmp_path, name="keys-tampered", gitops={"keys": {
        "age": ["./keys/age.agekey"], "sealingKeys": ["./keys/sealed-secrets-keys.yaml"]}})
    status, message = _run_phase(path)
    assert status is PhaseStatus.FAILED
    assert message.startswith("1 of 7"), message
    assert "apps/db.yaml: sops Secret ml-serving/db: MAC mismatch" in message


def test_the_drilled_ref_is_checked_not_the_working_tree(tmp_path: Path,
                                                         vault: dict[str, Any]) -> None:
    (vault["repo"] / "apps" / "db.yaml").write_text("not: encrypted\n")  # uncommitted
    path = scenario(tmp_path, name="keys-ref", gitops={"keys": {"age": ["./keys/wrong.agekey"],
                                                                "sealingKeys": []}})
    status, message = _run_phase(path)
    assert status is PhaseStatus.FAILED
    assert "apps/db.yaml: sops Secret ml-serving/db" in message
    assert message.startswith("4 of 7 encrypted secret(s) do not open with the keys in "), message
    assert "3 not checked (platform:apps/sealed.yaml: sealed-secret SealedSecret" in message
    assert "no sealing key named (spec.gitops.keys.sealingKeys)" in message


def test_bad_key_file_is_one_line_exit_2_before_anything_starts(tmp_path: Path,
                                                                vault: dict[str, Any]) -> None:
    (vault["keys"] / "broken.agekey").write_text("AGE-SECRET-KEY-1BROKENBROKEN\n")
    path = scenario(tmp_path, name="keys-bad", gitops={"keys": {"age": ["./keys/broken.agekey"]}})
    result = subprocess.run([sys.executable, "-m", "drdrill", "run", str(path), "--report-dir",
                             str(tmp_path / "reports")], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "broken.agekey: line 1 is not a valid age identity" in lines[0]
    assert "BROKENBROKEN" not in result.stderr
    assert not list(tmp_path.glob("reports/**/report.json"))


def test_plan_shows_the_keys_phase(tmp_path: Path, vault: dict[str, Any]) -> None:
    path = scenario(tmp_path, name="keys-plan", gitops={
        "keys": {"sealingKeys": ["./keys/current.key"]},
        "decryption": {"keyFile": "./keys/age.agekey"}})
    result = subprocess.run([sys.executable, "-m", "drdrill", "plan", str(path)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "1. keys (" in result.stdout and "required" in result.stdout
    assert f"age key file {vault['keys'] / 'age.agekey'}" in result.stdout
    assert "SOPS decryption: Secret(s) flux-system/sops-age" in result.stdout
    assert "6. teardown" in result.stdout


def test_a_team_repository_is_read_at_the_ref_its_git_repository_asks_for(
    tmp_path: Path, vault: dict[str, Any],
) -> None:
    """The platform repository's GitRepository for the team reads branch `release`; the
    team repository's checked-out branch (main) holds a secret the key does not open."""
    from tests.integration.gitops.fleet import git_repository

    found = tools()
    team = tmp_path / "team-a"
    other = age_keygen(found.age_keygen, vault["keys"] / "other.agekey")
    right = subprocess.run([str(found.age_keygen), "-y", str(vault["keys"] / "age.agekey")],
                           capture_output=True, text=True, check=True).stdout.strip()
    file = team / "deploy" / "token.yaml"
    write(team / "deploy", "token.yaml", [secret("ranker", "team-a", {"t": "team-value-1"})])
    sops_encrypt(found.sops, file, recipient=other)
    commit(team)
    subprocess.run(["git", "checkout", "-q", "-b", "release"], cwd=team, check=True)
    write(team / "deploy", "token.yaml", [secret("ranker", "team-a", {"t": "team-value-2"})])
    sops_encrypt(found.sops, file, recipient=right)
    commit(team)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=team, check=True)
    remote = "ssh://git@git.example.com/team-a/apps.git"
    tenant = git_repository("team-a", remote)
    tenant["spec"]["ref"] = {"branch": "release"}
    write(vault["repo"] / "tenants", "team-a.yaml", [tenant])
    commit(vault["repo"])
    gitops = {"keys": {"age": ["./keys/age.agekey"],
                       "sealingKeys": ["./keys/sealed-secrets-keys.yaml"]},
              "repositories": [{"name": "team-a", "path": "./team-a", "remotes": [remote]}]}
    status, message = _run_phase(scenario(tmp_path, name="keys-team", gitops=gitops))
    assert status is PhaseStatus.PASSED, message
    assert message.startswith("8 encrypted secret(s) open"), message
    tenant["spec"]["ref"] = {"branch": "main"}
    write(vault["repo"] / "tenants", "team-a.yaml", [tenant])
    commit(vault["repo"])
    status, message = _run_phase(scenario(tmp_path, name="keys-team", gitops=gitops))
    assert status is PhaseStatus.FAILED
    assert "team-a:deploy/token.yaml: sops Secret team-a/ranker: no key given" in message
