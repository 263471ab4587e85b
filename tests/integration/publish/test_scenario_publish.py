"""A scheduled drill configured in its scenario file alone: `spec.metrics` pushes to a real
Pushgateway (its URL from the variable the scenario names) and writes the textfile next to the
scenario, `spec.notify` calls a webhook whose URL sits in a file; no flag is given, and the
webhook's URL appears in no output and no report file."""

from __future__ import annotations

from pathlib import Path

import yaml

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

TOKEN = "T0-hook-from-a-file-8d2f1c"


def test_metrics_and_notifications_configured_in_the_scenario(tmp_path: Path,
                                                              pushgateway: Pushgateway) -> None:
    write_repo(tmp_path, [NAMESPACE, deployment("iris")])
    scenario = write_scenario(tmp_path, name="configured", gitops={})
    with Hook(TOKEN) as hook:
        (tmp_path / "hook-url").write_text(hook.url("teams") + "\n")
        data = yaml.safe_load(scenario.read_text())
        data["spec"]["metrics"] = {"pushgateway": {"urlEnv": "NIGHTLY_GATEWAY"},
                                   "textfileDir": "textfiles"}
        data["spec"]["notify"] = {"when": "always", "webhooks": [
            {"format": "teams", "urlFile": "hook-url"}]}
        scenario.write_text(yaml.safe_dump(data, sort_keys=False))
        env = {k: v for k, v in base_env(tmp_path).items()
               if not k.startswith(("DRDRILL_PUSHGATEWAY", "DRDRILL_NOTIFY", "DRDRILL_METRICS"))
               and not k.endswith("_WEBHOOK_URL")}
        result, report = run_drill(scenario, env={**env, "NIGHTLY_GATEWAY": pushgateway.url})
    assert result.returncode == 0, (result.stdout, result.stderr[-4000:])
    assert report["verdict"] == "pass"

    labels = frozenset({"job": "drdrill", "instance": "", "drill": "configured"}.items())
    gateway = pushgateway.samples()
    assert gateway[("drdrill_drill_success", labels)] == 1
    assert gateway[("drdrill_rto_seconds", labels)] == report["rto"]["actualSeconds"]
    assert "drdrill_rto_seconds" in (tmp_path / "textfiles" / "drdrill_configured.prom"
                                     ).read_text()

    assert [path.split("/")[2] for path, _, _ in hook.received] == ["teams"]
    outputs = [result.stdout, result.stderr]
    outputs += [p.read_text() for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    assert not any(TOKEN in text for text in outputs)
