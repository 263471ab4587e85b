"""SOPS in the cluster: a Secret encrypted by real `sops` for a real age key is decrypted by
the real kustomize-controller with the key the scenario names (`gitops.decryption`), on the
local kwok test bed; with a wrong key the drill fails naming the Secret and the key file.
No decrypted value and no key appears in any output of the drill."""

from __future__ import annotations

import base64
import hashlib
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from drdrill.kubeapi import new_api_client
from tests.integration.gitops.drills import base_env, phase, run_drill, write_scenario
from tests.integration.gitops.fleet import commit, kustomize_file, write
from tests.unit.keys.material import age_keygen, secret, sops_encrypt, tools

# The first run builds sops, age and kubeseal from the module proxy (minutes on 2 cores).
pytestmark = pytest.mark.timeout(1800)

def _repository(tmp_path: Path, token: str) -> None:
    """clusters/drill applies the namespace, a SOPS-encrypted Secret and a model server that
    reads it; the key files go to keys/ beside the scenario."""
    found = tools()
    (tmp_path / "keys").mkdir()
    recipient = age_keygen(found.age_keygen, tmp_path / "keys" / "age.agekey")
    age_keygen(found.age_keygen, tmp_path / "keys" / "wrong.agekey")
    folder = tmp_path / "platform" / "clusters" / "drill"
    write(folder, "namespace.yaml", [{"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": "ml-serving"}}])
    write(folder, "hf-token.yaml", [secret("hf-token", "ml-serving",
                                           {"token": token, "user": "svc-ml"})])
    sops_encrypt(found.sops, folder / "hf-token.yaml", recipient=recipient)
    write(folder, "server.yaml", [{
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "model", "namespace": "ml-serving"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "model"}},
                 "template": {"metadata": {"labels": {"app": "model"}}, "spec": {"containers": [
                     {"name": "c", "image": "example.com/model:1", "env": [
                         {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
                             "name": "hf-token", "key": "token"}}}]}]}}}}])
    kustomize_file(folder, ["namespace.yaml", "hf-token.yaml", "server.yaml"])
    commit(tmp_path / "platform")


def _outputs(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> str:
    texts = [result.stdout, result.stderr]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "reports").rglob("*")
              if p.is_file()]
    return "\n".join(texts)


def _leaks(text: str, values: list[str]) -> list[str]:
    forms = []
    for value in values:
        forms += [value, base64.b64encode(value.encode()).decode().rstrip("=")]
    return [f[:4] + "..." for f in forms if f in text]


def _key_line(file: Path) -> str:
    return next(line for line in file.read_text().splitlines()
                if line.startswith("AGE-SECRET-KEY-"))


def test_sops_secret_decrypts_in_the_cluster_with_the_right_key(tmp_path: Path) -> None:
    token = secrets.token_urlsafe(32)
    _repository(tmp_path, token)
    scenario = write_scenario(tmp_path, name="sops-right", gitops={
        "decryption": {"provider": "sops", "keyFile": "./keys/age.agekey"}})
    env = base_env(tmp_path)
    result, report = run_drill(scenario, env=env, extra=("--keep-cluster",))
    try:
        assert report.get("verdict") == "pass", (result.stderr[-3000:], report.get("phases"))
        keys = phase(report, "keys")
        assert keys["status"] == "passed"
        assert keys["message"].startswith("1 encrypted secret(s) open"), keys["message"]
        kubeconfig = subprocess.run(
            [sys.executable, "-m", "drdrill", "cluster", "kubeconfig", str(scenario)],
            env=env, capture_output=True, text=True, check=True).stdout.strip()
        from kubernetes import client

        api = new_api_client(kubeconfig=Path(kubeconfig))
        try:
            core = client.CoreV1Api(api)
            applied = core.read_namespaced_secret("hf-token", "ml-serving").data
            provided = core.read_namespaced_secret("sops-age", "flux-system").data
        finally:
            api.close()
        assert sorted(applied) == ["token", "user"]
        digest = hashlib.sha256(base64.b64decode(applied["token"])).hexdigest()
        assert digest == hashlib.sha256(token.encode()).hexdigest()
        assert sorted(provided) == ["identity.agekey"]
    finally:
        down = subprocess.run([sys.executable, "-m", "drdrill", "cluster", "down",
                               str(scenario)], env=env, capture_output=True, text=True,
                              timeout=180, check=False)
        assert down.returncode == 0, down.stderr
    assert _leaks(_outputs(tmp_path, result),
                  [token, _key_line(tmp_path / "keys" / "age.agekey")]) == []


def test_wrong_key_fails_naming_the_secret_and_the_key_file(tmp_path: Path) -> None:
    token = secrets.token_urlsafe(32)
    _repository(tmp_path, token)
    scenario = write_scenario(tmp_path, name="sops-wrong", gitops={
        "decryption": {"provider": "sops", "keyFile": "./keys/wrong.agekey"}},
        sla={"rto": "4m", "phases": {"bootstrap": "2m", "workloads": "60s"}})
    result, report = run_drill(scenario, env=base_env(tmp_path))
    assert result.returncode == 1, result.stderr[-3000:]
    key_file = tmp_path / "keys" / "wrong.agekey"
    keys = phase(report, "keys")
    assert keys["status"] == "failed"
    assert "sops Secret ml-serving/hf-token: no key given is one of its age recipients" \
        in keys["message"]
    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "failed"
    assert bootstrap["message"].startswith(
        f"Secret ml-serving/hf-token cannot be decrypted with the key in {key_file}: "
        "Kustomization BuildFailed: "), bootstrap["message"]
    # kustomize-controller's and SOPS' own words, on one line
    assert "to decrypt and format 'ml-serving/hf-token' Secret data" in bootstrap["message"]
    assert "no identity matched any of the recipients" in bootstrap["message"]
    assert "\n" not in bootstrap["message"]
    # kustomize-controller's BuildFailed ends the wait: no budget waited out.
    assert bootstrap["durationSeconds"] < bootstrap["budgetSeconds"] / 2
    assert _leaks(_outputs(tmp_path, result), [token, _key_line(key_file)]) == []


def _child_layout(tmp_path: Path, *, key: str) -> tuple[Path, str]:
    """A `flux bootstrap` layout whose apps Kustomization decrypts with its own Secret
    (`sops-apps`), encrypted for keys/age.agekey; the scenario names keys/<key>. Returns the
    scenario and the token."""
    from tests.integration.gitops.fleet import (
        bootstrap_layout,
        deployment,
        flux_kustomization,
        namespace,
    )
    from tests.integration.gitops.fleet import scenario as fleet_scenario

    found = tools()
    (tmp_path / "keys").mkdir()
    recipient = age_keygen(found.age_keygen, tmp_path / "keys" / "age.agekey")
    age_keygen(found.age_keygen, tmp_path / "keys" / "wrong.agekey")
    token = secrets.token_urlsafe(32)
    repo = bootstrap_layout(tmp_path, infrastructure=[namespace("ml-serving")],
                            apps=[deployment("model", "ml-serving")])
    write(repo / "apps", "hf-token.yaml", [secret("hf-token", "ml-serving", {"token": token})])
    sops_encrypt(found.sops, repo / "apps" / "hf-token.yaml", recipient=recipient)
    kustomize_file(repo / "apps", ["objects.yaml", "hf-token.yaml"])
    write(repo / "clusters" / "drill", "apps.yaml", [flux_kustomization(
        "apps", "./apps", depends_on=("infrastructure",), extra={"decryption": {
            "provider": "sops", "secretRef": {"name": "sops-apps"}}})])
    commit(repo)
    return fleet_scenario(tmp_path, name=f"sops-child-{key.split('.')[0]}", gitops={
        "decryption": {"provider": "sops", "keyFile": f"./keys/{key}"}}), token


def test_child_kustomization_gets_the_decryption_secret_it_names(tmp_path: Path) -> None:
    """The drill provides the child's own decryption Secret with the scenario's key, and the
    Secret in apps/ is decrypted by the real kustomize-controller."""
    from tests.integration.gitops.fleet import workload

    path, token = _child_layout(tmp_path, key="age.agekey")
    result, report = run_drill(path, env=base_env(tmp_path))
    assert report.get("verdict") == "pass", (result.stderr[-3000:], report.get("phases"))
    assert workload(report, "Deployment", "model")["healthy"]
    bootstrap_log = result.stderr + result.stdout
    assert "SOPS decryption Secret flux-system/sops-apps" in bootstrap_log
    assert _leaks(_outputs(tmp_path, result),
                  [token, _key_line(tmp_path / "keys" / "age.agekey")]) == []


def test_child_kustomization_with_a_wrong_key_names_the_secret_and_the_key_file(
        tmp_path: Path) -> None:
    path, token = _child_layout(tmp_path, key="wrong.agekey")
    result, report = run_drill(path, env=base_env(tmp_path))
    assert result.returncode == 1, result.stderr[-3000:]
    workloads = phase(report, "workloads")
    assert workloads["status"] == "failed"
    key_file = tmp_path / "keys" / "wrong.agekey"
    assert (f"Secret ml-serving/hf-token cannot be decrypted with the key in {key_file}"
            in workloads["message"]), workloads["message"]
    failed = [w for w in report["workloads"] if not w["healthy"]]
    assert any(w["kind"] == "Kustomization" and w["name"] == "apps" and "\n" not in w["reason"]
               for w in failed), failed
    assert _leaks(_outputs(tmp_path, result), [token, _key_line(key_file)]) == []
