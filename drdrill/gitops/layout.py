"""What a Flux repository looks like at the drill's path, read before any cluster exists.

A drill must know, before it spends any budget, whether the repository is a plain folder of
manifests or a `flux bootstrap` layout (`<path>/flux-system/` with `gotk-components.yaml`,
`gotk-sync.yaml` and `kustomization.yaml`), and which GitRepository objects in Git point at
which remotes. Layouts drdrill cannot drill are named in one line (`UnhandledLayout`): what was
found, why it is not handled, what to do.

Only local repositories are read (the files of the commit the drill asks for, or a plain
folder); a repository given by URL is not cloned ahead of the drill.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from drdrill.errors import BadInputError

try:  # libyaml's parser where PyYAML has it: an order of magnitude faster on large trees
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

BOOTSTRAP_FOLDER = "flux-system"
SYNC_FILE = "gotk-sync.yaml"
COMPONENTS_FILE = "gotk-components.yaml"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
# Larger YAML files are not scanned for GitRepository objects (generated CRD bundles).
_MAX_SCANNED_BYTES = 4 * 1024 * 1024
# JSON too: SOPS-encrypted manifests may be JSON, and Flux applies .json files.
_YAML = (".yaml", ".yml", ".json")


class UnhandledLayout(BadInputError):
    """The repository at the drill's path is laid out in a way drdrill does not drill."""


@dataclass(frozen=True)
class RepoFiles:
    """The YAML files of a repository at one commit (or of a plain folder), by posix path."""

    files: Mapping[str, bytes]
    revision: str

    def under(self, folder: str) -> Iterator[tuple[str, bytes]]:
        prefix = normalise_path(folder)
        for path, content in sorted(self.files.items()):
            if prefix in ("", ".") or path.startswith(prefix + "/"):
                yield path, content


def normalise_path(path: str) -> str:
    """`./clusters/prod/` -> `clusters/prod`; `./` -> ``."""
    parts = [p for p in PurePosixPath(path.strip()).parts if p not in (".", "/")]
    return "/".join(parts)


def read_folder(folder: Path) -> RepoFiles:
    """A plain folder (not a git repository): its YAML files as they are on disk."""
    files: dict[str, bytes] = {}
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            path = Path(root) / name
            if name.endswith(_YAML) and not path.is_symlink() and (
                path.stat().st_size <= _MAX_SCANNED_BYTES
            ):
                files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return RepoFiles(files=files, revision="working tree")


def read_commit(folder: Path, *, commit: str) -> RepoFiles:
    """The YAML files of `commit` in the git repository at `folder` (never the working tree)."""
    from dulwich.repo import Repo

    repo: Any = Repo(str(folder))
    try:
        tree = repo[repo[commit.encode()].tree]
        files: dict[str, bytes] = {}
        for entry in repo.object_store.iter_tree_contents(tree.id):
            path = entry.path.decode("utf-8", "replace")
            if not path.endswith(_YAML) or (entry.mode & 0o170000) != 0o100000:
                continue
            blob = repo[entry.sha]
            if len(blob.data) <= _MAX_SCANNED_BYTES:
                files[path] = bytes(blob.data)
        return RepoFiles(files=files, revision=commit)
    finally:
        repo.close()


def yaml_documents(content: bytes) -> list[dict[str, Any]]:
    """The mapping documents of one YAML file; a file that does not parse yields nothing
    (Helm templates and other non-manifest YAML live in repositories too)."""
    try:
        return [d for d in yaml.load_all(content, Loader=_SafeLoader) if isinstance(d, dict)]
    except yaml.YAMLError:
        pass
    try:  # JSON that is not YAML (tab-indented, as `sops` writes it)
        document = json.loads(content)
    except ValueError:
        return []
    return [document] if isinstance(document, dict) else []


def _is(obj: Mapping[str, Any], group: str, kind: str) -> bool:
    api_version = str(obj.get("apiVersion", ""))
    return obj.get("kind") == kind and api_version.startswith(group + "/")


@dataclass(frozen=True)
class GitSource:
    """A GitRepository object found in Git."""

    file: str
    name: str
    namespace: str | None
    url: str

    def describe(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"GitRepository {where}{self.name} ({self.file})"


@dataclass(frozen=True)
class GitKustomization:
    """A Flux Kustomization found in Git, with the kustomize patches it already carries."""

    file: str
    name: str
    namespace: str | None
    patches: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class BootstrapSync:
    """The sync objects `flux bootstrap` committed to `<path>/flux-system/gotk-sync.yaml`."""

    folder: str
    source: dict[str, Any]
    kustomization: dict[str, Any]
    components_file: str | None

    @property
    def name(self) -> str:
        return str(self.kustomization["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.kustomization["metadata"].get("namespace") or "flux-system")

    @property
    def source_name(self) -> str:
        return str(self.source["metadata"]["name"])

    @property
    def source_namespace(self) -> str:
        return str(self.source["metadata"].get("namespace") or self.namespace)


@dataclass(frozen=True)
class EncryptedSecret:
    """A secret Git holds encrypted: a SOPS-encrypted manifest or a Bitnami SealedSecret.
    Found here so that a key check can be hooked in; nothing is decrypted in this module."""

    file: str
    kind: str  # "sops" | "sealed-secret"
    name: str
    namespace: str | None


@dataclass(frozen=True)
class RepositoryLayout:
    kind: str  # "plain" | "bootstrap" | "not read"
    bootstrap: BootstrapSync | None = None
    sources: tuple[GitSource, ...] = ()
    kustomizations: tuple[GitKustomization, ...] = ()
    notes: tuple[str, ...] = field(default=())
    encrypted: tuple[EncryptedSecret, ...] = ()

    def describe(self) -> str:
        if self.bootstrap is not None:
            return (f"a `flux bootstrap` layout ({self.bootstrap.folder}/{SYNC_FILE}: "
                    f"Kustomization {self.bootstrap.namespace}/{self.bootstrap.name})")
        if self.kind == "not read":
            return "not read ahead of the drill (a remote repository)"
        return "a folder of manifests"


def find_sources(files: RepoFiles) -> tuple[GitSource, ...]:
    found = []
    for path, content in files.under(""):
        for doc in yaml_documents(content):
            if not _is(doc, SOURCE_GROUP, "GitRepository"):
                continue
            metadata = doc.get("metadata") or {}
            url = str((doc.get("spec") or {}).get("url") or "")
            if metadata.get("name") and url:
                found.append(GitSource(file=path, name=str(metadata["name"]),
                                       namespace=metadata.get("namespace") or None, url=url))
    return tuple(found)


def find_encrypted(files: RepoFiles) -> tuple[EncryptedSecret, ...]:
    found = []
    for path, content in files.under(""):
        for doc in yaml_documents(content):
            metadata = doc.get("metadata") or {}
            name, namespace = str(metadata.get("name", "")), metadata.get("namespace") or None
            if isinstance(doc.get("sops"), dict) and doc.get("kind"):
                found.append(EncryptedSecret(path, "sops", name, namespace))
            elif doc.get("kind") == "SealedSecret" and str(
                doc.get("apiVersion", "")).startswith("bitnami.com/"):
                found.append(EncryptedSecret(path, "sealed-secret", name, namespace))
    return tuple(found)


def find_kustomizations(files: RepoFiles) -> tuple[GitKustomization, ...]:
    found = []
    for path, content in files.under(""):
        for doc in yaml_documents(content):
            metadata = doc.get("metadata") or {}
            if _is(doc, KUSTOMIZE_GROUP, "Kustomization") and metadata.get("name"):
                patches = (doc.get("spec") or {}).get("patches") or []
                found.append(GitKustomization(
                    file=path, name=str(metadata["name"]),
                    namespace=metadata.get("namespace") or None,
                    patches=tuple(p for p in patches if isinstance(p, dict))))
    return tuple(found)


def _decryption_secret(doc: Mapping[str, Any]) -> str | None:
    decryption = (doc.get("spec") or {}).get("decryption") or {}
    if not isinstance(decryption, dict) or decryption.get("provider") != "sops":
        return None
    name = (decryption.get("secretRef") or {}).get("name")
    return str(name) if name else None


def find_decryption_secrets(files: RepoFiles) -> tuple[tuple[str | None, str], ...]:
    """(namespace or None, name) of every SOPS decryption Secret a Flux Kustomization in Git
    names, in its own spec or in a kustomize patch of one (how `flux bootstrap` repositories
    add decryption to their root Kustomization)."""
    found: dict[tuple[str | None, str], None] = {}
    for _, content in files.under(""):
        for doc in yaml_documents(content):
            candidates: list[tuple[Mapping[str, Any], str | None]] = []
            if _is(doc, KUSTOMIZE_GROUP, "Kustomization"):
                candidates.append((doc, (doc.get("metadata") or {}).get("namespace")))
            elif str(doc.get("apiVersion", "")).startswith("kustomize.config.k8s.io/"):
                for patch in doc.get("patches") or []:
                    if not isinstance(patch, dict) or not isinstance(patch.get("patch"), str):
                        continue
                    target = patch.get("target") or {}
                    for body in yaml_documents(patch["patch"].encode()):
                        namespace = (body.get("metadata") or {}).get("namespace") or (
                            target.get("namespace") if isinstance(target, dict) else None)
                        candidates.append((body, namespace))
            for obj, namespace in candidates:
                name = _decryption_secret(obj)
                if name is not None:
                    found[(str(namespace) if namespace else None, name)] = None
    return tuple(found)


def inspect_layout(files: RepoFiles, *, path: str, repository: str) -> RepositoryLayout:
    """Recognise the layout at `path`; raise `UnhandledLayout` with one line when drdrill
    cannot drill it. `repository` names the repository in messages."""
    base = normalise_path(path)
    folder = f"{base}/{BOOTSTRAP_FOLDER}" if base else BOOTSTRAP_FOLDER
    sources = find_sources(files)
    inside = {p.rsplit("/", 1)[-1]: p for p, _ in files.under(folder)
              if p.count("/") == folder.count("/") + 1}
    if SYNC_FILE not in inside:
        if COMPONENTS_FILE in inside:
            raise UnhandledLayout(
                f"{repository}: {folder}/ has {COMPONENTS_FILE} but no {SYNC_FILE}, so the "
                "repository's sync objects are unknown: commit the gotk-sync.yaml that `flux "
                "bootstrap` wrote, or point spec.gitops.path at a folder of manifests"
            )
        return RepositoryLayout(kind="plain", sources=sources,
                                kustomizations=find_kustomizations(files),
                                encrypted=find_encrypted(files))
    sync = _read_sync(files.files[inside[SYNC_FILE]], file=inside[SYNC_FILE],
                      repository=repository)
    source, kustomization = sync
    ks_spec = kustomization.get("spec") or {}
    ref = ks_spec.get("sourceRef") or {}
    where = f"{repository}: {inside[SYNC_FILE]}"
    if ref.get("kind") != "GitRepository" or ref.get("name") != source["metadata"]["name"]:
        raise UnhandledLayout(
            f"{where}: Kustomization {kustomization['metadata']['name']} reads "
            f"{ref.get('kind')} {ref.get('name')}, not the GitRepository beside it; drdrill "
            "re-bootstraps Git sources only: point spec.gitops.path at a folder of manifests"
        )
    if normalise_path(str(ks_spec.get("path") or "")) != base:
        raise UnhandledLayout(
            f"{where}: the Kustomization applies path {ks_spec.get('path')!r}, but the drill "
            f"path is {path!r}; after its first apply Flux would follow gotk-sync.yaml: set "
            f"spec.gitops.path to {ks_spec.get('path')!r}"
        )
    return RepositoryLayout(
        kind="bootstrap",
        bootstrap=BootstrapSync(folder=folder, source=source, kustomization=kustomization,
                                components_file=inside.get(COMPONENTS_FILE)),
        sources=sources,
        kustomizations=find_kustomizations(files),
        encrypted=find_encrypted(files),
    )


def _read_sync(content: bytes, *, file: str, repository: str) -> tuple[
    dict[str, Any], dict[str, Any]
]:
    try:
        docs = [d for d in yaml.safe_load_all(content) if isinstance(d, dict)]
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0]
        raise UnhandledLayout(f"{repository}: {file} is not valid YAML ({first})") from err
    sources = [d for d in docs if _is(d, SOURCE_GROUP, "GitRepository")]
    kustomizations = [d for d in docs if _is(d, KUSTOMIZE_GROUP, "Kustomization")]
    if len(sources) != 1 or len(kustomizations) != 1:
        kinds = ", ".join(str(d.get("kind")) for d in docs) or "nothing"
        raise UnhandledLayout(
            f"{repository}: {file} holds {kinds}; drdrill re-bootstraps a gotk-sync.yaml with "
            "one GitRepository and one Kustomization (what `flux bootstrap git` writes): "
            "OCI or bucket bootstraps are not handled yet"
        )
    for doc in (sources[0], kustomizations[0]):
        if not (doc.get("metadata") or {}).get("name"):
            raise UnhandledLayout(f"{repository}: {file}: a {doc.get('kind')} without a name")
    return sources[0], kustomizations[0]


SCP_LIKE = re.compile(r"^(?P<user>[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")


def normalise_remote(url: str) -> str:
    """One spelling per remote: `ssh://git@github.com/org/repo.git`, `git@github.com:org/repo`
    and `https://github.com/org/repo/` all become `github.com/org/repo`."""
    text = url.strip()
    if "://" in text:
        rest = text.split("://", 1)[1]
        host, _, path = rest.partition("/")
        host = host.rsplit("@", 1)[-1]
        if host.endswith(":22"):
            host = host[:-3]
    else:
        match = SCP_LIKE.match(text)
        if match is None:
            return text.lower()
        host, path = match["host"], match["path"]
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return f"{host.lower()}/{path}"
