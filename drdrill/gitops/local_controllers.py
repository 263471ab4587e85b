"""What every set of GitOps controllers run as local processes shares (kwok provider).

Flux and Argo CD both run their real controllers on the host against the local apiserver; each
component is its own process group, stopped newest first, and a component that died says why
with its log tail.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from drdrill.errors import InfrastructureError
from drdrill.proc import ManagedProcess


@dataclass
class LocalControllers:
    """The running components, newest last; `stop` ends them newest first."""

    processes: list[ManagedProcess] = field(default_factory=list)
    workdir: Path | None = None

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
