"""Benchmark real Argo CD on the local kwok cluster: bootstrap start to Application Healthy for
a 20-resource app, the time a hard refresh saves over Argo CD's poll, and Argo CD's resident
memory. Writes bench/results/argocd.json.

    .venv/bin/python bench/argocd_bench.py [--poll]   # --poll also waits out one real poll

Steps, each timed: the bootstrap script (CRDs, ConfigMaps, RBAC, the Application), the local
application-controller, repo-server and Redis, then Synced and Healthy at the commit. Then a new
commit is made: once with a hard refresh (the drill's way), and with --poll once without, so
Argo CD finds it at its next resync (3 minutes by default, up to 3 + jitter).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import yaml

from drdrill.clusters.kwok import KwokCluster
from drdrill.gitops.argocd import request_hard_refresh, wait_for_application
from drdrill.gitops.argocd_local import start_local_argocd
from drdrill.gitops.bootstrap import BOOTSTRAP_ROOT, BootstrapInputs, run_bootstrap
from drdrill.gitops.gitserver import serve_repository
from drdrill.kubeapi import new_api_client
from drdrill.logs import configure_logging
from drdrill.scenario.models import KwokSettings, NodePool
from drdrill.testbed import testbed_dir
from drdrill.timing import Deadline

warnings.simplefilter("ignore")
RESULTS = Path(__file__).resolve().parent / "results" / "argocd.json"
GIT_ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@localhost", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@localhost", "GIT_CONFIG_GLOBAL": "/dev/null"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env={**os.environ, **GIT_ENV}).stdout.strip()


def twenty_resources(version: int) -> list[dict[str, Any]]:
    """A namespace, 7 Deployments, 7 Services and 5 ConfigMaps."""
    objects: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": "bench"}}]
    for i in range(7):
        labels = {"app": f"m{i}"}
        objects.append({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": f"m{i}", "namespace": "bench"},
                        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                                 "template": {"metadata": {"labels": labels}, "spec": {
                                     "containers": [{"name": "c", "image": "example.com/m:1"}]}}}})
        objects.append({"apiVersion": "v1", "kind": "Service",
                        "metadata": {"name": f"m{i}", "namespace": "bench"},
                        "spec": {"selector": labels, "ports": [{"port": 80}]}})
    for i in range(5):
        objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"c{i}", "namespace": "bench"},
                        "data": {"version": str(version)}})
    return objects


def commit(repo: Path, version: int) -> str:
    (repo / "app").mkdir(exist_ok=True)
    (repo / "app" / "objects.yaml").write_text(yaml.safe_dump_all(twenty_resources(version)))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"v{version}")
    return git(repo, "rev-parse", "HEAD")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--poll", action="store_true", help="also wait out one Argo CD poll")
    args = parser.parse_args()
    configure_logging(log_format="console")
    result: dict[str, Any] = {"resources": 20}
    work = Path(tempfile.mkdtemp(prefix="drdrill-bench-argocd-"))
    repo = work / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    first = commit(repo, 1)
    served = serve_repository(repo)
    provider = KwokCluster(drill=f"bench-{uuid.uuid4().hex[:6]}", settings=KwokSettings(),
                           pools=(NodePool(name="cpu", count=3),))
    info = provider.create(deadline=Deadline.after(180))
    argocd = None
    api = new_api_client(kubeconfig=info.kubeconfig)
    try:
        started = time.monotonic()
        inputs = BootstrapInputs(
            kubeconfig=info.kubeconfig, context=info.context, repo_url=served.url,
            ref_kind="branch", ref="main", path="app", interval="10m",
            install_manifests=str(testbed_dir() / "crds" / "argocd"), name="platform",
            namespace="argocd", secret_files={}, tools_path=testbed_dir() / "bin",
            extra={"DRDRILL_ARGOCD_COMPONENTS": "local"})
        run_bootstrap(script=BOOTSTRAP_ROOT / "argocd" / "v3.1" / "bootstrap.sh",
                      engine="argocd", version="v3.1", inputs=inputs,
                      deadline=Deadline.after(180))
        result["script_s"] = round(time.monotonic() - started, 2)
        argocd = start_local_argocd(kubeconfig=info.kubeconfig, namespace="argocd",
                                    deadline=Deadline.after(120))
        result["components_ready_s"] = round(time.monotonic() - started, 2)
        request_hard_refresh(api, namespace="argocd", name="platform")
        wait_for_application(api, namespace="argocd", name="platform", expected_commit=first,
                             deadline=Deadline.after(300))
        result["bootstrap_start_to_healthy_s"] = round(time.monotonic() - started, 2)
        result["rss_mib_after_sync"] = {k: round(v / 2**20, 1)
                                        for k, v in argocd.resident_memory().items()}
        second = commit(repo, 2)
        t0 = time.monotonic()
        request_hard_refresh(api, namespace="argocd", name="platform")
        wait_for_application(api, namespace="argocd", name="platform", expected_commit=second,
                             deadline=Deadline.after(300))
        result["new_commit_with_hard_refresh_s"] = round(time.monotonic() - t0, 2)
        if args.poll:
            # Argo CD refreshes once more after a sync completes: let that pass first, so
            # the new commit is found by the poll alone.
            time.sleep(30)
            third = commit(repo, 3)
            t0 = time.monotonic()
            wait_for_application(api, namespace="argocd", name="platform",
                                 expected_commit=third, deadline=Deadline.after(420))
            result["new_commit_by_poll_s"] = round(time.monotonic() - t0, 2)
        result["rss_mib_end"] = {k: round(v / 2**20, 1)
                                 for k, v in argocd.resident_memory().items()}
    finally:
        api.close()
        if argocd is not None:
            argocd.stop()
        provider.delete(info)
        served.stop()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
