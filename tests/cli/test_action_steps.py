"""The composite action's own shell steps (action.yml), run with bash as GitHub runs them:
outputs, the job summary and the exit code, with a stand-in `drdrill` on PATH."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

STAND_IN = """#!/usr/bin/env bash
# a stand-in drdrill: records its arguments, writes a report, exits with $FAKE_EXIT
printf '%s\\n' "$@" >"$FAKE_ARGS"
if [[ $FAKE_EXIT == 2 ]]; then echo "drdrill error: bad scenario" >&2; exit 2; fi
dir=$FAKE_REPORTS/drill/20261130T000000Z
mkdir -p "$dir"
echo "{\\"verdict\\": \\"$FAKE_VERDICT\\"}" >"$dir/report.json"
echo "## drdrill drill: $FAKE_VERDICT" >"$dir/report.md"
echo "FAKE: summary"
echo "report: $dir"
exit "$FAKE_EXIT"
"""


def step(name: str) -> dict[str, str]:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    return next(s for s in action["runs"]["steps"] if s.get("name") == name)


def run_step(name: str, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stand_in = bin_dir / "drdrill"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IXUSR)
    full = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "GITHUB_OUTPUT": str(tmp_path / "output"),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
            "FAKE_ARGS": str(tmp_path / "args"), "FAKE_REPORTS": str(tmp_path / "reports"),
            **env}
    # as GitHub runs a `shell: bash` step
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                           step(name)["run"]], cwd=tmp_path, env=full,
                          capture_output=True, text=True, timeout=60, check=False)


def outputs(tmp_path: Path) -> dict[str, str]:
    lines = (tmp_path / "output").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


DRILL_ENV = {"SCENARIO": "drills/prod.yaml", "PROVIDER": "kind", "DRILL_REF": "tag=v1.4.0",
             "REPORT_DIR": "out", "EXTRA_ARGS": "--notify always"}


@pytest.mark.parametrize(("code", "verdict"), [(0, "pass"), (1, "fail"), (3, "error")])
def test_drill_step_records_outputs_and_summary(tmp_path: Path, code: int, verdict: str) -> None:
    done = run_step("Run the drill", tmp_path,
                    {**DRILL_ENV, "FAKE_EXIT": str(code), "FAKE_VERDICT": verdict})
    assert done.returncode == 0, done.stderr  # the step itself goes on to upload the report
    got = outputs(tmp_path)
    assert got["exit-code"] == str(code) and got["verdict"] == verdict
    assert got["report"].endswith("/drill/20261130T000000Z")
    assert (tmp_path / "summary").read_text() == f"## drdrill drill: {verdict}\n"
    assert (tmp_path / "args").read_text().split("\n")[:-1] == [
        "--log-format", "json", "run", "drills/prod.yaml", "--provider", "kind",
        "--report-dir", "out", "--ref", "tag=v1.4.0", "--notify", "always"]


def test_drill_step_without_a_report(tmp_path: Path) -> None:
    done = run_step("Run the drill", tmp_path, {**DRILL_ENV, "FAKE_EXIT": "2",
                                                "FAKE_VERDICT": "-", "DRILL_REF": ""})
    assert done.returncode == 0, done.stderr
    assert outputs(tmp_path) == {"exit-code": "2", "verdict": "error", "report": ""}
    assert "without a report" in (tmp_path / "summary").read_text()
    assert "--ref" not in (tmp_path / "args").read_text()


@pytest.mark.parametrize("code", ["0", "1", "3"])
def test_verdict_step_fails_the_job_unless_the_drill_passed(tmp_path: Path, code: str) -> None:
    done = run_step("Verdict", tmp_path, {"CODE": code, "VERDICT": "x"})
    assert done.returncode == int(code)
    assert ("::error::drdrill verdict x" in done.stdout) is (code != "0")
