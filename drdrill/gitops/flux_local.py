"""Run the real Flux source-, kustomize- and helm-controller as local processes (kwok provider).

On kwok, the pods of an installed Flux are only simulated, so reconciliation would never
happen; the test bed's controller binaries run here instead, against the same apiserver,
everything bound to 127.0.0.1.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from drdrill.errors import InfrastructureError
from drdrill.gitops.local_controllers import CommandBuilder, LocalControllers
from drdrill.kubeapi import new_api_client
from drdrill.ports import LOOPBACK, free_port
from drdrill.proc import Command, interrupts_held
from drdrill.testbed import testbed_binary, testbed_dir
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)


def flux_crds_manifest() -> Path:
    """The Flux CRDs shipped with the test bed, as one file for `kubectl apply -f`."""
    folder = testbed_dir() / "crds" / "flux"
    if not folder.is_dir() or not any(folder.glob("*.yaml")):
        raise InfrastructureError(f"Flux CRDs missing in {folder}; run `make testbed`")
    return folder


class LocalFlux(LocalControllers):
    """Flux's source-, kustomize- and helm-controller as local processes."""

    started_event = "flux controller started"


def _controller(name: str, *, kubeconfig: Path, workdir: Path,
                extra: Callable[[], list[str]] = list) -> CommandBuilder:
    """A controller's command on fresh ports (`extra` adds flags, with ports of their own)."""
    def build() -> tuple[Command, str]:
        metrics, health = free_port(), free_port()
        argv = (
            str(testbed_binary(name)),
            f"--metrics-addr={LOOPBACK}:{metrics}",
            f"--health-addr={LOOPBACK}:{health}",
            "--enable-leader-election=false",
            "--watch-all-namespaces=true",
            "--log-level=info",
            *extra(),
        )
        env = {"KUBECONFIG": str(kubeconfig), "RUNTIME_NAMESPACE": "flux-system"}
        return (Command(argv, env=env, log_file=workdir / f"{name}.log"),
                f"http://{LOOPBACK}:{health}/readyz")
    return build


FLUX_GROUPS = ("source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io",
               "helm.toolkit.fluxcd.io")


def wait_flux_crds_established(api_client: Any, *, deadline: Deadline) -> None:
    """The controllers refuse to start while any of their kinds is not served yet."""
    from kubernetes import client

    extensions = client.ApiextensionsV1Api(api_client)
    pending: list[str] = ["(none listed yet)"]
    while not deadline.expired():
        crds = [c for c in extensions.list_custom_resource_definition(_request_timeout=15).items
                if c.spec.group in FLUX_GROUPS]
        pending = [
            c.metadata.name for c in crds
            if not any(cond.type == "Established" and cond.status == "True"
                       for cond in (c.status.conditions or []))
        ]
        if crds and not pending:
            return
        time.sleep(0.2)
    raise InfrastructureError(f"Flux CRDs not established in time: {', '.join(pending)}")


def start_local_flux(*, kubeconfig: Path, deadline: Deadline) -> LocalFlux:
    """Start the controllers and wait until they report ready; stop all on any failure."""
    api = new_api_client(kubeconfig=kubeconfig)
    try:
        wait_flux_crds_established(api, deadline=deadline.sooner(60))
    finally:
        api.close()
    flux = LocalFlux()
    try:
        with interrupts_held():  # the folder and its owner recorded as one step
            flux.workdir = workdir = Path(tempfile.mkdtemp(prefix="drdrill-flux-"))
        (workdir / "storage").mkdir()

        def storage_flags() -> list[str]:
            storage = free_port()
            return [f"--storage-path={workdir / 'storage'}",
                    f"--storage-addr={LOOPBACK}:{storage}",
                    f"--storage-adv-addr={LOOPBACK}:{storage}"]

        for name, extra in (("source-controller", storage_flags),
                            ("kustomize-controller", list), ("helm-controller", list)):
            flux.start(_controller(name, kubeconfig=kubeconfig, workdir=workdir, extra=extra),
                       deadline=deadline.sooner(60))
    except BaseException:
        flux.stop()
        raise
    return flux
