"""The in-cluster restore's plan: the Job, claim and one-set scenario it creates, the result
line the pod prints and how it is read back, the claim's size, and the relay's target rules."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from pydantic import ValidationError

from drdrill.backups.in_cluster import (
    RESULT_PREFIX,
    InClusterPlan,
    claim_size,
    is_loopback_url,
    parse_result_line,
    result_line,
    with_host,
)
from drdrill.relay import TcpRelay
from drdrill.results import BackupFailure, BackupResult, InClusterRestoreResult
from drdrill.scenario.loader import scenario_from_data
from drdrill.scenario.models import BackupSet, InClusterRestore, S3Settings


def _set(**in_cluster: object) -> BackupSet:
    return BackupSet.model_validate({
        "name": "models", "bucket": "ml-backups", "prefix": "prod/", "holds": "artifacts",
        "manifestKey": "prod/MANIFEST.json", "verify": {"mode": "sample", "count": 3},
        "inCluster": in_cluster,
    })


def _plan(backup_set: BackupSet, **overrides: object) -> InClusterPlan:
    assert backup_set.in_cluster is not None
    values: dict[str, object] = {
        "drill": "nightly", "backup_set": backup_set, "spec": backup_set.in_cluster,
        "s3": S3Settings(endpoint_url="http://127.0.0.1:7070", region="eu-west-1"),
        "endpoint_url": "http://172.18.0.1:40000", "ca_bundle_pem": None,
        "set_bytes": 3 << 30, "budget_seconds": 600.0, "rpo": "24h",
    }
    values.update(overrides)
    return InClusterPlan(**values)  # type: ignore[arg-type]


def test_the_pod_runs_the_whole_set_verified_with_its_own_endpoint_and_no_secret() -> None:
    plan = _plan(_set())
    configmap, claim, job = plan.objects()
    scenario = json.loads(configmap["data"]["scenario.yaml"])
    loaded = scenario_from_data(scenario, where="configmap")  # a valid drill
    [restored] = loaded.spec.backups.sets
    assert restored.verify.mode == "full"  # a sample in the host restore, the whole set here
    assert restored.in_cluster is None and restored.manifest_key == "prod/MANIFEST.json"
    assert loaded.spec.backups.s3.endpoint_url == "http://172.18.0.1:40000"
    assert loaded.spec.backups.s3.region == "eu-west-1"
    assert "AWS" not in configmap["data"]["scenario.yaml"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "3840Mi"  # 3 GiB + 25%
    assert "storageClassName" not in claim["spec"]  # the cluster's default class
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["args"][-1] == "--result-line"
    assert container["envFrom"] == [{"secretRef": {"name": "drdrill-restore-models"}}]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] == 600
    assert {v["name"] for v in pod["volumes"]} == {"config", "restore", "tmp"}


def test_a_named_secret_or_a_service_account_replaces_the_copied_credentials() -> None:
    named = _plan(_set(credentialsSecret="s3-reader"))
    assert named.secret_name == "s3-reader"
    identity = _plan(_set(serviceAccountName="restorer"))
    assert identity.secret_name is None
    pod = identity.objects()[2]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "restorer"
    assert "envFrom" not in pod["containers"][0]


def test_a_ca_bundle_travels_in_the_configmap_and_the_pod_scenario_points_at_it() -> None:
    configmap = _plan(_set(), ca_bundle_pem="-----BEGIN CERTIFICATE-----\n").objects()[0]
    assert configmap["data"]["ca.pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert json.loads(configmap["data"]["scenario.yaml"])["spec"]["backups"]["s3"][
        "caBundle"] == "/config/ca.pem"


def test_claim_size_is_the_scenarios_else_the_set_plus_a_quarter_at_least_one_gib() -> None:
    assert claim_size(InClusterRestore(size="50Gi"), 1) == "50Gi"
    assert claim_size(InClusterRestore(), 10) == "1024Mi"
    assert claim_size(InClusterRestore(), 4 << 30) == "5120Mi"


@pytest.mark.parametrize("size", ["0", "20 Gi", "-1Gi", "lots"])
def test_a_bad_claim_size_is_refused_by_the_scenario(size: str) -> None:
    with pytest.raises(ValidationError, match="volume size"):
        _set(size=size)


def test_the_result_line_round_trips_and_the_last_one_wins() -> None:
    failing = BackupResult(name="models", bucket="b", prefix="p/", holds="artifacts",
                           objects_checked=2, bytes_checked=10, verified=False,
                           failures=[BackupFailure(key="a.bin", problem="sha256 mismatch")])
    line = result_line([failing])
    assert line.startswith(RESULT_PREFIX) and "\n" not in line
    text = f"{RESULT_PREFIX}{{\"sets\": []}}\nlog line\n{line}\n"
    parsed = parse_result_line(text)
    assert parsed == {"sets": [{"name": "models", "verified": False, "objects": 2,
                                "bytes": 10, "restoreSeconds": None, "problems": 1,
                                "firstProblem": "a.bin: sha256 mismatch"}]}
    assert parse_result_line("Traceback ...\nKilled\n") is None
    assert parse_result_line(f"{RESULT_PREFIX}not json") is None


def test_summaries_say_simulated_verified_or_why_not() -> None:
    base = {"namespace": "drdrill-restore", "job": "j", "claim": "c", "image": "drdrill:1"}
    simulated = InClusterRestoreResult(**base, simulated=True, message="kwok runs no pods")
    assert simulated.summary().startswith("SIMULATED")
    good = InClusterRestoreResult(**base, verified=True, objects=3, bytes=3 << 20,
                                  seconds=9.0, transfer_seconds=2.0,
                                  bytes_per_second=1.5 * (1 << 20))
    assert good.summary().startswith("verified in the cluster: 3 object(s)")
    assert "in 9.0 s, transfer 2.00 s at 1.5 MiB/s" in good.summary()
    bad = InClusterRestoreResult(**base, verified=False, message="CreateContainerConfigError")
    assert bad.summary().startswith("NOT verified") and "CreateContainerConfigError" in (
        bad.summary())


@pytest.mark.parametrize(("url", "loopback"), [
    ("http://127.0.0.1:9000", True), ("http://localhost:9000", True), ("http://[::1]:1", True),
    ("http://127.1.2.3", True), ("https://s3.eu-west-1.amazonaws.com", False),
    ("http://10.0.0.5:9000", False), (None, False),
])
def test_loopback_endpoints_are_recognised(url: str | None, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_with_host_keeps_scheme_and_path() -> None:
    assert with_host("https://127.0.0.1:9000/base", "172.18.0.1", 41000) == (
        "https://172.18.0.1:41000/base")


def test_the_relay_pipes_both_ways_and_closes_on_stop() -> None:
    upstream = socket.create_server(("127.0.0.1", 0))

    def echo() -> None:
        conn, _ = upstream.accept()
        with conn:
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
            conn.sendall(data[::-1])

    threading.Thread(target=echo, daemon=True).start()
    relay = TcpRelay("127.0.0.1", ("127.0.0.1", upstream.getsockname()[1]))
    port = relay.start()
    payload = bytes(range(256)) * 4096  # 1 MiB, more than one chunk each way
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert answer == payload[::-1]
    relay.stop()
    relay.stop()  # twice is fine
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).recv(1)
    upstream.close()
