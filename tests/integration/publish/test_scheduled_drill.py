"""A whole drill on the local test bed, run as a scheduled job would run it: `--ref` overriding
the scenario's ref, metrics pushed to a real Pushgateway and written as a textfile, and a
webhook called; the webhook's URL appears in no output and no report file."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.gitops.drills import (
    NAMESPACE,
    base_env,
    deployment,
    run_drill,
    write_repo,
    write_scenario,
)
from tests.integration.publish.conftest import Pushgateway
from tests.webhook_receiver import Hook

TOKEN = "XOXB-hook-4f9c2a7e1b"  # what a chat webhook URL hides


def test_scheduled_drill_publishes_metrics_and_notifies(tmp_path: Path,
                                                       pushgateway: Pushgateway) -> None:
    write_repo(tmp_path, [NAMESPACE, deployment("iris")])
    scenario = write_scenario(tmp_path, name="scheduled", gitops={})
    textfiles = tmp_path / "textfiles"
    with Hook(TOKEN) as hook:
        env = {**base_env(tmp_path), "DRDRILL_SLACK_WEBHOOK_URL": hook.url("slack"),
               "DRDRILL_WEBHOOK_URL": hook.url("generic")}
        result, report = run_drill(scenario, env=env, extra=(
            "--ref", "branch=main", "--pushgateway", pushgateway.url,
            "--metrics-textfile-dir", str(textfiles), "--notify", "always"))
    assert result.returncode == 0, (result.stdout, result.stderr[-4000:])
    assert report["verdict"] == "pass"
    assert report["refOverride"] == "branch=main" and report["gitRef"] == "branch main"

    gateway = pushgateway.samples()
    labels = frozenset({"job": "drdrill", "instance": "", "drill": "scheduled"}.items())
    assert gateway[("drdrill_drill_success", labels)] == 1
    assert gateway[("drdrill_rto_seconds", labels)] == report["rto"]["actualSeconds"]
    textfile = (textfiles / "drdrill_scheduled.prom").read_text()
    names = {f.name for f in text_string_to_metric_families(textfile)}
    assert {"drdrill_drill_success", "drdrill_rto_seconds", "drdrill_phase_duration_seconds",
            "drdrill_last_run_timestamp_seconds"} <= names

    kinds = {path.split("/")[2]: body for path, body, _ in hook.received}
    assert set(kinds) == {"slack", "generic"}
    report_dir = result.stdout.split("report: ", 1)[1].split()[0]
    assert kinds["generic"]["report"] == str(Path(report_dir).resolve())
    assert kinds["generic"]["verdictLabel"] == "PASS (simulated pods)"
    assert "PASS (simulated pods)" in kinds["slack"]["text"]

    outputs = [result.stdout, result.stderr]
    outputs += [p.read_text() for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    assert not any(TOKEN in text for text in outputs)
