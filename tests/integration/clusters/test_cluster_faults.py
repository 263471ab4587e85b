"""Bad input and faults on the way up: each is one `drdrill error:` line with the right exit
code, and nothing of the cluster is left running (no process, no workdir, no saved state)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from drdrill import testbed
from drdrill.clusters.base import ClusterInfo
from drdrill.ports import port_open
from tests.integration.clusters.processes import (
    command_line,
    drdrill,
    state_path,
    stop_leftovers,
    unique_drill,
    wait_until,
    write_scenario,
)


def processes_of(drill: str) -> dict[int, str]:
    """Live processes whose command line names the drill (its kwok workdir or cluster)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            line = command_line(int(entry.name))
            if drill in line and "pytest" not in line:
                found[int(entry.name)] = line[:160]
    return found


def assert_one_line_error(result: subprocess.CompletedProcess[str], exit_code: int,
                          *needles: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == exit_code, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("drdrill error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def assert_nothing_left(drill: str, env: dict[str, str]) -> None:
    left = processes_of(drill)
    stop_leftovers(set(left))
    assert left == {}, f"processes left behind: {left}"
    assert not state_path(env, drill).exists()
    assert list(Path(tempfile.gettempdir()).glob(f"drdrill-kwok-{drill}-*")) == []


def kwok_up(tmp_path: Path, env: dict[str, str], drill: str, *, pools: list[Any] | None = None,
            cluster_budget: str = "2m") -> subprocess.CompletedProcess[str]:
    scenario = write_scenario(tmp_path, drill, cluster={
        "provider": "kwok", "nodePools": pools or [{"name": "cpu", "count": 1}],
    }, phases={"cluster": cluster_budget})
    return drdrill("cluster", "up", str(scenario), env=env, cwd=tmp_path)


def test_unknown_provider_is_rejected_by_validation(tmp_path: Path,
                                                    drill_env: dict[str, str]) -> None:
    drill = unique_drill("bad-provider")
    scenario = write_scenario(tmp_path, drill, cluster={"provider": "openstack"})
    for args in (("cluster", "up", str(scenario)),
                 ("run", str(scenario), "--report-dir", str(tmp_path / "reports"))):
        result = drdrill(*args, env=drill_env, cwd=tmp_path)
        assert_one_line_error(result, 2, str(scenario), "provider")
    assert not (tmp_path / "reports").exists()
    assert_nothing_left(drill, drill_env)


BAD_POOLS = {
    "negative-gpus": ({"name": "gpu", "count": 1, "gpus": -1}, "gpus"),
    "fractional-gpus": ({"name": "gpu", "count": 1, "gpus": 1.5}, "gpus"),
    "string-gpus": ({"name": "gpu", "count": 1, "gpus": "4"}, "gpus"),
    "zero-nodes": ({"name": "cpu", "count": 0}, "count"),
    "bad-name": ({"name": "GPU_pool", "count": 1}, "name"),
}


@pytest.mark.parametrize(("pool", "field"), BAD_POOLS.values(), ids=BAD_POOLS.keys())
def test_invalid_node_pool_exits_2(tmp_path: Path, drill_env: dict[str, str],
                                   pool: dict[str, Any], field: str) -> None:
    drill = unique_drill("bad-pool")
    result = kwok_up(tmp_path, drill_env, drill, pools=[pool])
    assert_one_line_error(result, 2, "nodePools", field)
    assert_nothing_left(drill, drill_env)


def test_apiserver_port_in_use_exits_2(tmp_path: Path, drill_env: dict[str, str]) -> None:
    drill = unique_drill("port-busy")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        env = {**drill_env, "DRDRILL_KWOK_APISERVER_PORT": str(port)}
        result = kwok_up(tmp_path, env, drill)
        assert_one_line_error(result, 2, f"127.0.0.1:{port} is already in use")
    assert_nothing_left(drill, drill_env)


def test_missing_testbed_binary_exits_3_and_says_make_testbed(
    tmp_path: Path, drill_env: dict[str, str]
) -> None:
    drill = unique_drill("no-bin")
    (tmp_path / "testbed" / "bin").mkdir(parents=True)
    env = {**drill_env, "DRDRILL_TESTBED_DIR": str(tmp_path / "testbed")}
    result = kwok_up(tmp_path, env, drill)
    assert_one_line_error(result, 3, "not found", "run `make testbed`")
    assert_nothing_left(drill, drill_env)


def test_testbed_binary_not_executable_exits_3(tmp_path: Path,
                                               drill_env: dict[str, str]) -> None:
    drill = unique_drill("no-exec")
    real = testbed.testbed_dir() / "bin"
    fake = tmp_path / "testbed" / "bin"
    fake.mkdir(parents=True)
    for binary in real.iterdir():
        (fake / binary.name).symlink_to(binary)
    (fake / "kwokctl").unlink()
    shutil.copyfile(real / "kwokctl", fake / "kwokctl")
    (fake / "kwokctl").chmod(0o644)
    env = {**drill_env, "DRDRILL_TESTBED_DIR": str(tmp_path / "testbed")}
    result = kwok_up(tmp_path, env, drill)
    assert_one_line_error(result, 3, str(fake / "kwokctl"), "not executable")
    assert_nothing_left(drill, drill_env)


FAILING_APISERVER = """#!/bin/sh
# kwokctl asks for the version first; starting for real fails with a recognisable line.
case "$*" in *version*) exec {real} "$@";; esac
echo "apiserver-{marker}: refusing to start, simulated by the test" >&2
exit 1
"""


def test_apiserver_that_cannot_start_exits_3_with_its_log(
    tmp_path: Path, drill_env: dict[str, str]
) -> None:
    drill = unique_drill("api-fails")
    marker = os.urandom(4).hex()
    real = testbed.testbed_dir() / "bin"
    fake = tmp_path / "testbed" / "bin"
    fake.mkdir(parents=True)
    for binary in real.iterdir():
        if binary.name != "kube-apiserver":
            (fake / binary.name).symlink_to(binary)
    script = fake / "kube-apiserver"
    script.write_text(FAILING_APISERVER.format(real=real / "kube-apiserver", marker=marker))
    script.chmod(0o755)
    env = {**drill_env, "DRDRILL_TESTBED_DIR": str(tmp_path / "testbed")}
    started = time.monotonic()
    result = kwok_up(tmp_path, env, drill, cluster_budget="3m")
    elapsed = time.monotonic() - started
    line = assert_one_line_error(result, 3, "local cluster did not start",
                                 "kube-apiserver exited during start-up", "kube-apiserver log")
    assert f"apiserver-{marker}: refusing to start" in line
    # A dead apiserver ends the wait at once instead of using up the phase budget.
    assert elapsed < 60, f"took {elapsed:.0f}s"
    # etcd was started before the apiserver: it must be gone too.
    assert_nothing_left(drill, drill_env)


# --- provider `existing`, against the session's real kwok cluster ---------------------------


def context_of(kubeconfig: Path) -> str:
    return str(yaml.safe_load(kubeconfig.read_text())["contexts"][0]["name"])


def existing_scenario(tmp_path: Path, drill: str, *, context: str,
                      kubeconfig: Path | None) -> Path:
    existing: dict[str, Any] = {"context": context}
    if kubeconfig is not None:
        existing["kubeconfig"] = str(kubeconfig)
    return write_scenario(tmp_path, drill, cluster={"provider": "existing",
                                                    "existing": existing})


def test_existing_with_a_missing_kubeconfig_exits_2(tmp_path: Path,
                                                    drill_env: dict[str, str]) -> None:
    drill = unique_drill("ex-nokube")
    missing = tmp_path / "no-such-kubeconfig"
    scenario = existing_scenario(tmp_path, drill, context="drill", kubeconfig=missing)
    result = drdrill("cluster", "up", str(scenario), env=drill_env, cwd=tmp_path)
    assert_one_line_error(result, 2, "kubeconfig not found", str(missing))
    flag = drdrill("cluster", "up", str(scenario), "--kubeconfig", str(tmp_path / "flag-none"),
                   env=drill_env, cwd=tmp_path)
    assert_one_line_error(flag, 2, "kubeconfig not found", str(tmp_path / "flag-none"))


def test_existing_without_the_context_exits_2(tmp_path: Path, drill_env: dict[str, str],
                                              kwok_cluster: ClusterInfo) -> None:
    drill = unique_drill("ex-noctx")
    absent = f"no-such-context-{drill}"
    scenario = existing_scenario(tmp_path, drill, context=absent,
                                 kubeconfig=kwok_cluster.kubeconfig)
    result = drdrill("cluster", "up", str(scenario), env=drill_env, cwd=tmp_path)
    assert_one_line_error(result, 2, repr(absent), str(kwok_cluster.kubeconfig))


@pytest.fixture
def flux_system(kube_api: Any) -> Iterator[None]:
    """A flux-system namespace in the shared cluster for this test only."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(kube_api)
    try:
        core.create_namespace({"metadata": {"name": "flux-system",
                                            "labels": {"created-by": "drdrill-tests"}}})
    except ApiException as err:
        if err.status != 409:
            raise
        pytest.fail("flux-system already exists in the shared test cluster")
    yield
    core.delete_namespace("flux-system")

    def gone() -> bool:
        try:
            core.read_namespace("flux-system")
        except ApiException as err:
            return bool(err.status == 404)
        return False

    wait_until(gone, timeout=60, what="flux-system namespace deleted")


def test_existing_cluster_is_used_when_empty(tmp_path: Path, drill_env: dict[str, str],
                                             kwok_cluster: ClusterInfo, kube_api: Any) -> None:
    from kubernetes import client

    names = {ns.metadata.name for ns in client.CoreV1Api(kube_api).list_namespace().items}
    if "flux-system" in names:
        pytest.fail("flux-system left in the shared test cluster by another test")
    drill = unique_drill("ex-empty")
    scenario = existing_scenario(tmp_path, drill, context=context_of(kwok_cluster.kubeconfig),
                                 kubeconfig=None)
    result = drdrill("cluster", "up", str(scenario), "--kubeconfig",
                     str(kwok_cluster.kubeconfig), env=drill_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(kwok_cluster.kubeconfig)
    # Not owned: nothing saved, so `cluster down` has nothing to delete.
    assert not state_path(drill_env, drill).exists()


@pytest.mark.usefixtures("flux_system")
def test_existing_cluster_with_flux_system_is_refused_unless_allowed(
    tmp_path: Path, drill_env: dict[str, str], kwok_cluster: ClusterInfo
) -> None:
    drill = unique_drill("ex-flux")
    context = context_of(kwok_cluster.kubeconfig)
    scenario = existing_scenario(tmp_path, drill, context=context,
                                 kubeconfig=kwok_cluster.kubeconfig)
    refused = drdrill("cluster", "up", str(scenario), env=drill_env, cwd=tmp_path)
    assert_one_line_error(refused, 3, repr(context), "namespace flux-system",
                          "--allow-non-empty")
    allowed = drdrill("cluster", "up", str(scenario), "--allow-non-empty", env=drill_env,
                      cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.strip() == str(kwok_cluster.kubeconfig)
    down = drdrill("cluster", "down", str(scenario), env=drill_env, cwd=tmp_path)
    assert down.returncode == 2  # nothing of ours to take down ...
    port = int(kwok_cluster.server.rsplit(":", 1)[1])
    assert port_open(port)  # ... and the existing cluster was left alone


def test_a_port_taken_between_pick_and_bind_costs_a_restart_not_the_drill(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The kube-apiserver's port is taken by someone else after drdrill picked it (here: handed
    the port this test listens on): the real apiserver fails to bind, and the cluster starts
    again on fresh ports, with nothing of the first start left."""
    import uuid

    from drdrill.clusters import kwok
    from drdrill.scenario.models import KwokSettings, NodePool
    from drdrill.timing import Deadline

    real_free_port = kwok.free_port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        handed = iter([taken])
        monkeypatch.setattr(kwok, "free_port", lambda: next(handed, None) or real_free_port())
        drill = f"port-{uuid.uuid4().hex[:6]}"
        provider = kwok.KwokCluster(drill=drill, settings=KwokSettings(readiness_delay="500ms"),
                                    pools=(NodePool(name="cpu", count=1),))
        info = provider.create(deadline=Deadline.after(180))
        try:
            assert info.server is not None and not info.server.endswith(f":{taken}")
            assert port_open(int(info.server.rsplit(":", 1)[1]))
            # the first attempt's folder is gone: only the running cluster's is left
            assert info.workdir is not None
            folders = list(Path(tempfile.gettempdir()).glob(f"drdrill-kwok-{drill}-*"))
            assert folders == [info.workdir]
        finally:
            provider.delete(info)
    assert processes_of(drill) == {}
