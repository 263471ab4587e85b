"""The one small interface every cluster provider implements, and what it hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from drdrill.results import Simulation
from drdrill.timing import Deadline


@dataclass(frozen=True)
class ClusterInfo:
    """Everything needed to use a running cluster and to take it down again later."""

    name: str
    provider: str
    kubeconfig: Path
    context: str | None = None
    workdir: Path | None = None
    server: str = ""
    # Process groups started for this cluster besides the provider's own (e.g. Flux controllers
    # on kwok), so `drdrill cluster down` can stop them from the saved state.
    process_groups: tuple[int, ...] = ()
    components: dict[str, str] = field(default_factory=dict)
    owned: bool = True  # False for an existing cluster: drdrill never deletes it


@dataclass(frozen=True)
class GitOpsPlacement:
    """How GitOps controllers run on a cluster, and where a local repository is served so
    that they reach it: the one place the bootstrap phase asks instead of branching on the
    provider."""

    # False: the test bed's controllers run as local processes against the apiserver (kwok,
    # whose pods are simulated); True: the engine's install manifests run them as pods.
    controllers_in_cluster: bool
    # The address the local git server binds, and so the host of the URL the controllers
    # clone: 127.0.0.1 for local processes, the host's address on the nodes' network for pods.
    serve_host: str = "127.0.0.1"


class RunningSimulation(Protocol):
    """What a provider simulates while a drill runs (kwok: the ML operators' status)."""

    def stop(self) -> None:
        """End it within seconds (threads joined); safe to call twice."""
        ...

    def snapshot(self) -> Simulation:
        """What has been simulated so far; still answers after `stop`."""
        ...


class ClusterProvider(Protocol):
    @property
    def name(self) -> str: ...

    def describe(self) -> list[str]:
        """What `create` would do, for `drdrill plan`."""
        ...

    def create(self, *, deadline: Deadline) -> ClusterInfo:
        """Bring the cluster up and wait until the API is healthy and every node is Ready.

        On failure it leaves nothing running behind and raises a DrdrillError.
        """
        ...

    def delete(self, info: ClusterInfo) -> None:
        """Tear down what `create` made; safe to call twice."""
        ...

    def start_simulation(self, *, info: ClusterInfo) -> RunningSimulation | None:
        """Start what stands in for controllers that cannot run on this cluster, for as long
        as the drill runs; None when nothing is simulated (a real cluster)."""
        ...

    def gitops_placement(self, *, info: ClusterInfo) -> GitOpsPlacement:
        """How GitOps controllers run on this running cluster and where a local repository
        is served for them."""
        ...
