"""The bootstrap phase: run the versioned script, then wait until Git is applied.

On the kwok provider the GitOps controllers' pods are only simulated, so the real Flux
controllers from the test bed run as local processes against the apiserver.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
import yaml

from drdrill.clusters.base import ClusterInfo, GitOpsPlacement
from drdrill.clusters.state import add_process_group, save_state
from drdrill.engine.context import DrillContext
from drdrill.engine.phase import PhaseOutcome
from drdrill.engine.providers import provider_for_info
from drdrill.errors import BadInputError, PhaseFailure, PrerequisiteError
from drdrill.gitops.argocd import request_hard_refresh, wait_for_application
from drdrill.gitops.argocd_bootstrap import argocd_script_env, expected_remote_commit
from drdrill.gitops.argocd_local import LocalArgoCD, start_local_argocd
from drdrill.gitops.bootstrap import (
    BOOTSTRAP_ROOT,
    BootstrapFailed,
    BootstrapInputs,
    find_script,
    run_bootstrap,
)
from drdrill.gitops.flux import request_reconcile, wait_for_flux
from drdrill.gitops.flux_local import LocalFlux, flux_crds_manifest, start_local_flux
from drdrill.gitops.gitserver import ServedRepository, serve_repository
from drdrill.gitops.layout import (
    GitSource,
    RepoFiles,
    RepositoryLayout,
    UnhandledLayout,
    find_decryption_secrets,
    inspect_layout,
    read_commit,
    read_folder,
)
from drdrill.gitops.pinned import fetch_pinned
from drdrill.gitops.remotes import remote_problem
from drdrill.gitops.sync import DrillSource, SourceRewrite, plan_rewrites, root_objects
from drdrill.kubeapi import call_with_retries, new_api_client
from drdrill.scenario.models import Engine, GitOpsSpec, GitRef, Provider, Scenario
from drdrill.testbed import testbed_dir
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)
MAIN_REPOSITORY = "platform"


@dataclass(frozen=True)
class GitOpsLayout:
    """The repository at the drill path, and the root objects' name and namespace."""

    layout: RepositoryLayout
    name: str
    namespace: str
    source_name: str


def _local_files(folder: Path, ref: GitRef) -> RepoFiles | None:
    """The files of the commit the drill will apply; None when the ref does not exist (the
    bootstrap phase reports that)."""
    if not (folder / ".git").exists():
        return read_folder(folder) if folder.is_dir() else None
    from dulwich.repo import Repo

    repo = Repo(str(folder))
    try:
        commit = _resolve(repo, ref)
    finally:
        repo.close()
    return read_commit(folder, commit=commit) if commit else None


def _resolve(git: Any, ref: GitRef) -> str | None:
    if ref.commit:
        return ref.commit
    name = f"refs/heads/{ref.branch}" if ref.branch else f"refs/tags/{ref.tag}"
    try:
        obj = git[name.encode()]
    except KeyError:
        return None
    while obj.type_name == b"tag":
        obj = git[obj.object[1]]
    return str(obj.id.decode())


def inspect_gitops(scenario: Scenario, *, files: RepoFiles | None = None) -> GitOpsLayout | None:
    """Recognise the layout at the drill path and settle the root objects' names; raises
    `UnhandledLayout` (one line) for what drdrill cannot drill."""
    gitops = scenario.spec.gitops
    if gitops is None:
        return None
    name, namespace = gitops.root_name(), gitops.root_namespace()
    if gitops.engine is not Engine.FLUX:
        return GitOpsLayout(RepositoryLayout(kind="plain"), name, namespace, name)
    if files is None and gitops.repository.path is not None:
        files = _local_files(scenario.resolve_path(gitops.repository.path), gitops.ref)
    if files is None:
        return GitOpsLayout(RepositoryLayout(kind="not read"), name, namespace, name)
    repository = gitops.repository.path or gitops.repository.url or MAIN_REPOSITORY
    layout = inspect_layout(files, path=gitops.path, repository=repository)
    sync = layout.bootstrap
    if sync is None:
        return GitOpsLayout(layout, name, namespace, name)
    for given, found, what in ((gitops.root.name, sync.name, "name"),
                               (gitops.root.namespace, sync.namespace, "namespace")):
        if given is not None and given != found:
            raise UnhandledLayout(
                f"spec.gitops.root.{what} is {given!r}, but {sync.folder}/gotk-sync.yaml "
                f"names the root Kustomization's {what} {found!r}: drop root.{what} or make "
                "them agree"
            )
    if sync.source_namespace != sync.namespace:
        raise UnhandledLayout(
            f"{sync.folder}/gotk-sync.yaml: the GitRepository is in namespace "
            f"{sync.source_namespace} and the Kustomization in {sync.namespace}; drdrill "
            "re-bootstraps both in one namespace"
        )
    return GitOpsLayout(layout, sync.name, sync.namespace, sync.source_name)


def check_gitops(scenario: Scenario) -> GitOpsLayout | None:
    """Before any budget is spent: the layout is one drdrill handles, and every GitRepository
    in Git points at a mapped remote or at one that answers. Raises with one line."""
    from drdrill.engine.phases.keys import load_key_files

    load_key_files(scenario)  # a bad key file is bad input, named before anything starts
    found = inspect_gitops(scenario)
    gitops = scenario.spec.gitops
    if found is None or gitops is None:
        return found
    placeholder = DrillSource(MAIN_REPOSITORY, "", remotes=gitops.repository.remotes)
    team = [DrillSource(r.name, "", remotes=r.remotes) for r in gitops.repositories]
    _, unmapped = plan_rewrites(found.layout.sources, [placeholder, *team],
                                root_name=found.source_name, root_namespace=found.namespace)
    for source in unmapped:
        problem = remote_problem(source.url)
        if problem is not None:
            raise UnhandledLayout(
                f"{source.describe()} points at {source.url}, which does not answer "
                f"({problem}) and is not mapped: add it to spec.gitops.repositories[].remotes "
                "with where the drill takes it from"
            )
    return found


def _bootstrap_root(ctx: DrillContext, gitops: GitOpsSpec) -> Path:
    return ctx.scenario.resolve_path(gitops.bootstrap_dir) if gitops.bootstrap_dir else (
        BOOTSTRAP_ROOT)


def _install_manifests(ctx: DrillContext, gitops: GitOpsSpec, placement: GitOpsPlacement) -> str:
    if not placement.controllers_in_cluster:
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
        # Applied from a checked download, never from the URL itself (see gitops/pinned.py).
        folder = Path(tempfile.mkdtemp(prefix="drdrill-manifests-"))
        ctx.cleanup.push("remove the downloaded install manifests",
                         lambda: shutil.rmtree(folder, ignore_errors=True))
        return str(fetch_pinned(gitops.install_manifests,
                                sha256=gitops.install_manifests_sha256 or "", folder=folder,
                                deadline=Deadline.after(120)))
    return str(ctx.scenario.resolve_path(gitops.install_manifests))


def _placement(ctx: DrillContext) -> GitOpsPlacement:
    """The provider says how GitOps controllers run on its cluster and where a local
    repository is served for them (kwok: local processes, 127.0.0.1; kind: pods, the host's
    address on the nodes' network)."""
    info: ClusterInfo = ctx.cluster
    return provider_for_info(ctx, info).gitops_placement(info=info)


def _serve(ctx: DrillContext, path: str, placement: GitOpsPlacement) -> ServedRepository:
    served = serve_repository(ctx.scenario.resolve_path(path), host=placement.serve_host)
    ctx.cleanup.push(f"stop the local git server for {path}", served.stop)
    return served


def _repository(ctx: DrillContext, gitops: GitOpsSpec, placement: GitOpsPlacement) -> tuple[
    str, str | None, ServedRepository | None
]:
    """The URL Flux / Argo CD will clone, the commit the drill expects (when knowable), and
    the served copy of a local repository."""
    ref = gitops.ref
    if gitops.repository.url is not None:
        return gitops.repository.url, ref.commit, None
    served = _serve(ctx, gitops.repository.path or ".", placement)
    if ref.commit:
        return served.url, ref.commit, served
    commit = served.resolve(branch=ref.branch, tag=ref.tag)
    if commit is None:
        raise PhaseFailure(f"{ref.describe()} not found in {gitops.repository.path}")
    return served.url, commit, served


def _sync_manifest(
    ctx: DrillContext, gitops: GitOpsSpec, *, found: GitOpsLayout, main: DrillSource,
    placement: GitOpsPlacement,
) -> tuple[Path, list[SourceRewrite], Path]:
    """Write the root objects for the bootstrap script; returns the file, the rewrites and
    the folder to remove afterwards."""
    team = []
    for repo in gitops.repositories:
        if repo.path is not None:
            team.append(DrillSource(repo.name, _serve(ctx, repo.path, placement).url,
                                    remotes=repo.remotes, served=True))
        else:
            team.append(DrillSource(repo.name, str(repo.url), remotes=repo.remotes))
    rewrites, unmapped = plan_rewrites(found.layout.sources, [main, *team],
                                       root_name=found.source_name,
                                       root_namespace=found.namespace)
    if found.layout.kind == "not read" and gitops.engine is Engine.FLUX:
        # A remote repository is not read ahead: should it hold gotk-sync.yaml, its
        # GitRepository (by the root's name) must keep pointing at the drill's source.
        rewrites.insert(0, SourceRewrite(GitSource(file="gotk-sync.yaml, if Git has one",
                                                   name=found.source_name,
                                                   namespace=found.namespace,
                                                   url="(its URL in Git)"), main, root=True))
    for source in unmapped:
        log.info("GitRepository left as in Git (remote not mapped)", source=source.describe(),
                 url=source.url)
    objects = root_objects(
        name=found.name, namespace=found.namespace, main=main, ref=gitops.ref,
        path=gitops.path, interval=gitops.interval, layout=found.layout, rewrites=rewrites,
        post_build=gitops.post_build,
    )
    if gitops.decryption is not None:
        objects.kustomization["spec"]["decryption"] = {
            "provider": "sops", "secretRef": {"name": gitops.decryption.secret_name}}
    folder = Path(tempfile.mkdtemp(prefix="drdrill-sync-"))
    manifest = folder / "sync.yaml"
    manifest.write_text(yaml.safe_dump_all(objects.documents(), sort_keys=False))
    return manifest, rewrites, folder


def _substitute_from(ctx: DrillContext, gitops: GitOpsSpec) -> str:
    if gitops.post_build is None:
        return ""
    lines = []
    for item in gitops.post_build.substitute_from:
        file = ctx.scenario.resolve_path(item.file)
        if not file.is_file():
            raise BadInputError(f"spec.gitops.postBuild.substituteFrom: {file} is not a file")
        if any(c.isspace() for c in str(file)):
            raise BadInputError(f"spec.gitops.postBuild.substituteFrom: {file}: a path with "
                                "spaces is not supported")
        lines.append(f"{item.kind} {item.name} {file}")
    return "\n".join(lines)


def _components(found: GitOpsLayout, files: RepoFiles | None, folder: Path) -> str | None:
    """A bootstrap layout's own gotk-components.yaml, where Flux runs in the cluster."""
    sync = found.layout.bootstrap
    if sync is None or sync.components_file is None or files is None:
        return None
    content = files.files.get(sync.components_file)
    if content is None:
        return None
    target = folder / "gotk-components.yaml"
    target.write_bytes(content)
    return str(target)


# Flux reads age identities from decryption Secret entries whose names end in `.agekey`.
AGE_KEY_ENTRY = "identity.agekey"
_DECRYPT_FAILED = re.compile(r"failed to decrypt and format '(?P<namespace>[^/']*)/"
                             r"(?P<name>[^']+)' (?P<kind>\w+)")


def decryption_secrets(gitops: GitOpsSpec, *, namespace: str,
                       files: RepoFiles | None) -> list[tuple[str, str]]:
    """(namespace, name) of each SOPS decryption Secret the drill creates with the scenario's
    age key: the root's, and every one a Kustomization in Git names."""
    if gitops.decryption is None:
        return []
    wanted = {(namespace, gitops.decryption.secret_name): None}
    if files is not None:
        for found_namespace, name in find_decryption_secrets(files):
            wanted[(found_namespace or namespace, name)] = None
    return list(wanted)


def _decryption_env(ctx: DrillContext, gitops: GitOpsSpec, secrets: list[tuple[str, str]]) -> str:
    if gitops.decryption is None:
        return ""
    key_file = ctx.scenario.resolve_path(gitops.decryption.key_file)
    return "\n".join(f"{ns} {name} {AGE_KEY_ENTRY} {key_file}" for ns, name in secrets)


def explain_decryption_failure(message: str, *, key_file: Path) -> str | None:
    """kustomize-controller's decryption error, said as what it means for the drill."""
    match = _DECRYPT_FAILED.search(message)
    if match is None:
        return None
    where = f"{match['namespace']}/" if match["namespace"] else ""
    one_line = " ".join(message.split())  # SOPS' own error spans several lines
    return (f"{match['kind']} {where}{match['name']} cannot be decrypted with the key in "
            f"{key_file}: {one_line}")


def _layout_files(ctx: DrillContext) -> RepoFiles | None:
    gitops = ctx.scenario.spec.gitops
    if gitops is None or gitops.repository.path is None:
        return None
    return _local_files(ctx.scenario.resolve_path(gitops.repository.path), gitops.ref)


def _remember_processes(ctx: DrillContext, pgids: tuple[int, ...]) -> None:
    info: ClusterInfo = ctx.cluster
    for pgid in pgids:
        info = add_process_group(info, pgid)
    ctx.cluster = info
    if info.owned:
        save_state(info)


# Where depends on the provider (kwok: 127.0.0.1; kind: the cluster network's gateway).
_SERVED = "(served read-only where the cluster's GitOps controllers reach it)"


class BootstrapPhase:
    name = "bootstrap"
    needs: tuple[str, ...] = ("cluster",)

    def required(self, ctx: DrillContext) -> bool:
        return True

    def describe(self, ctx: DrillContext) -> list[str]:
        gitops = ctx.scenario.spec.gitops
        if gitops is None:
            return ["nothing: the scenario has no spec.gitops"]
        repo = gitops.repository.url or f"{gitops.repository.path} {_SERVED}"
        root = _bootstrap_root(ctx, gitops)
        lines = [
            f"run {root / gitops.engine.value / gitops.version / 'bootstrap.sh'}",
            f"{gitops.engine.value} applies {repo} at {gitops.ref.describe()}, path {gitops.path}",
        ]
        try:
            found = inspect_gitops(ctx.scenario)
        except UnhandledLayout as err:
            lines.append(f"cannot drill this repository: {err}")
            return lines
        if found is not None:
            lines.append(f"the repository at {gitops.path} is {found.layout.describe()}; root "
                         f"objects {found.namespace}/{found.name}")
            if found.layout.encrypted:
                kinds = sorted({e.kind for e in found.layout.encrypted})
                checked = ("their keys are checked by the keys phase" if gitops.keys
                           or gitops.decryption else "their keys are not checked by this "
                           "drill (name them in spec.gitops.keys)")
                lines.append(f"{len(found.layout.encrypted)} encrypted secret(s) in Git "
                             f"({', '.join(kinds)}): {checked}")
            if gitops.decryption is not None:
                secrets = decryption_secrets(gitops, namespace=found.namespace,
                                             files=_layout_files(ctx))
                key_file = ctx.scenario.resolve_path(gitops.decryption.key_file)
                names = ", ".join(f"{ns}/{name}" for ns, name in secrets)
                lines.append(f"SOPS decryption: Secret(s) {names} ({AGE_KEY_ENTRY} from "
                             f"{key_file}); the root Kustomization decrypts with "
                             f"{gitops.decryption.secret_name}")
        for team in gitops.repositories:
            lines.append(f"repository {team.name} ({', '.join(team.remotes)}) from "
                         f"{team.url or f'{team.path} {_SERVED}'}")
        if ctx.provider is Provider.KWOK and gitops.engine is Engine.FLUX:
            lines.append("run Flux source-, kustomize- and helm-controller locally (test bed)")
        if ctx.provider is Provider.KWOK and gitops.engine is Engine.ARGOCD:
            lines.append("run Argo CD's application-controller and repo-server, and Redis, "
                         "locally (test bed); hard refresh instead of the 3-minute poll")
        return lines

    def run(self, ctx: DrillContext, *, deadline: Deadline) -> PhaseOutcome:
        gitops = ctx.scenario.spec.gitops
        if gitops is None:
            return PhaseOutcome.skipped("the scenario has no spec.gitops section")
        script = find_script(engine=gitops.engine.value, version=gitops.version,
                             root=_bootstrap_root(ctx, gitops))
        info: ClusterInfo = ctx.cluster
        placement = _placement(ctx)
        url, expected_commit, served = _repository(ctx, gitops, placement)
        files = None
        if served is not None and expected_commit is not None:
            try:
                files = read_commit(served.root, commit=expected_commit)
            except KeyError as err:
                raise PhaseFailure(f"commit {expected_commit} not found in "
                                   f"{gitops.repository.path}") from err
        found = inspect_gitops(ctx.scenario, files=files)
        assert found is not None
        ref_kind, ref_value = next(
            (k, v) for k, v in (("branch", gitops.ref.branch), ("tag", gitops.ref.tag),
                                ("commit", gitops.ref.commit)) if v
        )
        tools = testbed_dir() / "bin"
        name, namespace = found.name, found.namespace
        extra: dict[str, str] = {}
        rewrites: list[SourceRewrite] = []
        install = None
        if gitops.engine is Engine.FLUX:
            credentials = {"ssh-key", "username"} & set(gitops.secret_files)
            main = DrillSource(MAIN_REPOSITORY, url, remotes=gitops.repository.remotes,
                               secret_name=f"{name}-git-auth" if credentials else None,
                               served=served is not None)
            manifest, rewrites, folder = _sync_manifest(ctx, gitops, found=found, main=main,
                                                        placement=placement)
            ctx.cleanup.push("remove the sync manifest", lambda: shutil.rmtree(folder, True))
            extra = {"DRDRILL_SYNC_MANIFEST": str(manifest),
                     "DRDRILL_SUBSTITUTE_FROM": _substitute_from(ctx, gitops),
                     "DRDRILL_DECRYPTION_SECRETS": _decryption_env(
                         ctx, gitops, decryption_secrets(gitops, namespace=namespace,
                                                         files=files or _layout_files(ctx)))}
            if placement.controllers_in_cluster and gitops.install_manifests is None:
                install = _components(found, files, folder)
        else:
            argocd_folder = Path(tempfile.mkdtemp(prefix="drdrill-argocd-inputs-"))
            ctx.cleanup.push("remove the Argo CD inputs",
                             lambda: shutil.rmtree(argocd_folder, True))
            extra = argocd_script_env(gitops.argocd, folder=argocd_folder,
                                      local_components=not placement.controllers_in_cluster)
            if expected_commit is None:
                expected_commit = expected_remote_commit(url, gitops.ref)
        inputs = BootstrapInputs(
            kubeconfig=info.kubeconfig, context=info.context, repo_url=url, ref_kind=ref_kind,
            ref=ref_value, path=gitops.path, interval=gitops.interval,
            install_manifests=install or _install_manifests(ctx, gitops, placement), name=name,
            namespace=namespace,
            secret_files={k: ctx.scenario.resolve_path(v) for k, v in gitops.secret_files.items()},
            tools_path=tools if tools.is_dir() else None,
            extra=extra,
        )
        details = {"layout": found.layout.describe(),
                   "rewrites": [r.describe() for r in rewrites]}
        for rewrite in rewrites:
            log.info("GitRepository rewritten", rewrite=rewrite.describe())
        try:
            record = run_bootstrap(script=script, engine=gitops.engine.value,
                                   version=gitops.version, inputs=inputs, deadline=deadline)
            ctx.bootstrap = record.model_copy(update=details)
        except BootstrapFailed as failed:
            ctx.bootstrap = failed.record.model_copy(update=details)
            raise
        flux: LocalFlux | None = None
        if not placement.controllers_in_cluster and gitops.engine is Engine.FLUX:
            flux = start_local_flux(kubeconfig=info.kubeconfig, deadline=deadline)
            if ctx.options.keep_cluster:
                _remember_processes(ctx, flux.process_groups)
            else:
                ctx.cleanup.push("stop the local Flux controllers", flux.stop)
        argocd: LocalArgoCD | None = None
        if not placement.controllers_in_cluster and gitops.engine is Engine.ARGOCD:
            argocd = start_local_argocd(kubeconfig=info.kubeconfig, namespace=namespace,
                                        deadline=deadline)
            if ctx.options.keep_cluster:
                _remember_processes(ctx, argocd.process_groups)
            else:
                ctx.cleanup.push("stop the local Argo CD components", argocd.stop)
        api = new_api_client(kubeconfig=info.kubeconfig, context=info.context)
        ctx.cleanup.push("close the API client", api.close)
        if gitops.engine is Engine.FLUX:
            call_with_retries(
                lambda: request_reconcile(api, namespace=namespace, name=name,
                                          source_name=found.source_name),
                deadline=deadline,
            )
            try:
                result = wait_for_flux(api, namespace=namespace, name=name,
                                       source_name=found.source_name,
                                       expected_commit=expected_commit, deadline=deadline)
            except PhaseFailure as failure:
                if flux is not None:
                    flux.check_running()  # a dead controller is the real reason
                if gitops.decryption is not None:
                    key_file = ctx.scenario.resolve_path(gitops.decryption.key_file)
                    clearer = explain_decryption_failure(str(failure), key_file=key_file)
                    if clearer is not None:
                        raise PhaseFailure(clearer) from failure
                raise
            ctx.gitops_object = result.kustomization
            revision = result.revision
        else:
            call_with_retries(lambda: request_hard_refresh(api, namespace=namespace, name=name),
                              deadline=deadline)
            try:
                ctx.gitops_object = wait_for_application(
                    api, namespace=namespace, name=name, expected_commit=expected_commit,
                    deadline=deadline)
            except PhaseFailure:
                if argocd is not None:
                    argocd.check_running()  # a dead component is the real reason
                raise
            sync = (ctx.gitops_object.get("status") or {}).get("sync") or {}
            revision = str((sync.get("revisions") or [sync.get("revision") or ref_value])[0])
            if argocd is not None:
                log.info("argo cd components' resident memory", bytes=argocd.resident_memory())
        ctx.bootstrap = ctx.bootstrap.model_copy(update={"revision": revision})
        return PhaseOutcome.passed(f"{gitops.engine.value} applied {revision}")

