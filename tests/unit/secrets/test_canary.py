"""A canary secret put in every input a secret comes from appears in no output.

Through the real CLI in a subprocess, in both log formats, with and without -v: stdout,
stderr and every file the drill writes are searched for the canary, its base64 forms and the
secret file's content. The child process environment must not hold the AWS keys at all.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.unit.scenario.samples import valid_data

CANARY = "cAnArY-aws-Zq81xVw7"
FILE_CANARY = "cAnArY-deploy-key-Pm4Tq9"
ROOT = Path(__file__).resolve().parents[3]


def _forms(value: str) -> list[str]:
    return [value, base64.b64encode(value.encode()).decode().rstrip("="),
            base64.b64encode(f"key={value}".encode()).decode()[4:20]]


def _scenario(tmp_path: Path) -> Path:
    (tmp_path / "deploy_key").write_text(f"-----BEGIN KEY-----\n{FILE_CANARY}\n-----END KEY-----\n")
    data = valid_data()
    data["spec"]["gitops"]["secretFiles"] = {"ssh-key": "./deploy_key"}
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _run(tmp_path: Path, *args: str, mode: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_SECRET_ACCESS_KEY": CANARY, "AWS_ACCESS_KEY_ID": "AKIDCANARY12",
           "DRDRILL_TEST_CANARY": CANARY, "DRDRILL_TEST_FILE_CANARY": FILE_CANARY,
           "DRDRILL_CANARY_MODE": mode, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "tests.unit.secrets.canary_drill", *args], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120, check=False)


def _hits(texts: dict[str, str]) -> list[str]:
    return [f"{where}: {form!r}" for where, text in texts.items()
            for secret in (CANARY, FILE_CANARY) for form in _forms(secret) if form in text]


@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["quiet", "verbose"])
@pytest.mark.parametrize("log_format", ["json", "console"])
def test_no_canary_in_logs_reports_or_errors(tmp_path: Path, log_format: str,
                                            verbose: list[str]) -> None:
    scenario = _scenario(tmp_path)
    reports = tmp_path / "reports"
    result = _run(tmp_path, "--log-format", log_format, *verbose, "run", str(scenario),
                  "--report-dir", str(reports))
    assert result.returncode == 3, result.stderr  # errors in phases: not carried out
    files = {str(p): p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file()}
    assert {Path(p).name for p in files} >= {"report.json", "report.md", "report.html",
                                            "junit.xml"}
    assert _hits({"stdout": result.stdout, "stderr": result.stderr, **files}) == []
    assert "[redacted]" in files[str(next(reports.rglob("report.json")))]
    # The child did not inherit the AWS keys (not merely: its output was redacted).
    assert "leaked=[]" in result.stderr or '"leaked": []' in result.stderr, result.stderr
    if verbose:
        assert "Traceback" in result.stderr  # the traceback is there, redacted


@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["quiet", "verbose"])
@pytest.mark.parametrize("log_format", ["json", "console"])
def test_no_canary_in_a_command_error_or_its_traceback(tmp_path: Path, log_format: str,
                                                       verbose: list[str]) -> None:
    scenario = _scenario(tmp_path)
    result = _run(tmp_path, "--log-format", log_format, *verbose, "run", str(scenario),
                  "--report-dir", str(tmp_path / "reports"), mode="error")
    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1].startswith("drdrill error: cannot build")
    assert _hits({"stdout": result.stdout, "stderr": result.stderr}) == []
    assert ("inner detail" in result.stderr) == bool(verbose)
