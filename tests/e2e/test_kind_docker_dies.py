"""End to end: the Docker daemon dies while `drdrill run` creates its kind cluster.

The drill runs on a dockerd of this test's own (its own data root, exec root and socket in a
temporary folder, its own network namespace; no iptables rules and no default bridge, as a
second daemon on one host must be run), loaded with the test bed's node image. The test kills
that daemon by its pid once the drill's node container runs, and expects exit code 3, a
report.json naming the dead daemon and the cleanup that was attempted, and nothing else on the
machine touched. Then it starts the daemon again on the same data root, removes every
container, network and volume the drill left, and stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import KIND_TESTBED, KindTestbed

pytestmark = pytest.mark.timeout(900)
CLUSTER_LABEL = "io.x-k8s.kind.cluster"


def lacks_sys_resource() -> bool:
    """CAP_SYS_RESOURCE (capability 24) missing from this host's bounding set (as dockerd.sh
    checks before registering the runc wrapper)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return not (int(line.split()[1], 16) >> 24) & 1
    return False


class OwnDockerd:
    """A dockerd this test starts, kills, starts again and stops, always by its pid."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = f"unix://{root / 'docker.sock'}"
        self.process: subprocess.Popen[bytes] | None = None
        config: dict[str, Any] = {
            "data-root": str(root / "data"), "exec-root": str(root / "exec"),
            "pidfile": str(root / "dockerd.pid"), "hosts": [self.host],
            "iptables": False, "ip-forward": False, "ip-masq": False, "bridge": "none",
            "dns": ["127.0.0.1"],
        }
        if lacks_sys_resource():
            (root / "bin").mkdir(parents=True, exist_ok=True)
            shutil.copy(KIND_TESTBED / "runc-wrapper", root / "bin" / "drdrill-runc")
            (root / "bin" / "drdrill-runc").chmod(0o755)
            config["runtimes"] = {"drdrill-runc": {"path": str(root / "bin" / "drdrill-runc")}}
            config["default-runtime"] = "drdrill-runc"
        (root / "daemon.json").write_text(json.dumps(config))

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}

    def docker(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], capture_output=True, text=True,
                              env=self.env(), timeout=timeout, check=False)

    def answers(self) -> bool:
        return self.docker("info", "--format", "{{.ID}}", timeout=20).returncode == 0

    def start(self, *, attempts: int = 3) -> None:
        """Start the daemon and wait until it answers. After a crash its containerd may need
        longer to come back than dockerd waits for it on a busy machine (dockerd then exits
        with "timeout waiting for containerd to start"): such a start is tried again."""
        for attempt in range(1, attempts + 1):
            with (self.root / "dockerd.log").open("ab") as log:
                # In a network namespace of its own: a dockerd without a default bridge
                # deletes the host's `docker0` at start (the test bed's daemon's bridge, which
                # `docker build` and `docker run` need later in the suite). `exec` keeps the pid.
                self.process = subprocess.Popen(
                    ["unshare", "--net", "sh", "-c",
                     'ip link set lo up && exec dockerd --config-file "$0"',
                     str(self.root / "daemon.json")], stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            ends = time.monotonic() + 120
            while not self.answers():
                if self.process.poll() is not None:
                    break
                assert time.monotonic() < ends, "the test's dockerd did not answer"
                time.sleep(0.5)
            else:
                return
            print(f"the test's dockerd exited on start (attempt {attempt} of {attempts})")
        raise AssertionError((self.root / "dockerd.log").read_text()[-3000:])

    def kill(self) -> None:
        """The daemon dies: SIGKILL, nothing else (its containerd and shims are left as a
        crash would leave them)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self._stop_its_containerd()

    def _stop_its_containerd(self) -> None:
        """The containerd the daemon started, if it outlived it (found by its pid file in this
        daemon's exec root, and only while its command line names that exec root)."""
        pid_file = self.root / "exec" / "containerd" / "containerd.pid"
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            return
        if str(self.root) not in cmdline:
            return
        os.kill(pid, signal.SIGTERM)
        ends = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and time.monotonic() < ends:
            time.sleep(0.5)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)

    def remove_everything(self) -> None:
        """Every container (with its volumes), network and volume on this daemon."""
        containers = self.docker("ps", "-aq").stdout.split()
        if containers:
            self.docker("rm", "--force", "--volumes", *containers)
        for network in self.docker("network", "ls", "-q", "--filter", "type=custom").stdout.split():
            self.docker("network", "rm", network)
        volumes = self.docker("volume", "ls", "-q").stdout.split()
        if volumes:
            self.docker("volume", "rm", "--force", *volumes)

    def leftovers(self) -> list[str]:
        found = [f"container {c}" for c in self.docker("ps", "-aq").stdout.split()]
        found += [f"network {n}" for n in
                  self.docker("network", "ls", "-q", "--filter", "type=custom").stdout.split()]
        found += [f"volume {v}" for v in self.docker("volume", "ls", "-q").stdout.split()]
        return found


def kill_processes_naming(root: Path) -> list[int]:
    """Processes whose command line names `root` (a killed daemon's containerd shims outlive
    it, each still running a node container), with every process below them; by pid."""
    parents: dict[int, int] = {}
    named: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat[stat.rfind(")") + 2:].split()[1])
        if str(root).encode() in cmdline:
            named.append(int(entry.name))
    doomed = set(named)
    grew = True
    while grew:
        below = {pid for pid, parent in parents.items() if parent in doomed} - doomed
        grew = bool(below)
        doomed |= below
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return sorted(doomed)


def unmount_under(root: Path) -> None:
    """Mounts a killed daemon may have left in its data root, deepest first."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{root}/")), reverse=True):
        subprocess.run(["umount", "--lazy", mount], capture_output=True, check=False)


@pytest.fixture
def own_dockerd(kind_testbed: KindTestbed) -> Iterator[OwnDockerd]:
    # a short path: the daemon's and its containerd's sockets live under it
    root = Path(tempfile.mkdtemp(prefix="drd-dockerd-", dir="/tmp"))
    daemon = OwnDockerd(root)
    try:
        daemon.start()
        archive = kind_testbed.folder / "images" / (
            kind_testbed.node_image.replace("/", "_").replace(":", "_") + ".tar")
        loaded = daemon.docker("load", "-q", "-i", str(archive), timeout=600)
        assert loaded.returncode == 0, loaded.stderr
        yield daemon
    finally:
        if daemon.process is None or daemon.process.poll() is not None:
            daemon.start()
        daemon.remove_everything()
        left = daemon.leftovers()
        daemon.stop()
        kill_processes_naming(root)
        unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)
        assert left == [], f"the test's dockerd kept {left}"


def scenario(tmp_path: Path, testbed: KindTestbed, drill: str) -> Path:
    platform = tmp_path / "platform"
    platform.mkdir()
    (platform / "namespace.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: docker-dies\n")
    file = tmp_path / f"{drill}.yaml"
    file.write_text(yaml.safe_dump({
        "apiVersion": "drdrill/v1alpha1", "kind": "Drill", "metadata": {"name": drill},
        "spec": {
            "cluster": {"provider": "kind", "kubernetesVersion": "1.35",
                        "kind": {"image": testbed.node_image},
                        "nodePools": [{"name": "cpu", "count": 1}]},
            "gitops": {"engine": "flux", "version": "v2.7",
                       "repository": {"path": str(platform)}, "ref": {"branch": "main"},
                       "path": "./", "installManifests": str(testbed.flux_install)},
            "sla": {"rto": "15m", "phases": {"cluster": "5m"}},
        },
    }))
    return file


def test_docker_dying_mid_drill_is_exit_3_with_the_cleanup_reported(
    tmp_path: Path, kind_testbed: KindTestbed, own_dockerd: OwnDockerd
) -> None:
    drill = f"e2e-dockerd-{uuid.uuid4().hex[:6]}"
    name = f"drdrill-{drill}"
    file = scenario(tmp_path, kind_testbed, drill)
    env = {**kind_testbed.env(tmp_path), "DOCKER_HOST": own_dockerd.host}
    started = time.monotonic()
    drill_process = subprocess.Popen(
        [sys.executable, "-m", "drdrill", "run", str(file), "--report-dir",
         str(tmp_path / "reports")], cwd=tmp_path, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # the cluster phase is under way once kind's node container runs
        ends = time.monotonic() + 300
        while not own_dockerd.docker("ps", "-q", "--filter", f"label={CLUSTER_LABEL}={name}",
                                     "--filter", "status=running").stdout.split():
            assert drill_process.poll() is None, drill_process.communicate()[1][-3000:]
            assert time.monotonic() < ends, "the drill's node container never ran"
            time.sleep(1)
        own_dockerd.kill()
        killed_after = time.monotonic() - started
        _, err = drill_process.communicate(timeout=600)
    finally:
        if drill_process.poll() is None:
            drill_process.kill()
            drill_process.wait()
    print(f"dockerd killed {killed_after:.1f} s into the drill; drill ended "
          f"{time.monotonic() - started:.1f} s in")
    assert drill_process.returncode == 3, err[-3000:]
    reports = sorted((tmp_path / "reports" / drill).glob("2*/report.json"))
    assert reports, "no report.json written"
    report = json.loads(reports[-1].read_text())
    assert report["verdict"] == "error"
    phases = {p["name"]: p for p in report["phases"]}
    cluster = phases["cluster"]
    print(json.dumps(cluster["message"]))
    assert cluster["status"] == "error"
    assert f"Docker daemon ({own_dockerd.host}) stopped answering" in cluster["message"]
    assert "cleanup attempted" in cluster["message"]
    assert f"kind delete cluster --name {name}" in cluster["message"]
    assert phases["bootstrap"]["status"] == "skipped"
    # what the dead daemon kept is there once it answers again; the fixture removes it
    own_dockerd.start()
    kept = own_dockerd.docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    print(f"left on the test's dockerd after its restart: containers {kept}, "
          f"{own_dockerd.leftovers()}")
