"""Metrics pushed with `pushadd` to a real Pushgateway: grouped by drill, replaced on the next
run of the same drill, other drills left alone; a gateway that is down is one clear error."""

from __future__ import annotations

import pytest

from drdrill.errors import InfrastructureError
from drdrill.metrics import push_metrics
from drdrill.results import Verdict
from tests.integration.publish.conftest import Pushgateway
from tests.report_samples import make_report


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return (name, frozenset({"job": "drdrill", "instance": "", **labels}.items()))


def test_pushadd_groups_by_drill_and_replaces_the_same_drill(pushgateway: Pushgateway) -> None:
    push_metrics(make_report(drill="nightly-a", rto=120.0), gateway=pushgateway.url)
    push_metrics(make_report(drill="nightly-b", rto=300.0, simulated=False),
                 gateway=pushgateway.url)
    got = pushgateway.samples()
    assert got[key("drdrill_drill_success", drill="nightly-a")] == 1
    assert got[key("drdrill_rto_seconds", drill="nightly-a")] == 120.0
    assert got[key("drdrill_rto_seconds", drill="nightly-b")] == 300.0
    assert got[key("drdrill_drill_simulated", drill="nightly-b")] == 0
    assert got[key("drdrill_phase_duration_seconds", drill="nightly-a", phase="workloads")] == 48.0
    assert got[key("drdrill_backup_age_seconds", drill="nightly-a", set="models")] == 3600.0
    assert key("drdrill_last_run_timestamp_seconds", drill="nightly-a") in got

    push_metrics(make_report(drill="nightly-a", verdict=Verdict.FAIL, rto=700.0),
                 gateway=pushgateway.url)
    got = pushgateway.samples()
    assert got[key("drdrill_drill_success", drill="nightly-a")] == 0
    assert got[key("drdrill_rto_seconds", drill="nightly-a")] == 700.0
    assert got[key("drdrill_rto_seconds", drill="nightly-b")] == 300.0  # untouched


def test_gateway_down_is_one_error_without_the_url() -> None:
    with pytest.raises(InfrastructureError, match="Pushgateway unreachable") as caught:
        push_metrics(make_report(), gateway="http://127.0.0.1:9/secret-path", attempts=2)
    assert "secret-path" not in str(caught.value) and "127.0.0.1" not in str(caught.value)
