"""The root GitRepository and Kustomization a Flux drill creates, and what they rewrite.

What is rewritten, and why (the README says the same):

* The root GitRepository (`flux-system/flux-system` by default, or the one in a bootstrap
  layout's `gotk-sync.yaml`) points at the drill's source: the served copy of a local path,
  or the scenario's URL with the credentials from its secret files. `flux bootstrap` does the
  same on a new cluster: it writes the sync objects with the URL it was given.
* In a bootstrap layout the root Kustomization applies `gotk-sync.yaml` itself, which would
  point the GitRepository back at the original remote (and at a deploy-key Secret the new
  cluster does not have). So the root Kustomization carries kustomize `patches` that keep
  the URL, ref and secretRef of that GitRepository the drill's, and likewise for every other
  GitRepository in Git whose URL is a mapped remote of one of the scenario's repositories.
  Nothing in the repository is edited; the patches live in the Kustomization object only.
* The scenario's `postBuild` variables are added to the root Kustomization.

drdrill applies these objects with its own server-side-apply field manager (`drdrill`), so
kustomize-controller, when it applies the same Kustomization from `gotk-sync.yaml`, keeps
the fields only drdrill sets (patches, postBuild) and takes over the ones Git sets.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from drdrill.gitops.layout import (
    GitKustomization,
    GitSource,
    RepositoryLayout,
    normalise_remote,
)
from drdrill.scenario.models import GitRef, PostBuild

FIELD_MANAGER = "drdrill"
MANAGED_BY = {"app.kubernetes.io/managed-by": "drdrill"}
_REF_KEYS = ("branch", "tag", "semver", "name", "commit")


@dataclass(frozen=True)
class DrillSource:
    """Where the drill takes one repository from."""

    repository: str
    url: str
    remotes: tuple[str, ...] = ()
    # The credentials Secret for `url` (root namespace only); None when none is needed.
    secret_name: str | None = None
    # Served by the drill on 127.0.0.1: any secretRef in Git is dropped.
    served: bool = False

    def maps(self, url: str) -> bool:
        return normalise_remote(url) in {normalise_remote(r) for r in self.remotes}


@dataclass(frozen=True)
class SourceRewrite:
    source: GitSource
    to: DrillSource
    root: bool = False

    def describe(self) -> str:
        return (f"{self.source.describe()}: {self.source.url} -> {self.to.url} "
                f"({self.to.repository})")


def plan_rewrites(
    sources: Sequence[GitSource], drill_sources: Sequence[DrillSource],
    *, root_name: str, root_namespace: str,
) -> tuple[list[SourceRewrite], list[GitSource]]:
    """Which GitRepository objects in Git get a drill URL, and which point at unmapped remotes.

    The root GitRepository always gets the first (main) source, whatever its URL in Git.
    """
    rewrites: list[SourceRewrite] = []
    unmapped: list[GitSource] = []
    main = drill_sources[0]
    for source in sources:
        if source.name == root_name and (source.namespace or root_namespace) == root_namespace:
            rewrites.append(SourceRewrite(source, main, root=True))
            continue
        target = next((d for d in drill_sources if d.maps(source.url)), None)
        if target is not None:
            rewrites.append(SourceRewrite(source, target))
        elif "${" not in source.url:
            unmapped.append(source)
    return rewrites, unmapped


def ref_spec(ref: GitRef) -> dict[str, str]:
    return {k: v for k, v in (("branch", ref.branch), ("tag", ref.tag), ("commit", ref.commit))
            if v}


def _patch(rewrite: SourceRewrite, *, ref: GitRef | None) -> dict[str, Any]:
    source, to = rewrite.source, rewrite.to
    target: dict[str, str] = {"group": "source.toolkit.fluxcd.io", "kind": "GitRepository",
                              "name": source.name}
    if source.namespace:
        target["namespace"] = source.namespace
    spec: dict[str, Any] = {"url": to.url}
    if to.served:
        spec["secretRef"] = None
    elif to.secret_name is not None:
        spec["secretRef"] = {"name": to.secret_name}
    if ref is not None:
        wanted = ref_spec(ref)
        spec["ref"] = {key: wanted.get(key) for key in _REF_KEYS}
    body = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": source.name}, "spec": spec}
    return {"target": target, "patch": yaml.safe_dump(body, sort_keys=False)}


def rewrite_patches(rewrites: Sequence[SourceRewrite], *, root_ref: GitRef) -> list[dict[str, Any]]:
    """kustomize `patches` entries for a Kustomization that applies these GitRepositories."""
    return [_patch(r, ref=root_ref if r.root else None) for r in rewrites]


def child_patches(kustomizations: Sequence[GitKustomization], rewrites: Sequence[SourceRewrite],
                  *, root: tuple[str, str]) -> list[dict[str, Any]]:
    """Patches for the Kustomizations the root applies: each gets the GitRepository rewrites
    too (after its own patches), so a GitRepository that a child applies (Flux's
    multi-tenancy layout: `tenants/<team>/` with the team's GitRepository) is rewritten as
    well. Kustomizations further down keep their own patches only."""
    wanted = [r for r in rewrites if not r.root]
    if not wanted:
        return []
    own_rewrites = [_patch(r, ref=None) for r in wanted]
    found = []
    for child in kustomizations:
        if (child.name, child.namespace or root[1]) == root:
            continue
        target: dict[str, str] = {"group": "kustomize.toolkit.fluxcd.io",
                                  "kind": "Kustomization", "name": child.name}
        if child.namespace:
            target["namespace"] = child.namespace
        body = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": child.name},
                "spec": {"patches": [*child.patches, *own_rewrites]}}
        found.append({"target": target, "patch": yaml.safe_dump(body, sort_keys=False)})
    return found


@dataclass(frozen=True)
class RootObjects:
    source: dict[str, Any]
    kustomization: dict[str, Any]

    def documents(self) -> list[dict[str, Any]]:
        return [self.source, self.kustomization]


def root_objects(
    *, name: str, namespace: str, main: DrillSource, ref: GitRef, path: str, interval: str,
    layout: RepositoryLayout, rewrites: Sequence[SourceRewrite],
    post_build: PostBuild | None,
) -> RootObjects:
    """The GitRepository and Kustomization to apply; a bootstrap layout's own, rewritten."""
    source_name = name
    if layout.bootstrap is not None:
        sync = layout.bootstrap
        source_name = sync.source_name
        source_spec = copy.deepcopy(sync.source.get("spec") or {})
        ks_spec = copy.deepcopy(sync.kustomization.get("spec") or {})
    else:
        source_spec = {"interval": interval, "timeout": "60s"}
        ks_spec = {"interval": interval, "retryInterval": "15s", "timeout": "2m",
                   "path": path, "prune": True, "wait": False,
                   "sourceRef": {"kind": "GitRepository", "name": name}}
    source_spec["url"] = main.url
    source_spec["ref"] = ref_spec(ref)
    source_spec.pop("secretRef", None)
    if main.secret_name is not None:
        source_spec["secretRef"] = {"name": main.secret_name}
    patches = list(ks_spec.get("patches") or [])
    patches += rewrite_patches(rewrites, root_ref=ref)
    patches += child_patches(layout.kustomizations, rewrites, root=(name, namespace))
    if patches:
        ks_spec["patches"] = patches
    if post_build is not None:
        ks_spec["postBuild"] = merge_post_build(ks_spec.get("postBuild") or {}, post_build)
    metadata = {"name": source_name, "namespace": namespace, "labels": dict(MANAGED_BY)}
    return RootObjects(
        source={"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                "metadata": metadata, "spec": source_spec},
        kustomization={"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                       "metadata": {**metadata, "name": name}, "spec": ks_spec},
    )


def merge_post_build(existing: Mapping[str, Any], post_build: PostBuild) -> dict[str, Any]:
    merged = dict(existing)
    if post_build.substitute:
        merged["substitute"] = {**(existing.get("substitute") or {}), **post_build.substitute}
    if post_build.substitute_from:
        merged["substituteFrom"] = [*(existing.get("substituteFrom") or []), *(
            {"kind": s.kind, "name": s.name, **({"optional": True} if s.optional else {})}
            for s in post_build.substitute_from
        )]
    return merged
