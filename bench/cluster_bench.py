"""Benchmark the local kwok cluster: `cluster up` until the API is healthy and every node is
Ready, and `cluster down`, for a small and a large node count (median of several runs).

Each run also records where `up` spent its time (kwokctl start, stages, node creation, wait
for Ready), so a slow run says which step to look at. Writes bench/results/cluster.json.

    .venv/bin/python bench/cluster_bench.py --nodes 3 100 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import drdrill.clusters.kwok as kwok_module
from drdrill.clusters.kwok import KwokCluster
from drdrill.logs import configure_logging
from drdrill.ports import port_open
from drdrill.scenario.models import KwokSettings, NodePool
from drdrill.timing import Deadline

warnings.simplefilter("ignore")
RESULTS = Path(__file__).resolve().parent / "results" / "cluster.json"
GOALS_S = {3: 15.0, 100: 30.0}
STEPS = ("_create", "apply_stages", "create_nodes", "wait_nodes_ready")


@contextmanager
def timed_steps(record: dict[str, float]) -> Iterator[None]:
    """Time the provider's steps by wrapping the names `KwokCluster.create` calls."""
    originals: dict[str, Any] = {}

    def wrap(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                label = "kwokctl_create" if name == "_create" else name
                record[label] = round(time.perf_counter() - started, 3)
        return timed

    for name in STEPS:
        owner: Any = KwokCluster if name == "_create" else kwok_module
        originals[name] = getattr(owner, name)
        setattr(owner, name, wrap(name, originals[name]))
    try:
        yield
    finally:
        for name, function in originals.items():
            setattr(KwokCluster if name == "_create" else kwok_module, name, function)


def one_run(nodes: int) -> dict[str, Any]:
    settings = KwokSettings(readiness_delay="1s")
    provider = KwokCluster(drill=f"bench-{uuid.uuid4().hex[:6]}", settings=settings,
                           pools=(NodePool(name="bench", count=nodes),))
    steps: dict[str, float] = {}
    started = time.perf_counter()
    with timed_steps(steps):
        info = provider.create(deadline=Deadline.after(180))
    up = time.perf_counter() - started
    port = int(info.server.rsplit(":", 1)[1])
    started = time.perf_counter()
    provider.delete(info)
    down = time.perf_counter() - started
    if port_open(port):
        listeners = subprocess.run(["ss", "-ltnp", f"sport = :{port}"], capture_output=True,
                                   text=True, check=False).stdout
        raise SystemExit(f"apiserver port {port} still open after delete:\n{listeners}")
    return {"up_s": round(up, 3), "down_s": round(down, 3), "steps_s": steps}


def summarise(nodes: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    ups = [r["up_s"] for r in runs]
    downs = [r["down_s"] for r in runs]
    median_up = round(statistics.median(ups), 3)
    return {
        "nodes": nodes,
        "runs": len(runs),
        "up_s": {"median": median_up, "min": min(ups), "max": max(ups)},
        "down_s": {"median": round(statistics.median(downs), 3), "min": min(downs),
                   "max": max(downs)},
        "goal_up_s": GOALS_S.get(nodes),
        "meets_goal": None if nodes not in GOALS_S else median_up <= GOALS_S[nodes],
        "each_run": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 100])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    configure_logging(log_format="console")
    results = []
    for nodes in args.nodes:
        runs = []
        for index in range(args.runs):
            run = one_run(nodes)
            print(f"{nodes} nodes, run {index + 1}: up {run['up_s']}s, down {run['down_s']}s, "
                  f"steps {run['steps_s']}", flush=True)
            runs.append(run)
        results.append(summarise(nodes, runs))
    document = {
        "cases": results,
        "cpus": os.cpu_count(),
        "note": "KwokCluster in-process: kwokctl binary runtime (real etcd, kube-apiserver, "
                "controller-manager, scheduler, kwok) on 127.0.0.1; up = until the API is "
                "healthy and all nodes Ready; down = delete until every process is gone",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    for case in results:
        print(f"{case['nodes']} nodes: up median {case['up_s']['median']}s "
              f"(goal {case['goal_up_s']}s), down median {case['down_s']['median']}s")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
