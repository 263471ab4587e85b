"""The live view on a real terminal: `drdrill run` under a pseudo-terminal against the kwok
test bed redraws the phases and the workloads it waits on, and ends with the verdict; the
same drill with stderr not a terminal prints no control sequence at all."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.integration.gitops.drills import (
    NAMESPACE,
    base_env,
    deployment,
    write_repo,
    write_scenario,
)

ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07|[()][A-Za-z0-9])")
PHASES = ("cluster", "bootstrap", "workloads", "backups", "teardown")


def _scenario(tmp_path: Path, name: str) -> Path:
    write_repo(tmp_path, [NAMESPACE, deployment("iris", replicas=2),
                          deployment("fraud", gpus=1)])
    # Pods become ready 3-4 s after they start: long enough to be seen waiting.
    return write_scenario(tmp_path, name=name, gitops={},
                          kwok={"readinessDelay": "3s", "readinessJitter": "1s"})


def _terminal_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in base_env(tmp_path).items()
           if k not in ("CI", "NO_COLOR", "DRDRILL_NO_LIVE")}
    return {**env, "TERM": "xterm-256color"}


def _argv(scenario: Path) -> list[str]:
    return [sys.executable, "-m", "drdrill", "run", str(scenario),
            "--report-dir", str(scenario.parent / "reports")]


def run_in_pty(argv: list[str], *, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run `argv` with stdin, stdout and stderr on a 120x40 pseudo-terminal; its exit code and
    everything it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                               start_new_session=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
            if time.monotonic() > deadline:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
                raise AssertionError(b"".join(chunks).decode(errors="replace")[-4000:])
        code = process.wait(timeout=60)
    finally:
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def _plain(text: str) -> str:
    return ANSI.sub("", text).replace("\r", "\n")


def test_live_view_on_a_terminal_shows_phases_and_waits_and_ends_with_the_verdict(
    tmp_path: Path,
) -> None:
    scenario = _scenario(tmp_path, "live-view")
    code, raw = run_in_pty(_argv(scenario), env=_terminal_env(tmp_path), timeout=400)
    plain = _plain(raw)
    assert code == 0, plain[-4000:]
    # Redrawn in place (cursor up, erase line), not printed once.
    assert "\x1b[1A" in raw and "\x1b[2K" in raw, plain[-4000:]
    assert any(f"{p} running" in " ".join(line.split()) for line in plain.splitlines()
               for p in ("cluster", "bootstrap", "workloads")), plain[-4000:]
    frames = plain.split("drdrill run live-view")
    assert len(frames) > 3, "the board was drawn only once or twice"
    last = frames[-1]
    rows = {line.split()[0]: line.split()[1] for line in last.splitlines()
            if line.split() and line.split()[0] in PHASES}
    assert rows == {"cluster": "passed", "bootstrap": "passed", "workloads": "passed",
                    "backups": "skipped", "teardown": "passed"}, last
    assert "verdict: PASS" in last
    assert "workloads (" in last, "the workloads the drill waited on are summed up"
    # While waiting, the board named a workload and why it was not healthy yet.
    waiting = [f for f in frames if "waiting on" in f]
    assert waiting, plain[-4000:]
    assert any(re.search(r"Deployment ml-serving/(iris|fraud)\s+\S", f) for f in waiting)


def test_without_a_terminal_the_output_has_no_control_sequences(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, "no-terminal")
    env = {**_terminal_env(tmp_path)}
    result = subprocess.run(_argv(scenario), env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=400, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.startswith("PASS")
    assert '"event": "phase finished"' in result.stderr, "the log lines are there as before"
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream and "\r" not in stream
