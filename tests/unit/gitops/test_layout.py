"""Layout recognition and remote spelling: plain YAML in, no processes."""

from __future__ import annotations

import pytest
import yaml

from drdrill.gitops.layout import (
    RepoFiles,
    UnhandledLayout,
    inspect_layout,
    normalise_path,
    normalise_remote,
)

SYNC = [
    {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
     "metadata": {"name": "flux-system", "namespace": "flux-system"},
     "spec": {"interval": "1m0s", "ref": {"branch": "main"}, "secretRef": {"name": "flux-system"},
              "url": "ssh://git@github.com/acme/fleet"}},
    {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
     "metadata": {"name": "flux-system", "namespace": "flux-system"},
     "spec": {"interval": "10m0s", "path": "./clusters/prod", "prune": True,
              "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}},
]


def files(extra: dict[str, object] | None = None, sync: object = SYNC) -> RepoFiles:
    content: dict[str, bytes] = {
        "clusters/prod/flux-system/gotk-components.yaml": b"kind: Namespace\n",
        "clusters/prod/flux-system/gotk-sync.yaml": yaml.safe_dump_all(sync).encode(),
        "clusters/prod/flux-system/kustomization.yaml": b"resources: [gotk-sync.yaml]\n",
    }
    for path, value in (extra or {}).items():
        content[path] = value if isinstance(value, bytes) else yaml.safe_dump_all(value).encode()
    return RepoFiles(files=content, revision="abc")


def test_bootstrap_layout_is_recognised_with_its_sync_objects() -> None:
    layout = inspect_layout(files(), path="./clusters/prod", repository="fleet")
    assert layout.bootstrap is not None
    assert (layout.bootstrap.namespace, layout.bootstrap.name) == ("flux-system", "flux-system")
    assert layout.bootstrap.components_file == "clusters/prod/flux-system/gotk-components.yaml"
    assert [s.url for s in layout.sources] == ["ssh://git@github.com/acme/fleet"]


def test_plain_folder_is_plain_and_lists_git_sources() -> None:
    team = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "team-a"}, "spec": {"url": "https://git.example.com/a.git"}}
    layout = inspect_layout(files({"apps/team.yaml": [team]}), path="./apps", repository="r")
    assert layout.kind == "plain" and layout.bootstrap is None
    assert {s.name for s in layout.sources} == {"flux-system", "team-a"}


def test_unparsable_yaml_elsewhere_is_ignored() -> None:
    layout = inspect_layout(files({"charts/x/templates/a.yaml": b"{{ .Values }}: [\n"}),
                            path="clusters/prod", repository="r")
    assert layout.bootstrap is not None


@pytest.mark.parametrize(("sync", "words"), [
    (SYNC[:1], "one GitRepository and one Kustomization"),
    ([SYNC[0], {**SYNC[1], "spec": {**SYNC[1]["spec"], "path": "./clusters/other"}}],
     "set spec.gitops.path to './clusters/other'"),
    ([SYNC[0], {**SYNC[1], "spec": {**SYNC[1]["spec"],
                                      "sourceRef": {"kind": "OCIRepository",
                                                    "name": "flux-system"}}}],
     "re-bootstraps Git sources only"),
])
def test_unhandled_layouts_are_named_in_one_line(sync: object, words: str) -> None:
    with pytest.raises(UnhandledLayout) as caught:
        inspect_layout(files(sync=sync), path="./clusters/prod", repository="fleet")
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_components_without_sync_is_unhandled() -> None:
    content = dict(files().files)
    del content["clusters/prod/flux-system/gotk-sync.yaml"]
    with pytest.raises(UnhandledLayout, match=r"no gotk-sync\.yaml"):
        inspect_layout(RepoFiles(content, "abc"), path="clusters/prod", repository="fleet")


@pytest.mark.parametrize("url", [
    "ssh://git@github.com/acme/fleet.git", "git@github.com:acme/fleet", "https://github.com/acme/fleet/",
    "ssh://git@GitHub.com:22/acme/fleet",
])
def test_remote_spellings_normalise_alike(url: str) -> None:
    assert normalise_remote(url) == "github.com/acme/fleet"


def test_paths_normalise() -> None:
    assert normalise_path("./clusters/prod/") == "clusters/prod"
    assert normalise_path("./") == ""


def test_encrypted_secrets_are_found_for_a_key_check_to_hook_in() -> None:
    sops = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hf-token",
                                                               "namespace": "ml"},
            "data": {"token": "ENC[AES256_GCM,data:x]"}, "sops": {"age": [{"recipient": "a"}]}}
    sealed = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
              "metadata": {"name": "db"}, "spec": {"encryptedData": {"p": "AgB="}}}
    layout = inspect_layout(files({"apps/secrets.yaml": [sops, sealed]}), path="clusters/prod",
                            repository="fleet")
    assert [(e.kind, e.name, e.namespace) for e in layout.encrypted] == [
        ("sops", "hf-token", "ml"), ("sealed-secret", "db", None)]
