"""Where secrets enter: refused in the scenario, kept from children, redacted at any depth,
and reports written with the user's umask."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from drdrill.atomic_files import write_atomically
from drdrill.errors import BadInputError
from drdrill.logs import (
    describe_exception,
    forget_registered_secrets,
    redact_value,
    register_secret,
)
from drdrill.proc import Command, inherited_environment, run_streaming
from drdrill.scenario.loader import scenario_from_data
from drdrill.timing import Deadline
from tests.unit.scenario.samples import valid_data

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _fresh_registry() -> None:
    forget_registered_secrets()


@pytest.mark.parametrize("url", [
    "https://drill:s3cr3t-T0k@git.example.com/platform.git",
    "https://ghp_s3cr3tT0kenValue@github.com/org/platform.git",
    "http://user:s3cr3t-T0k@10.0.0.1/platform.git",
    "ssh://git:s3cr3t-T0k@git.example.com/platform.git",
    "https://git.example.com/platform.git?private_token=s3cr3t-T0k",
])
def test_credentials_in_the_repository_url_are_refused(url: str) -> None:
    data = valid_data()
    data["spec"]["gitops"]["repository"] = {"url": url}
    with pytest.raises(BadInputError) as raised:
        scenario_from_data(data, where="drill.yaml")
    message = str(raised.value)
    assert message.startswith("drill.yaml: spec.gitops.repository.url:")
    assert "s3cr3t" not in message and "ghp_" not in message


@pytest.mark.parametrize("url", ["https://git.example.com/platform.git",
                                 "ssh://git@git.example.com/platform.git"])
def test_plain_repository_urls_are_accepted(url: str) -> None:
    data = valid_data()
    data["spec"]["gitops"]["repository"] = {"url": url}
    assert scenario_from_data(data, where="drill.yaml").spec.gitops is not None


def test_cli_refuses_a_url_with_credentials_in_one_line_exit_2(tmp_path: Path) -> None:
    data = valid_data()
    data["spec"]["gitops"]["repository"] = {"url": "https://x:s3cr3t-T0k@h.example/p.git"}
    scenario = tmp_path / "drill.yaml"
    scenario.write_text(yaml.safe_dump(data))
    for verbose in ([], ["-v"]):
        result = subprocess.run(
            [sys.executable, "-m", "drdrill", *verbose, "validate", str(scenario)], cwd=ROOT,
            capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 2
        assert "s3cr3t" not in result.stderr + result.stdout
        assert result.stderr.strip().splitlines()[-1].startswith("drdrill error: ")
        if not verbose:
            assert len(result.stderr.strip().splitlines()) == 1


def test_children_do_not_inherit_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "GITHUB_TOKEN",
                 "VAULT_TOKEN", "DB_PASSWORD"):
        monkeypatch.setenv(name, "inherited-value")
    monkeypatch.setenv("HOME_LIKE_PLAIN", "kept")
    assert not {k for k in inherited_environment() if k.startswith("AWS_")}
    lines: list[str] = []
    run_streaming(Command(("env",), env={"DRDRILL_SECRET_SSH_KEY_FILE": "/k"}),
                  deadline=Deadline.after(10), on_line=lines.append)
    names = {line.split("=", 1)[0] for line in lines}
    assert "inherited-value" not in "\n".join(lines)
    assert {"HOME_LIKE_PLAIN", "DRDRILL_SECRET_SSH_KEY_FILE"} <= names


def test_redaction_reaches_nested_values_and_registered_secrets() -> None:
    register_secret("-----BEGIN KEY-----\nline-one-s3cr3t\nline-two-s3cr3t\n-----END KEY-----")
    value = {"a": [{"b": ("x line-two-s3cr3t y",)}], "apiToken": "anything",
             "c": {"d": {"e": "https://u:pw-s3cr3t@h/"}}, "n": 3}
    redacted = redact_value(value)
    text = json.dumps(redacted)
    assert "s3cr3t" not in text
    assert redacted["apiToken"] == "[redacted]" and redacted["n"] == 3
    assert redact_value("-----BEGIN KEY-----") == "-----BEGIN KEY-----"  # markers are not secret


def test_an_api_exception_is_described_without_headers_or_body() -> None:
    from kubernetes.client.exceptions import ApiException

    error = ApiException(status=403, reason="Forbidden")
    error.headers = {"Set-Cookie": "session=s3cr3t-cookie"}
    error.body = json.dumps({"kind": "Status", "message": "secrets is forbidden",
                             "details": {"data": "s3cr3t-body"}})
    text = describe_exception(error)
    assert text == "ApiException: HTTP 403 Forbidden: secrets is forbidden"


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o027])
def test_reports_follow_the_umask(tmp_path: Path, mask: int) -> None:
    old = os.umask(mask)
    try:
        write_atomically(tmp_path / "report.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.json").stat().st_mode) == 0o666 & ~mask


def test_saved_cluster_state_is_private(tmp_path: Path) -> None:
    write_atomically(tmp_path / "state.json", "{}", mode=0o600)
    assert stat.S_IMODE((tmp_path / "state.json").stat().st_mode) == 0o600
