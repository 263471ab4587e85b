"""An existing cluster, reached through a kubeconfig context that the scenario names.

Safety first: the context must be named in the scenario (never the current context), and a
cluster that already holds GitOps objects, or runs workloads outside the system namespaces
(a production cluster managed without Flux or Argo CD), is refused unless `--allow-non-empty`
says otherwise. A drill must never bootstrap into production by accident.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drdrill.clusters.base import ClusterInfo, GitOpsPlacement, RunningSimulation
from drdrill.errors import BadInputError, InfrastructureError, PrerequisiteError
from drdrill.kubeapi import kubeconfig_contexts, new_api_client
from drdrill.timing import Deadline

# Namespaces that show a GitOps engine is already installed.
GITOPS_NAMESPACES = ("flux-system", "argocd")
# Namespaces whose workloads every cluster has (kind's local-path provisioner included).
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease",
                               "local-path-storage"})
GITOPS_CRDS = (
    "kustomizations.kustomize.toolkit.fluxcd.io",
    "gitrepositories.source.toolkit.fluxcd.io",
    "applications.argoproj.io",
)


def resolve_kubeconfig(
    *, flag: Path | None, scenario_path: Path | None, context: str, environ: dict[str, str]
) -> Path:
    """kubectl's precedence: the flag, then the scenario, then each KUBECONFIG entry, then
    ~/.kube/config; the first file that has the context wins."""
    explicit = flag or scenario_path
    if explicit is not None:
        candidates: Sequence[Path] = [explicit]
    elif environ.get("KUBECONFIG"):
        candidates = [Path(p) for p in environ["KUBECONFIG"].split(os.pathsep) if p]
    else:
        candidates = [Path(environ.get("HOME", str(Path.home()))) / ".kube" / "config"]
    existing = [path for path in candidates if path.is_file()]
    if not existing:
        names = ", ".join(str(p) for p in candidates)
        raise BadInputError(f"kubeconfig not found ({names}); pass --kubeconfig or set KUBECONFIG")
    for path in existing:
        if context in kubeconfig_contexts(path):
            return path
    names = ", ".join(str(p) for p in existing)
    raise BadInputError(
        f"context {context!r} is not in kubeconfig {names}; name an existing context in "
        "spec.cluster.existing.context"
    )


def find_workloads(api_client: Any, *, limit: int = 4) -> list[str]:
    """Up to `limit` workloads (controllers first, then bare pods) outside system namespaces."""
    from kubernetes import client

    apps, batch, core = (client.AppsV1Api(api_client), client.BatchV1Api(api_client),
                         client.CoreV1Api(api_client))
    listings = (
        ("Deployment", apps.list_deployment_for_all_namespaces),
        ("StatefulSet", apps.list_stateful_set_for_all_namespaces),
        ("DaemonSet", apps.list_daemon_set_for_all_namespaces),
        ("CronJob", batch.list_cron_job_for_all_namespaces),
        ("Pod", core.list_pod_for_all_namespaces),
    )
    # What is already being deleted does not run the cluster's business any more.
    leaving = {ns.metadata.name for ns in core.list_namespace(_request_timeout=15).items
               if ns.status is not None and ns.status.phase == "Terminating"}
    found: list[str] = []
    for kind, listing in listings:
        for item in listing(limit=500, _request_timeout=15).items:
            meta = item.metadata
            if (meta.namespace in SYSTEM_NAMESPACES or meta.namespace in leaving
                    or meta.deletion_timestamp is not None):
                continue
            if kind == "Pod" and meta.owner_references:
                continue  # counted through its controller
            found.append(f"{kind} {meta.namespace}/{meta.name}")
            if len(found) >= limit:
                return found
    return found


def find_gitops_leftovers(api_client: Any, *, namespaces: Sequence[str]) -> list[str]:
    """What in the cluster shows a GitOps engine or the drill's objects are already there."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    found: list[str] = []
    core = client.CoreV1Api(api_client)
    try:
        present = {ns.metadata.name for ns in core.list_namespace(_request_timeout=15).items}
        found += [f"namespace {ns}" for ns in (*GITOPS_NAMESPACES, *namespaces) if ns in present]
        crds = client.ApiextensionsV1Api(api_client).list_custom_resource_definition(
            _request_timeout=15
        )
    except ApiException as err:
        raise InfrastructureError(f"cannot inspect the cluster: {err.status} {err.reason}") from err
    except Exception as err:  # urllib3 raises several unrelated types for a dead endpoint
        raise InfrastructureError(f"cannot reach the cluster: {err}") from err
    found += [f"CRD {crd.metadata.name}" for crd in crds.items if crd.metadata.name in GITOPS_CRDS]
    try:
        found += find_workloads(api_client)
    except ApiException as err:
        raise InfrastructureError(f"cannot list workloads: {err.status} {err.reason}") from err
    except Exception as err:
        raise InfrastructureError(f"cannot reach the cluster: {err}") from err
    return found


@dataclass(frozen=True)
class ExistingCluster:
    drill: str
    context: str
    kubeconfig_flag: Path | None
    kubeconfig_in_scenario: Path | None
    allow_non_empty: bool
    namespaces: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return "existing"

    def describe(self) -> list[str]:
        return [
            f"use kubeconfig context {self.context!r} (never deleted; teardown removes only "
            "what the drill created there)",
            "refuse the cluster if Flux / Argo CD objects or workloads outside the system "
            "namespaces are already there"
            + (" (overridden by --allow-non-empty)" if self.allow_non_empty else ""),
        ]

    def gitops_placement(self, *, info: ClusterInfo) -> GitOpsPlacement:
        # the engine runs in the cluster; a local repository is served on 127.0.0.1 only, so
        # an existing cluster needs spec.gitops.repository.url (or a port-forward of its own)
        return GitOpsPlacement(controllers_in_cluster=True, serve_host="127.0.0.1")

    def create(self, *, deadline: Deadline) -> ClusterInfo:
        path = resolve_kubeconfig(
            flag=self.kubeconfig_flag, scenario_path=self.kubeconfig_in_scenario,
            context=self.context, environ=dict(os.environ),
        )
        api = new_api_client(kubeconfig=path, context=self.context)
        try:
            leftovers = find_gitops_leftovers(api, namespaces=self.namespaces)
        finally:
            api.close()
        if leftovers and not self.allow_non_empty:
            raise PrerequisiteError(
                f"context {self.context!r} already has {', '.join(leftovers[:4])}; a drill "
                "needs an empty cluster (pass --allow-non-empty if this is really a drill "
                "cluster: teardown then removes only what the drill created)"
            )
        return ClusterInfo(name=self.drill, provider="existing", kubeconfig=path,
                           context=self.context, owned=False)

    def start_simulation(self, *, info: ClusterInfo) -> RunningSimulation | None:
        return None  # the cluster's own controllers run: nothing is simulated

    def delete(self, info: ClusterInfo) -> None:
        return None  # never delete a cluster drdrill did not create
