"""Every subprocess drdrill starts goes through here: one `Command` value, its own process group.

A process group per child means teardown can stop a child *and everything it forked* by pid,
never by name, also when drdrill itself is being interrupted. A process group saved for a later
command carries its leader's identity (boot and start time), so a pid reused by an unrelated
program is never signalled.

Children never inherit the user's credentials: `AWS_*` variables and any variable whose name
says secret, token, password or credential are left out of their environment (a bootstrap
script gets its secrets as files, named in the scenario).
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drdrill.errors import DrillInterrupted, InfrastructureError, PrerequisiteError
from drdrill.timing import Deadline

# Once a second signal arrives (or one during teardown), children get this long to exit.
HURRIED_GRACE = 0.3
_hurry = threading.Event()
_INHERITED_SECRET = re.compile(
    r"^AWS_|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|API_KEY|PRIVATE_KEY", re.IGNORECASE
)


def hurry_stops() -> None:
    """From now on stop children without their grace period, and do not wait for them."""
    _hurry.set()


def stop_normally() -> None:
    _hurry.clear()


def stops_hurried() -> bool:
    return _hurry.is_set()


@dataclass
class _Held:
    depth: int = 0
    signal: str | None = None


_held = _Held()


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Within the block an interrupt that would raise (`DrillInterrupted`) waits for the block
    to end: for creating something and recording what to clean up as one step (a temporary
    folder and its name, a child process and its handle). Main thread only; elsewhere it does
    nothing, as signal handlers run in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _held.depth += 1
    try:
        yield
    finally:
        _held.depth -= 1
        if _held.depth == 0 and _held.signal is not None:
            name, _held.signal = _held.signal, None
            raise DrillInterrupted(name)


def hold_interrupt(name: str) -> bool:
    """For the signal handler: True when an `interrupts_held` block runs, which then raises
    `DrillInterrupted(name)` as it ends."""
    if _held.depth == 0:
        return False
    _held.signal = _held.signal or name
    return True


def _grace(grace: float) -> float:
    return min(grace, HURRIED_GRACE) if _hurry.is_set() else grace


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    log_file: Path | None = None

    def describe(self) -> str:
        return Path(self.argv[0]).name


@dataclass
class ManagedProcess:
    """A long-running child in its own process group, its output going to a log file."""

    command: Command
    popen: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        return log_tail(self.command.log_file, lines)

    def stop(self, *, grace: float = 5.0) -> None:
        stop_process_group(self.pid, grace=grace)
        try:
            self.popen.wait(timeout=_grace(grace))
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=grace)


def log_tail(path: Path | None, lines: int = 20, *, since: int = 0) -> str:
    """The last `lines` of a log (of its last 64 KiB), only what came after byte `since`."""
    if path is None or not path.exists():
        return ""
    with path.open("rb") as handle:
        handle.seek(max(since, path.stat().st_size - 64 * 1024))
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def inherited_environment() -> dict[str, str]:
    """This process's environment less every credential it holds."""
    return {k: v for k, v in os.environ.items() if not _INHERITED_SECRET.search(k)}


def _merged_env(env: Mapping[str, str] | None) -> dict[str, str]:
    return {**inherited_environment(), **(env or {})}


def _spawn(command: Command, *, stdout: Any) -> subprocess.Popen[bytes]:
    """Start `command` in a new session (its own process group), no stdin, stderr to stdout."""
    try:
        return subprocess.Popen(
            command.argv,
            env=_merged_env(command.env),
            cwd=command.cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError as err:
        raise PrerequisiteError(f"{command.argv[0]}: not found; install it or fix PATH") from err
    except PermissionError as err:
        raise PrerequisiteError(f"{command.argv[0]}: not executable") from err
    except OSError as err:
        raise PrerequisiteError(f"{command.argv[0]}: cannot start ({err.strerror})") from err


def start_process(command: Command) -> ManagedProcess:
    """Start a long-running `command`, detached from our terminal's signals, output to its log."""
    if command.log_file is None:
        return ManagedProcess(command=command, popen=_spawn(command, stdout=subprocess.DEVNULL))
    command.log_file.parent.mkdir(parents=True, exist_ok=True)
    with command.log_file.open("ab") as output:
        return ManagedProcess(command=command, popen=_spawn(command, stdout=output))


def _group_alive(pgid: int) -> bool:
    """True while a member of the group still runs; zombies waiting for a reaper do not count."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name: state, ppid, pgrp, ...
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def stop_process_group(pgid: int, *, grace: float = 5.0) -> None:
    """SIGTERM the whole group, wait up to `grace`, then SIGKILL what is left."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    started = time.monotonic()
    while time.monotonic() < started + _grace(grace):
        _reap(pgid)
        if not _group_alive(pgid):
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(40):
        _reap(pgid)
        if not _group_alive(pgid):
            return
        time.sleep(0.05)


def _reap(pgid: int) -> None:
    """Collect our own exited child so its zombie does not keep the group 'alive'."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)


@dataclass(frozen=True)
class StreamedRun:
    exit_code: int | None
    tail: list[str]
    timed_out: bool
    seconds: float


def run_streaming(
    command: Command,
    *,
    deadline: Deadline,
    on_line: Callable[[str], None],
    tail_lines: int = 40,
) -> StreamedRun:
    """Run to completion, handing each output line to `on_line`; kill the group at the deadline."""
    started = time.monotonic()
    popen = _spawn(command, stdout=subprocess.PIPE)
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    assert popen.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(popen.stdout, selectors.EVENT_READ)
    pending = b""
    timed_out = False
    reached_eof = False
    try:
        while True:
            remaining = deadline.remaining()
            if remaining <= 0 or _hurry.is_set():
                timed_out = True
                break
            if not selector.select(timeout=min(remaining, 0.5)):
                continue
            chunk = os.read(popen.stdout.fileno(), 65536)
            if not chunk:
                reached_eof = True
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", errors="replace").rstrip("\r")
                tail.append(line)
                on_line(line)
        if reached_eof:
            try:
                popen.wait(timeout=max(0.1, deadline.remaining()))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        selector.close()
        # Whatever the ending (done, deadline, interrupt), nothing of the group outlives it.
        stop_process_group(popen.pid, grace=2.0)
        popen.wait(timeout=_grace(10.0) + 1.0)
        popen.stdout.close()
    if pending:
        line = pending.decode("utf-8", errors="replace")
        tail.append(line)
        on_line(line)
    return StreamedRun(
        exit_code=None if timed_out else popen.returncode,
        tail=list(tail),
        timed_out=timed_out,
        seconds=time.monotonic() - started,
    )


def run_checked(command: Command, *, timeout: float, what: str) -> str:
    """Run a short command and return its output; one clear error with its tail if it fails."""
    result = run_streaming(command, deadline=Deadline.after(timeout), on_line=lambda _: None,
                           tail_lines=200)
    if result.timed_out:
        raise InfrastructureError(f"{what}: timed out after {timeout:.0f}s")
    if result.exit_code != 0:
        last = " | ".join(line for line in result.tail[-5:] if line.strip())
        raise InfrastructureError(f"{what}: exit code {result.exit_code}: {last}")
    return "\n".join(result.tail)


def process_identity(pid: int) -> str | None:
    """Who `pid` is: the boot and the start time of the process (None once it is gone).

    Saved next to a pid, it tells a later command whether the pid still names the same
    process or has been reused by another program since.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    # Field 22 of stat (starttime, clock ticks since boot) is the 20th after the name.
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def stop_process_group_if(pgid: int, *, identity: str | None, grace: float = 5.0) -> bool:
    """Stop the group only while its leader is still the process `identity` names.

    Returns False when it is gone or the pid now belongs to another program.
    """
    if identity is None or process_identity(pgid) != identity:
        return False
    stop_process_group(pgid, grace=grace)
    return True
