"""What the cluster CLI tests share: run `drdrill`, write scenarios, find the processes and
ports a local cluster uses, and stop only those (by pid) if a test fails half-way."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from drdrill.ports import port_open


def unique_drill(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def drdrill(*args: str, env: dict[str, str], cwd: Path,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drdrill", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=timeout, check=False,
    )


def write_scenario(folder: Path, name: str, *, cluster: dict[str, Any] | None = None,
                   gitops: dict[str, Any] | None = None,
                   phases: dict[str, str] | None = None) -> Path:
    spec: dict[str, Any] = {
        "cluster": cluster or {"provider": "kwok",
                               "nodePools": [{"name": "cpu", "count": 3}]},
        "sla": {"rto": "15m", "phases": phases or {"cluster": "2m"}},
    }
    if gitops is not None:
        spec["gitops"] = gitops
    document = {"apiVersion": "drdrill/v1alpha1", "kind": "Drill",
                "metadata": {"name": name}, "spec": spec}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def state_path(env: dict[str, str], drill: str) -> Path:
    return Path(env["XDG_STATE_HOME"]) / "drdrill" / "clusters" / f"{drill}.json"


def saved_state(env: dict[str, str], drill: str) -> dict[str, Any]:
    return dict(json.loads(state_path(env, drill).read_text()))


def pid_dir(workdir: Path, drill: str) -> Path:
    return workdir / "clusters" / f"drdrill-{drill}" / "pids"


def cluster_pids(workdir: Path, drill: str) -> dict[str, int]:
    """Component name -> pid, as kwokctl recorded them in its workdir."""
    files = sorted(pid_dir(workdir, drill).glob("*.pid"))
    return {f.stem: int(f.read_text().strip()) for f in files}


def apiserver_port(kubeconfig: Path) -> int:
    server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    return int(server.rsplit(":", 1)[1])


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def descendants(root: int) -> set[int]:
    """Every live process below `root` (children re-parented away are not found here)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat[stat.rfind(")") + 2:].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return {pid for pid in found if alive(pid)}


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_until(check: Callable[[], Any], *, timeout: float, what: str,
               interval: float = 0.1) -> Any:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout}s")


def left_over(pids: dict[str, int] | set[int]) -> list[str]:
    values = pids.items() if isinstance(pids, dict) else ((str(p), p) for p in pids)
    return [f"{name} (pid {pid}: {command_line(pid)[:120]})" for name, pid in values
            if alive(pid)]


def stop_leftovers(pids: dict[str, int] | set[int]) -> None:
    """Last resort after a failed test: SIGKILL the process groups of pids this test saw."""
    for pid in (pids.values() if isinstance(pids, dict) else pids):
        if alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)


def assert_port_closed(port: int) -> None:
    assert not port_open(port), f"apiserver port 127.0.0.1:{port} still accepts connections"
