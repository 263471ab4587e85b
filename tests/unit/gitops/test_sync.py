"""The root objects a Flux drill applies and the GitRepository rewrites they carry."""

from __future__ import annotations

import yaml

from drdrill.gitops.layout import GitKustomization, GitSource, RepositoryLayout, inspect_layout
from drdrill.gitops.sync import DrillSource, child_patches, plan_rewrites, root_objects
from drdrill.scenario.models import GitRef, PostBuild, SubstituteFrom
from tests.unit.gitops.test_layout import files

MAIN = DrillSource("platform", "http://127.0.0.1:5000/repo.git", served=True)
TEAM = DrillSource("team-a", "http://127.0.0.1:5001/repo.git",
                   remotes=("git@git.example.com:team/apps.git",), served=True)


def test_bootstrap_root_is_the_repositorys_own_sync_pointed_at_the_drill() -> None:
    layout = inspect_layout(files(), path="clusters/prod", repository="fleet")
    rewrites, unmapped = plan_rewrites(layout.sources, [MAIN], root_name="flux-system",
                                       root_namespace="flux-system")
    assert unmapped == [] and [r.root for r in rewrites] == [True]
    objects = root_objects(name="flux-system", namespace="flux-system", main=MAIN,
                           ref=GitRef(tag="v1"), path="clusters/prod", interval="10m",
                           layout=layout, rewrites=rewrites, post_build=None)
    source, kustomization = objects.documents()
    assert source["spec"]["url"] == MAIN.url and "secretRef" not in source["spec"]
    assert source["spec"]["ref"] == {"tag": "v1"}
    assert source["spec"]["interval"] == "1m0s"  # the repository's own setting stays
    assert kustomization["spec"]["path"] == "./clusters/prod"
    (patch,) = kustomization["spec"]["patches"]
    assert patch["target"] == {"group": "source.toolkit.fluxcd.io", "kind": "GitRepository",
                               "name": "flux-system", "namespace": "flux-system"}
    body = yaml.safe_load(patch["patch"])
    assert body["spec"]["url"] == MAIN.url
    assert body["spec"]["secretRef"] is None  # dropped: the drill serves it without a key
    assert body["spec"]["ref"]["tag"] == "v1" and body["spec"]["ref"]["branch"] is None


def test_team_repository_is_rewritten_and_unknown_remote_reported() -> None:
    sources = [GitSource("a.yaml", "apps", "team-a", "ssh://git@git.example.com/team/apps"),
               GitSource("b.yaml", "other", None, "https://elsewhere.example/x.git"),
               GitSource("c.yaml", "templated", None, "https://${HOST}/x.git")]
    rewrites, unmapped = plan_rewrites(sources, [MAIN, TEAM], root_name="flux-system",
                                       root_namespace="flux-system")
    assert [(r.source.name, r.to.repository) for r in rewrites] == [("apps", "team-a")]
    assert [s.name for s in unmapped] == ["other"]
    assert "-> http://127.0.0.1:5001/repo.git (team-a)" in rewrites[0].describe()


def test_plain_layout_root_with_post_build() -> None:
    post_build = PostBuild(substitute={"CLUSTER": "drill"},
                           substitute_from=(SubstituteFrom(kind="Secret", name="vars",
                                                           file="vars.env"),))
    objects = root_objects(
        name="flux-system", namespace="flux-system", main=MAIN, ref=GitRef(branch="main"),
        path="./apps", interval="5m", layout=RepositoryLayout(kind="plain"), rewrites=[],
        post_build=post_build)
    spec = objects.kustomization["spec"]
    assert spec["sourceRef"] == {"kind": "GitRepository", "name": "flux-system"}
    assert spec["postBuild"] == {"substitute": {"CLUSTER": "drill"},
                                 "substituteFrom": [{"kind": "Secret", "name": "vars"}]}
    assert "patches" not in spec


def test_kustomizations_the_root_applies_carry_the_rewrites_after_their_own_patches() -> None:
    own = {"target": {"kind": "Deployment"}, "patch": "- op: remove\n  path: /spec/replicas\n"}
    kustomizations = (
        GitKustomization("clusters/prod/tenants.yaml", "tenants", "flux-system", (own,)),
        GitKustomization("gotk-sync.yaml", "flux-system", "flux-system"),
    )
    team = GitSource("tenants/team-a.yaml", "team-a", "flux-system",
                     "ssh://git@git.example.com/team/apps")
    rewrites, _ = plan_rewrites([team], [MAIN, TEAM], root_name="flux-system",
                                root_namespace="flux-system")
    [patch] = child_patches(kustomizations, rewrites, root=("flux-system", "flux-system"))
    assert patch["target"]["name"] == "tenants"
    body = yaml.safe_load(patch["patch"])
    first, second = body["spec"]["patches"]
    assert first == own
    assert yaml.safe_load(second["patch"])["spec"]["url"] == TEAM.url
    assert child_patches(kustomizations, [], root=("flux-system", "flux-system")) == []
