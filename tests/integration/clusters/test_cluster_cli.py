"""`drdrill cluster up|status|kubeconfig|down` through real subprocesses on the local test bed:
the cluster works while up, and after `down` none of its processes or ports are left."""

from __future__ import annotations

from pathlib import Path

from drdrill.ports import port_open
from tests.integration.clusters.processes import (
    apiserver_port,
    assert_port_closed,
    cluster_pids,
    drdrill,
    left_over,
    saved_state,
    state_path,
    stop_leftovers,
    unique_drill,
    write_scenario,
)

COMPONENTS = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
              "kwok-controller"}


def test_cluster_up_status_kubeconfig_down(tmp_path: Path, drill_env: dict[str, str]) -> None:
    drill = unique_drill("cli-up")
    scenario = write_scenario(tmp_path, drill, cluster={
        "provider": "kwok",
        "nodePools": [
            {"name": "gpu", "count": 1, "gpus": 2,
             "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]},
            {"name": "cpu", "count": 2},
        ],
    })
    pids: dict[str, int] = {}
    try:
        up = drdrill("cluster", "up", str(scenario), env=drill_env, cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        kubeconfig = Path(up.stdout.strip().splitlines()[-1])
        assert kubeconfig.is_file()

        state = saved_state(drill_env, drill)
        assert state["provider"] == "kwok"
        assert state["kubeconfig"] == str(kubeconfig)
        workdir = Path(state["workdir"])
        pids = cluster_pids(workdir, drill)
        assert set(pids) == COMPONENTS
        assert len(left_over(pids)) == len(COMPONENTS)  # all running while up
        port = apiserver_port(kubeconfig)
        assert state["server"] == f"https://127.0.0.1:{port}"
        assert port_open(port)

        status = drdrill("cluster", "status", str(scenario), env=drill_env, cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        assert "kwok cluster up" in status.stdout
        assert "3/3 nodes Ready" in status.stdout

        printed = drdrill("cluster", "kubeconfig", str(scenario), env=drill_env, cwd=tmp_path)
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout.strip() == str(kubeconfig)

        twice = drdrill("cluster", "up", str(scenario), env=drill_env, cwd=tmp_path)
        assert twice.returncode == 2
        assert "already has a cluster up" in twice.stderr

        down = drdrill("cluster", "down", str(scenario), env=drill_env, cwd=tmp_path)
        assert down.returncode == 0, down.stderr
        assert "is down" in down.stdout
        # Checked at once: `down` returns only when every component has exited.
        assert left_over(pids) == []
        assert_port_closed(port)
        assert not workdir.exists()
        assert not state_path(drill_env, drill).exists()
    finally:
        stop_leftovers(pids)

    after = drdrill("cluster", "status", str(scenario), env=drill_env, cwd=tmp_path)
    assert after.returncode == 0
    assert "no cluster up" in after.stdout
    again = drdrill("cluster", "down", str(scenario), env=drill_env, cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.startswith("drdrill error: no running cluster")
