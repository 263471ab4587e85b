"""What every set of GitOps controllers run as local processes shares (kwok provider).

Flux and Argo CD both run their real controllers on the host against the local apiserver; each
component is its own process group, started by `start` (which waits until it is ready), stopped
newest first, and a component that died says why with its log tail.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import structlog

from drdrill.errors import InfrastructureError
from drdrill.ports import PORT_ATTEMPTS, redis_answers, says_port_taken, wait_http_ok
from drdrill.proc import Command, ManagedProcess, interrupts_held, log_tail, start_process
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)

# How to build a component's command, with fresh ports on every call, and how to tell it is
# ready: an http URL that answers 2xx, or `redis://<port>` for a Redis server that answers PING.
# (An open port alone proves nothing: it may be the process that took the port.)
CommandBuilder = Callable[[], tuple[Command, str]]


@dataclass
class LocalControllers:
    """The running components, newest last; `stop` ends them newest first."""

    processes: list[ManagedProcess] = field(default_factory=list)
    workdir: Path | None = None
    started_event: ClassVar[str] = "local controller started"

    def start(self, build: CommandBuilder, *, deadline: Deadline) -> ManagedProcess:
        """Start one component and wait until it is ready; a start that lost one of its ports
        to another process is tried again (up to PORT_ATTEMPTS), any other failure raises
        with the component's log tail."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            command, ready = build()
            logged_before = _size(command.log_file)
            with interrupts_held():  # the process and its handle recorded as one step
                process = start_process(command)
                self.processes.append(process)
            log.info(self.started_event, controller=command.describe(), pid=process.pid,
                     attempt=attempt)
            if _wait_ready(process, ready, deadline=deadline):
                return process
            output = log_tail(command.log_file, 40, since=logged_before)
            if process.alive() or not says_port_taken(output) or attempt == PORT_ATTEMPTS:
                tail = "\n".join(output.splitlines()[-5:]).replace("\n", " | ")
                raise InfrastructureError(
                    f"{command.describe()} did not become ready (exit code "
                    f"{process.popen.poll()}): {tail[-400:]}"
                )
            log.warning("a port was taken before the component bound it; starting it again",
                        controller=command.describe(), attempt=attempt)
            self.processes.remove(process)
            process.stop()
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def process_groups(self) -> tuple[int, ...]:
        return tuple(p.pid for p in self.processes)

    def check_running(self) -> None:
        """Raise with the log tail of a component that has died."""
        for process in self.processes:
            if not process.alive():
                tail = process.log_tail(3).replace("\n", " | ")
                raise InfrastructureError(
                    f"{process.command.describe()} exited ({process.popen.returncode}): "
                    f"{tail[-400:]}"
                )

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def _wait_ready(process: ManagedProcess, ready: str, *, deadline: Deadline) -> bool:
    """Until `ready` answers, the process exits, or the deadline passes."""
    if ready.startswith("http"):
        return wait_http_ok(ready, deadline=deadline, while_true=process.alive)
    port = int(ready.removeprefix("redis://"))
    while not deadline.expired() and process.alive():
        if redis_answers(port):
            return True
        time.sleep(0.05)
    return False


def _size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path is not None else 0
    except OSError:
        return 0
