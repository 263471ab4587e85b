"""A nested Flux tree on the local test bed: API requests per kind, layer lag and memory.

Generates a `flux bootstrap` repository whose root applies G group Kustomizations, each of
which applies K app Kustomizations with W Deployments each (three levels: G*K Kustomizations,
G*K*W workloads), and runs a whole drill in this process with real Flux controllers, counting
every request drdrill's own API client sends (by verb and resource; watches apart), so the
numbers are drdrill's and not the controllers'. Reports:
- requests per (verb, resource) during the drill,
- last layer ready -> workloads phase decided (closure settled, then the health wait),
- last workload healthy -> workloads phase decided,
- the process's peak RSS.
JSON to bench/results/tree.json.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.gitops.fleet import (  # noqa: E402
    bootstrap_layout,
    commit,
    deployment,
    flux_kustomization,
    kustomize_file,
    namespace,
    scenario,
    write,
)

_RESOURCE = re.compile(r"^/(?:api|apis/[^/]+)/[^/]+(?:/namespaces/[^/]+)?/(?P<plural>[^/]+)"
                       r"(?P<named>/[^/]+)?")


def _generate(root: Path, *, groups: int, apps: int, workloads: int) -> None:
    repo = bootstrap_layout(root, infrastructure=[namespace("bench-infra")],
                            apps=[namespace("bench-apps")],
                            cluster_extra=[flux_kustomization(f"group-{g}", f"./groups/{g}")
                                           for g in range(groups)])
    for g in range(groups):
        folder = repo / "groups" / str(g)
        write(folder, "apps.yaml", [flux_kustomization(f"app-{g}-{a}", f"./app-sets/{g}-{a}")
                                    for a in range(apps)])
        kustomize_file(folder, ["apps.yaml"])
        for a in range(apps):
            ns = f"bench-{g}-{a}"
            target = repo / "app-sets" / f"{g}-{a}"
            write(target, "objects.yaml", [namespace(ns), *(
                deployment(f"model-{w}", ns) for w in range(workloads))])
            kustomize_file(target, ["objects.yaml"])
    commit(repo)


def _count_requests(counts: Counter[str]) -> None:
    from kubernetes.client import ApiClient

    original = ApiClient.call_api

    def counting(self: Any, resource_path: str, method: str, *args: Any, **kwargs: Any) -> Any:
        # The generated API classes pass path and query parameters by position.
        path_params = kwargs.get("path_params") or (args[0] if args else None) or {}
        query = dict(kwargs.get("query_params") or (args[1] if len(args) > 1 else None) or [])
        path = resource_path
        for key, value in path_params.items():
            path = path.replace("{" + key + "}", str(value))
        match = _RESOURCE.match(path)
        plural = match["plural"] if match else resource_path
        verb = "WATCH" if str(query.get("watch")) in ("true", "True") else method
        if verb == "GET" and match and not match["named"]:
            verb = "LIST"
        counts[f"{verb} {plural}"] += 1
        return original(self, resource_path, method, *args, **kwargs)

    ApiClient.call_api = counting


def run(*, groups: int, apps: int, workloads: int) -> dict[str, Any]:
    from drdrill.engine.context import DrillContext, RunOptions
    from drdrill.engine.phases import build_phases
    from drdrill.engine.runner import run_drill
    from drdrill.scenario import load_scenario

    counts: Counter[str] = Counter()
    _count_requests(counts)
    with tempfile.TemporaryDirectory(prefix="drdrill-bench-tree-") as folder:
        root = Path(folder)
        _generate(root, groups=groups, apps=apps, workloads=workloads)
        path = scenario(root, name="bench-tree", sla={"rto": "20m"})
        data = yaml.safe_load(path.read_text())
        pods = groups * apps * workloads
        data["spec"]["cluster"]["nodePools"] = [
            {"name": "cpu", "count": max(2, pods // 100 + 1), "cpu": "512", "memory": "2Ti"}]
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        ctx = DrillContext(scenario=load_scenario(path),
                           options=RunOptions(report_dir=root / "reports"))
        started = time.monotonic()
        outcome = run_drill(ctx, build_phases(), report_dir=root / "reports")
        wall = time.monotonic() - started
    report = outcome.report
    workloads_phase = next(p for p in report.phases if p.name == "workloads")
    if workloads_phase.status.value != "passed":
        raise SystemExit(f"workloads phase {workloads_phase.status.value}: "
                         f"{workloads_phase.message[:500]}")
    layers = report.bootstrap.layers if report.bootstrap else []
    last_layer = max(layer.ready_after_seconds or 0.0 for layer in layers)
    last_healthy = max(w.ready_after_seconds or 0.0 for w in report.workloads)
    decided = workloads_phase.ended_after_seconds
    return {
        "groups": groups, "apps_per_group": apps, "workloads_per_app": workloads,
        "kustomizations": 1 + groups + groups * apps + 2, "workloads": len(report.workloads),
        "drill_wall_s": round(wall, 1),
        "bootstrap_s": next(p.duration_seconds for p in report.phases if p.name == "bootstrap"),
        "workloads_phase_s": workloads_phase.duration_seconds,
        "last_layer_ready_s": last_layer,
        "last_layer_to_phase_decided_s": round(decided - last_layer, 3),
        "last_healthy_to_phase_decided_s": round(decided - last_healthy, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "requests": dict(sorted(counts.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=5)
    parser.add_argument("--apps", type=int, default=10, help="app Kustomizations per group")
    parser.add_argument("--workloads", type=int, default=20, help="Deployments per app")
    args = parser.parse_args()
    result = run(groups=args.groups, apps=args.apps, workloads=args.workloads)
    out = ROOT / "bench" / "results" / "tree.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
