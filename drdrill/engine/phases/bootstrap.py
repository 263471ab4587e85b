"""The bootstrap phase: run the versioned script, then wait until Git is applied.

On the kwok provider the GitOps controllers' pods are only simulated, so the real Flux
controllers from the test bed run as local processes against the apiserver.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from drdrill.clusters.base import ClusterInfo
from drdrill.clusters.state import add_process_group, save_state
from drdrill.engine.context import DrillContext
from drdrill.engine.phase import PhaseOutcome
from drdrill.errors import BadInputError, PhaseFailure, PrerequisiteError
from drdrill.gitops.argocd import wait_for_application
from drdrill.gitops.bootstrap import (
    BOOTSTRAP_ROOT,
    BootstrapFailed,
    BootstrapInputs,
    find_script,
    run_bootstrap,
)
from drdrill.gitops.flux import request_reconcile, wait_for_flux
from drdrill.gitops.flux_local import LocalFlux, flux_crds_manifest, start_local_flux
from drdrill.gitops.gitserver import serve_repository
from drdrill.kubeapi import call_with_retries, new_api_client
from drdrill.scenario.models import Engine, GitOpsSpec, Provider
from drdrill.testbed import testbed_dir
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)
NAMESPACES = {Engine.FLUX: "flux-system", Engine.ARGOCD: "argocd"}
OBJECT_NAME = "platform"


def _bootstrap_root(ctx: DrillContext, gitops: GitOpsSpec) -> Path:
    return ctx.scenario.resolve_path(gitops.bootstrap_dir) if gitops.bootstrap_dir else (
        BOOTSTRAP_ROOT)


def _install_manifests(ctx: DrillContext, gitops: GitOpsSpec) -> str:
    if ctx.provider is Provider.KWOK:
        if gitops.engine is Engine.FLUX:
            return str(flux_crds_manifest())
        folder = testbed_dir() / "crds" / "argocd"
        if not folder.is_dir():
            raise PrerequisiteError(f"Argo CD CRDs missing in {folder}; run `make testbed`")
        return str(folder)
    if gitops.install_manifests is None:
        raise BadInputError(
            f"spec.gitops.installManifests: provider {ctx.provider.value} needs the {gitops.engine}"
            " install manifests (a release URL or a local file)"
        )
    if gitops.install_manifests.startswith(("http://", "https://")):
        return gitops.install_manifests
    return str(ctx.scenario.resolve_path(gitops.install_manifests))


def _repository(ctx: DrillContext, gitops: GitOpsSpec) -> tuple[str, str | None]:
    """The URL Flux / Argo CD will clone, and the commit the drill expects (when knowable)."""
    ref = gitops.ref
    if gitops.repository.url is not None:
        return gitops.repository.url, ref.commit
    served = serve_repository(ctx.scenario.resolve_path(gitops.repository.path or "."))
    ctx.cleanup.push("stop the local git server", served.stop)
    if ref.commit:
        return served.url, ref.commit
    commit = served.resolve(branch=ref.branch, tag=ref.tag)
    if commit is None:
        raise PhaseFailure(f"{ref.describe()} not found in {gitops.repository.path}")
    return served.url, commit


def _remember_processes(ctx: DrillContext, pgids: tuple[int, ...]) -> None:
    info: ClusterInfo = ctx.cluster
    for pgid in pgids:
        info = add_process_group(info, pgid)
    ctx.cluster = info
    if info.owned:
        save_state(info)


class BootstrapPhase:
    name = "bootstrap"
    needs: tuple[str, ...] = ("cluster",)

    def required(self, ctx: DrillContext) -> bool:
        return True

    def describe(self, ctx: DrillContext) -> list[str]:
        gitops = ctx.scenario.spec.gitops
        if gitops is None:
            return ["nothing: the scenario has no spec.gitops"]
        repo = gitops.repository.url or f"{gitops.repository.path} (served on 127.0.0.1)"
        root = _bootstrap_root(ctx, gitops)
        lines = [
            f"run {root / gitops.engine.value / gitops.version / 'bootstrap.sh'}",
            f"{gitops.engine.value} applies {repo} at {gitops.ref.describe()}, path {gitops.path}",
        ]
        if ctx.provider is Provider.KWOK and gitops.engine is Engine.FLUX:
            lines.append("run Flux source- and kustomize-controller locally (test bed)")
        return lines

    def run(self, ctx: DrillContext, *, deadline: Deadline) -> PhaseOutcome:
        gitops = ctx.scenario.spec.gitops
        if gitops is None:
            return PhaseOutcome.skipped("the scenario has no spec.gitops section")
        script = find_script(engine=gitops.engine.value, version=gitops.version,
                             root=_bootstrap_root(ctx, gitops))
        info: ClusterInfo = ctx.cluster
        url, expected_commit = _repository(ctx, gitops)
        ref_kind, ref_value = next(
            (k, v) for k, v in (("branch", gitops.ref.branch), ("tag", gitops.ref.tag),
                                ("commit", gitops.ref.commit)) if v
        )
        tools = testbed_dir() / "bin"
        inputs = BootstrapInputs(
            kubeconfig=info.kubeconfig, context=info.context, repo_url=url, ref_kind=ref_kind,
            ref=ref_value, path=gitops.path, interval=gitops.interval,
            install_manifests=_install_manifests(ctx, gitops), name=OBJECT_NAME,
            namespace=NAMESPACES[gitops.engine],
            secret_files={k: ctx.scenario.resolve_path(v) for k, v in gitops.secret_files.items()},
            tools_path=tools if tools.is_dir() else None,
        )
        try:
            ctx.bootstrap = run_bootstrap(script=script, engine=gitops.engine.value,
                                          version=gitops.version, inputs=inputs, deadline=deadline)
        except BootstrapFailed as failed:
            ctx.bootstrap = failed.record
            raise
        flux: LocalFlux | None = None
        if ctx.provider is Provider.KWOK and gitops.engine is Engine.FLUX:
            flux = start_local_flux(kubeconfig=info.kubeconfig, deadline=deadline)
            if ctx.options.keep_cluster:
                _remember_processes(ctx, flux.process_groups)
            else:
                ctx.cleanup.push("stop the local Flux controllers", flux.stop)
        api = new_api_client(kubeconfig=info.kubeconfig, context=info.context)
        ctx.cleanup.push("close the API client", api.close)
        namespace = NAMESPACES[gitops.engine]
        if gitops.engine is Engine.FLUX:
            call_with_retries(
                lambda: request_reconcile(api, namespace=namespace, name=OBJECT_NAME),
                deadline=deadline,
            )
            try:
                result = wait_for_flux(api, namespace=namespace, name=OBJECT_NAME,
                                       expected_commit=expected_commit, deadline=deadline)
            except PhaseFailure:
                if flux is not None:
                    flux.check_running()  # a dead controller is the real reason
                raise
            ctx.gitops_object = result.kustomization
            revision = result.revision
        else:
            ctx.gitops_object = wait_for_application(
                api, namespace=namespace, name=OBJECT_NAME,
                accepted_revisions=tuple(r for r in (expected_commit, ref_value) if r),
                deadline=deadline,
            )
            revision = ((ctx.gitops_object.get("status") or {}).get("sync") or {}).get(
                "revision", ref_value)
        ctx.bootstrap = ctx.bootstrap.model_copy(update={"revision": revision})
        return PhaseOutcome.passed(f"{gitops.engine.value} applied {revision}")

