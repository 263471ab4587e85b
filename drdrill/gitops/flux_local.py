"""Run the real Flux source- and kustomize-controller as local processes (kwok provider).

On kwok, the pods of an installed Flux are only simulated, so reconciliation would never
happen; the test bed's controller binaries run here instead, against the same apiserver,
everything bound to 127.0.0.1.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from drdrill.errors import InfrastructureError
from drdrill.ports import LOOPBACK, free_port, wait_http_ok
from drdrill.proc import Command, ManagedProcess, start_process
from drdrill.testbed import testbed_binary, testbed_dir
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)


def flux_crds_manifest() -> Path:
    """The Flux CRDs shipped with the test bed, as one file for `kubectl apply -f`."""
    folder = testbed_dir() / "crds" / "flux"
    if not folder.is_dir() or not any(folder.glob("*.yaml")):
        raise InfrastructureError(f"Flux CRDs missing in {folder}; run `make testbed`")
    return folder


@dataclass
class LocalFlux:
    processes: list[ManagedProcess] = field(default_factory=list)
    workdir: Path | None = None

    @property
    def process_groups(self) -> tuple[int, ...]:
        return tuple(p.pid for p in self.processes)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _controller(name: str, *, kubeconfig: Path, workdir: Path, extra: list[str]) -> tuple[
    Command, str
]:
    metrics, health = free_port(), free_port()
    argv = (
        str(testbed_binary(name)),
        f"--metrics-addr={LOOPBACK}:{metrics}",
        f"--health-addr={LOOPBACK}:{health}",
        "--enable-leader-election=false",
        "--watch-all-namespaces=true",
        "--log-level=info",
        *extra,
    )
    env = {"KUBECONFIG": str(kubeconfig), "RUNTIME_NAMESPACE": "flux-system"}
    return (Command(argv, env=env, log_file=workdir / f"{name}.log"),
            f"http://{LOOPBACK}:{health}/readyz")


def start_local_flux(*, kubeconfig: Path, deadline: Deadline) -> LocalFlux:
    """Start both controllers and wait until they report ready; stop both on any failure."""
    workdir = Path(tempfile.mkdtemp(prefix="drdrill-flux-"))
    flux = LocalFlux(workdir=workdir)
    storage = free_port()
    (workdir / "storage").mkdir()
    commands = [
        _controller("source-controller", kubeconfig=kubeconfig, workdir=workdir, extra=[
            f"--storage-path={workdir / 'storage'}",
            f"--storage-addr={LOOPBACK}:{storage}",
            f"--storage-adv-addr={LOOPBACK}:{storage}",
        ]),
        _controller("kustomize-controller", kubeconfig=kubeconfig, workdir=workdir, extra=[]),
    ]
    try:
        for command, ready_url in commands:
            process = start_process(command)
            flux.processes.append(process)
            log.info("flux controller started", controller=command.describe(), pid=process.pid)
            if not wait_http_ok(ready_url, deadline=deadline.sooner(60)):
                tail = process.log_tail(5).replace("\n", " | ")
                raise InfrastructureError(
                    f"{command.describe()} did not become ready (exit code "
                    f"{process.popen.poll()}): {tail[-400:]}"
                )
    except BaseException:
        flux.stop()
        raise
    return flux
