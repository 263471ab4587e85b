"""What the Argo CD bootstrap script gets besides the common inputs, and the commit to expect.

The script (bootstrap/argocd/<version>/bootstrap.sh) reads only DRDRILL_* variables; the
scenario's Argo CD options (Helm values files, release name, further sources, project) become
variables and one file of further sources, each a JSON flow mapping on a `- ` line so the
script can place them under `spec.sources` without parsing YAML.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drdrill.gitops.argocd import resolve_remote
from drdrill.scenario.models import ArgoCDOptions, ArgoCDSource, GitRef


def _source(source: ArgoCDSource) -> dict[str, Any]:
    out: dict[str, Any] = {"repoURL": source.repo_url, "targetRevision": source.target_revision}
    for key, value in (("path", source.path), ("chart", source.chart), ("ref", source.ref)):
        if value is not None:
            out[key] = value
    if source.helm is not None:
        helm: dict[str, Any] = {}
        if source.helm.value_files:
            helm["valueFiles"] = list(source.helm.value_files)
        if source.helm.release_name:
            helm["releaseName"] = source.helm.release_name
        out["helm"] = helm
    return out


def argocd_script_env(options: ArgoCDOptions | None, *, local_components: bool,
                      folder: Path) -> dict[str, str]:
    """The DRDRILL_* variables for the Argo CD script; a sources file goes into `folder`."""
    env = {"DRDRILL_ARGOCD_COMPONENTS": "local" if local_components else "manifests"}
    if options is None:
        return env
    env["DRDRILL_PROJECT"] = options.project
    if options.helm is not None:
        if options.helm.value_files:
            env["DRDRILL_HELM_VALUE_FILES"] = "\n".join(options.helm.value_files)
        if options.helm.release_name:
            env["DRDRILL_HELM_RELEASE_NAME"] = options.helm.release_name
    if options.sources:
        sources = folder / "argocd-sources.yaml"
        sources.write_text("".join(f"- {json.dumps(_source(s), sort_keys=True)}\n"
                                   for s in options.sources))
        env["DRDRILL_EXTRA_SOURCES_FILE"] = str(sources)
        if options.ref:
            env["DRDRILL_SOURCE_REF"] = options.ref
    return env


def expected_remote_commit(url: str, ref: GitRef) -> str | None:
    """The commit a repository given by URL has at the drill's ref, asked of the remote
    itself; None when it cannot be asked (Argo CD's own resolution is then recorded)."""
    if ref.commit:
        return ref.commit
    if ref.branch is None and ref.tag is None:
        return None
    return resolve_remote(url, branch=ref.branch, tag=ref.tag)
