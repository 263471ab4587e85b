"""The CLI through a real subprocess: exit codes, one-line errors, nothing created on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.unit.scenario.samples import valid_data, valid_text


def drdrill(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "drdrill", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )


BAD_INPUTS = {
    "missing": None,
    "empty": "",
    "not-yaml": "a: [b\n",
    "list-top": "- 1\n",
    "wrong-kind": valid_text().replace("kind: Drill", "kind: Pod"),
    "unknown-field": valid_text().replace("spec:\n", "spec:\n  colour: red\n"),
    "bad-name": valid_text().replace("name: ml-platform", "name: ../../etc"),
    "duplicate": valid_text() + "metadata: {name: x}\n",
    "no-unit": valid_text().replace("rto: 15m", "rto: '15'"),
}


@pytest.mark.parametrize("text", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
@pytest.mark.parametrize("command", ["validate", "plan", "run"])
def test_bad_scenario_exits_2_with_one_line_and_creates_nothing(
    tmp_path: Path, command: str, text: str | None
) -> None:
    scenario = tmp_path / "drill.yaml"
    if text is not None:
        scenario.write_text(text)
    extra = ["--report-dir", str(tmp_path / "reports")] if command == "run" else []
    result = drdrill(command, str(scenario), *extra, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"drdrill error: {scenario}")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "reports").exists()


def test_unknown_flag_exits_2(tmp_path: Path) -> None:
    result = drdrill("run", "x.yaml", "--no-such-flag", cwd=tmp_path)
    assert result.returncode == 2


def test_unwritable_report_dir_exits_2_before_starting(tmp_path: Path) -> None:
    scenario = tmp_path / "drill.yaml"
    scenario.write_text(valid_text())
    (tmp_path / "file").write_text("")
    result = drdrill("run", str(scenario), "--report-dir", str(tmp_path / "file" / "r"),
                     cwd=tmp_path)
    assert result.returncode == 2
    assert "not writable" in result.stderr


def test_validate_plan_schema(tmp_path: Path) -> None:
    scenario = tmp_path / "drill.yaml"
    scenario.write_text(valid_text())
    assert drdrill("validate", str(scenario), cwd=tmp_path).stdout.startswith("ok:")
    plan = drdrill("plan", str(scenario), cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    for name in ("cluster", "bootstrap", "workloads", "backups", "teardown"):
        assert name in plan.stdout
    schema = json.loads(drdrill("schema", cwd=tmp_path).stdout)
    assert schema["properties"]["apiVersion"]["const"] == "drdrill/v1alpha1"
    assert "additionalProperties" in json.dumps(schema)


def test_schema_accepts_the_sample_and_rejects_unknown_fields(tmp_path: Path) -> None:
    import jsonschema

    schema = json.loads(drdrill("schema", cwd=tmp_path).stdout)
    jsonschema.validate(valid_data(), schema)
    broken = valid_data()
    broken["spec"]["cluster"]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_report_show_renders_a_past_report(tmp_path: Path) -> None:
    from drdrill.report.writer import write_reports
    from tests.unit.report.test_reports import sample_report

    paths = write_reports(sample_report(), report_dir=tmp_path)
    shown = drdrill("report", "show", str(paths.json), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "ml-platform" in shown.stdout and "FAIL" in shown.stdout
    missing = drdrill("report", "show", str(tmp_path / "nope.json"), cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith("drdrill error:")


def test_report_show_labels_a_simulated_verdict(tmp_path: Path) -> None:
    from drdrill.report.writer import write_reports
    from tests.unit.report.test_simulation_label import real_report, simulated_report

    simulated = write_reports(simulated_report(), report_dir=tmp_path / "s")
    shown = drdrill("report", "show", str(simulated.directory), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    first = shown.stdout.splitlines()[0]
    assert "PASS (simulated pods and 2 custom resources)" in first
    assert "measured on a simulated cluster" in shown.stdout
    real = write_reports(real_report(), report_dir=tmp_path / "r")
    plain = drdrill("report", "show", str(real.directory), cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "ml-platform: PASS - " in plain.stdout.splitlines()[0]
    assert "simulated" not in plain.stdout.lower()


def test_verbose_error_shows_traceback_only_with_v(tmp_path: Path) -> None:
    quiet = drdrill("validate", str(tmp_path / "none.yaml"), cwd=tmp_path)
    loud = drdrill("-v", "validate", str(tmp_path / "none.yaml"), cwd=tmp_path)
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr
    assert quiet.returncode == loud.returncode == 2


def test_logs_are_json_on_stderr_when_not_a_terminal(tmp_path: Path) -> None:
    data = valid_data()
    scenario = tmp_path / "drill.yaml"
    scenario.write_text(yaml.safe_dump(data))
    result = drdrill("--log-format", "json", "schema", cwd=tmp_path)
    json.loads(result.stdout)  # stdout is data only
