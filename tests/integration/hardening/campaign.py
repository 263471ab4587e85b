"""Run real drills on the local test bed and interrupt them at chosen moments.

A moment is a line the drill logs (JSON on stderr) and a delay after it. While the drill runs,
every process below it, every process whose command line names its private temp folder, and
every 127.0.0.1 port those processes were given are recorded; after it ends, each must be
gone, as must every temp folder (the drill runs with its own TMPDIR) and state file (its own
XDG_STATE_HOME).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drdrill.ports import port_open
from tests.integration.clusters.processes import alive, command_line, descendants

_PORT = re.compile(r"127\.0\.0\.1:(\d{2,5})")


@dataclass(frozen=True)
class Moment:
    name: str
    after: str  # a regular expression matched against each log line
    delay: float = 0.0


@dataclass
class Interruption:
    moment: Moment
    signum: int
    double: bool

    @property
    def label(self) -> str:
        kind = signal.Signals(self.signum).name
        return f"{self.moment.name}: {'double ' if self.double else ''}{kind}"


@dataclass
class Outcome:
    label: str
    moment: str
    exit_code: int | None
    verdict: str | None
    fired: bool
    seconds: float
    leaks: list[str] = field(default_factory=list)
    leaked_pids: list[int] = field(default_factory=list)
    stderr_tail: str = ""

    @property
    def wrong_verdict(self) -> bool:
        return self.exit_code != 3 or self.verdict != "interrupted"


def write_platform(root: Path, *, s3_uri: str) -> Path:
    folder = root / "platform" / "clusters" / "drill"
    folder.mkdir(parents=True)
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml-serving"}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "model-config", "namespace": "ml-serving"},
         "data": {"MODEL_URI": s3_uri}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "predictor", "namespace": "ml-serving"},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "predictor"}},
                  "template": {"metadata": {"labels": {"app": "predictor"}},
                               "spec": {"containers": [{"name": "c",
                                                        "image": "example.com/m:1"}]}}}},
    ]
    (folder / "objects.yaml").write_text(yaml.safe_dump_all(objects))
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
         "resources": ["objects.yaml"]}))
    return root / "platform"


def write_scenario(root: Path, *, name: str, endpoint: str, bucket: str) -> Path:
    scenario = {
        "apiVersion": "drdrill/v1alpha1", "kind": "Drill", "metadata": {"name": name},
        "spec": {
            "cluster": {"provider": "kwok", "kwok": {"readinessDelay": "2s"},
                        "nodePools": [{"name": "cpu", "count": 2}]},
            "gitops": {"engine": "flux", "version": "v2.7", "repository": {"path": "./platform"},
                       "ref": {"branch": "main"}, "path": "./clusters/drill"},
            "backups": {"s3": {"endpointUrl": endpoint, "maxConcurrency": 2},
                        "sets": [{"name": "models", "bucket": bucket, "prefix": "set/",
                                  "holds": "artifacts", "manifestKey": "set/MANIFEST.json"}]},
            "sla": {"rto": "10m", "rpo": "24h"},
        },
    }
    path = root / "drill.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    return path


class _Watch:
    """What the running drill has started, sampled while it runs."""

    def __init__(self, pid: int, tmpdir: Path) -> None:
        self.pid, self.tmpdir = pid, tmpdir
        self.pids: set[int] = set()
        self.ports: set[int] = set()

    def sample(self) -> None:
        found = descendants(self.pid)
        marker = str(self.tmpdir)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and marker in command_line(int(entry.name)):
                found.add(int(entry.name))
        for pid in found - self.pids:
            line = command_line(pid)
            self.ports |= {int(p) for p in _PORT.findall(line)}
            config = re.search(r"--config (\S+kwokctl\.yaml)", line)
            if config:
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    options = yaml.safe_load(Path(config.group(1)).read_text())["options"]
                    self.ports |= {int(v) for k, v in options.items() if k.endswith("Port")}
        self.pids |= found

    def leaks(self, state_home: Path) -> list[str]:
        left = [f"process {pid}: {command_line(pid)[:100]}" for pid in sorted(self.pids)
                if pid != self.pid and alive(pid)]
        left += [f"port 127.0.0.1:{port} open" for port in sorted(self.ports) if port_open(port)]
        left += [f"temp {p}" for p in self.tmpdir.iterdir()]
        left += [f"state {p}" for p in state_home.rglob("*.json")]
        return left


def run_interrupted(scenario: Path, interruption: Interruption | None, *, env: dict[str, str],
                    workdir: Path, timeout: float = 300,
                    fault: Callable[[Path], None] | None = None) -> Outcome:
    """Run the drill; at the moment, send the signal (twice, 0.3 s apart, for a double), or
    inject `fault` instead (it gets the drill's private TMPDIR, where its cluster lives)."""
    tmpdir, state_home, reports = workdir / "tmp", workdir / "state", workdir / "reports"
    for folder in (tmpdir, state_home):
        folder.mkdir(parents=True, exist_ok=True)
    stderr_path = workdir / "stderr"
    run_env = {**env, "TMPDIR": str(tmpdir), "XDG_STATE_HOME": str(state_home),
               "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    with stderr_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "drdrill", "--log-format", "json", "run", str(scenario),
             "--report-dir", str(reports)],
            cwd=scenario.parent, env=run_env, stdout=subprocess.PIPE, stderr=err, text=True,
            start_new_session=True)
    watch = _Watch(proc.pid, tmpdir)
    fired_at: float | None = None
    pattern = re.compile(interruption.moment.after) if interruption else None
    seen_at: float | None = None
    try:
        while proc.poll() is None and time.monotonic() - started < timeout:
            watch.sample()
            if pattern is not None and interruption is not None and fired_at is None:
                if seen_at is None and any(pattern.search(line) for line in
                                           stderr_path.read_text().splitlines()):
                    seen_at = time.monotonic()
                if seen_at is not None and time.monotonic() >= seen_at + interruption.moment.delay:
                    fired_at = time.monotonic()
                    if fault is not None:
                        fault(tmpdir)
                        continue
                    os.kill(proc.pid, interruption.signum)
                    if interruption.double:
                        time.sleep(0.3)
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(proc.pid, interruption.signum)
            time.sleep(0.1)
        if proc.poll() is None:  # out of time: a SIGTERM lets drdrill clean up, as CI would
            os.kill(proc.pid, signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            kill_leaked(sorted(watch.pids))
    seconds = time.monotonic() - started
    time.sleep(0.5)  # a Go program's last threads may still be closing their sockets
    report = _latest_report(reports, scenario)
    return Outcome(
        label=interruption.label if interruption else "no signal",
        moment=interruption.moment.name if interruption else "",
        exit_code=proc.returncode, verdict=report.get("verdict"), fired=fired_at is not None,
        seconds=round(seconds, 1), leaks=watch.leaks(state_home),
        leaked_pids=[pid for pid in watch.pids if pid != proc.pid and alive(pid)],
        stderr_tail=stderr_path.read_text()[-3000:] + (stdout or "")[-500:],
    )


def _latest_report(reports: Path, scenario: Path) -> dict[str, Any]:
    name = yaml.safe_load(scenario.read_text())["metadata"]["name"]
    path = reports / name / "latest" / "report.json"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def kill_leaked(pids: list[int]) -> None:
    """After a leak is recorded: SIGKILL the processes this run started, by pid."""
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
