"""Benchmark `wait_until_healthy` against a real etcd + kube-apiserver (no controllers).

Measures: detection lag (status patch sent -> target recorded current) over N workloads,
API requests made while waiting for M workloads, RSS of the process, and the latency from the
last target becoming healthy to the wait returning. Writes bench/results/health.json.

    .venv/bin/python bench/health_bench.py --lag-workloads 200 --count-workloads 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

# The bench reuses the integration tests' apiserver helpers; make the checkout importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drdrill.health import ObjectRef, wait_until_healthy
from drdrill.timing import Deadline
from tests.integration.health import kube
from tests.integration.health.conftest import LocalApiServer

warnings.simplefilter("ignore")


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _create(api: Any, count: int, namespaces: int) -> list[ObjectRef]:
    names = [kube.random_namespace(api, "bench") for _ in range(namespaces)]
    refs = []
    for index in range(count):
        ns = names[index % namespaces]
        kube.create_deployment(api, ns, f"w{index}")
        refs.append(ObjectRef("apps/v1", "Deployment", ns, f"w{index}"))
    return refs


def _run(api: Any, refs: list[ObjectRef], gap: float) -> dict[str, Any]:
    calls = {"n": 0}
    original = api.call_api

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return original(*args, **kwargs)

    api.call_api = counting
    patch_api = kube_client_for_patches[0]
    sent: dict[ObjectRef, float] = {}

    def patch_all() -> None:
        time.sleep(1.0)  # let the watches start
        for ref in refs:
            sent[ref] = time.monotonic()
            kube.deployment_ready(patch_api, ref.namespace or "", ref.name)
            time.sleep(gap)

    patcher = threading.Thread(target=patch_all, daemon=True)
    origin = time.monotonic()
    rss_before = _rss_mib()
    patcher.start()
    outcomes = wait_until_healthy(api_client=api, targets=refs, deadline=Deadline.after(600),
                                  clock_origin=origin, crash_loop_restarts=3)
    returned = time.monotonic()
    api.call_api = original
    assert all(o.healthy for o in outcomes), [o for o in outcomes if not o.healthy][:3]
    ready_at = {o.ref: origin + (o.ready_after_seconds or 0.0) for o in outcomes}
    lags_ms = [(ready_at[ref] - sent[ref]) * 1000 for ref in refs]
    return {
        "workloads": len(refs),
        "detection_lag_ms": {"p50": round(statistics.median(lags_ms), 2),
                             "p99": round(_percentile(lags_ms, 0.99), 2),
                             "max": round(max(lags_ms), 2)},
        "api_requests_during_wait": calls["n"],
        "last_healthy_to_return_ms": round((returned - max(ready_at.values())) * 1000, 2),
        "rss_mib": {"before_wait": round(rss_before, 1), "after_wait": round(_rss_mib(), 1)},
    }


kube_client_for_patches: list[Any] = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lag-workloads", type=int, default=200)
    parser.add_argument("--count-workloads", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=4)
    parser.add_argument("--output", type=Path, default=Path("bench/results/health.json"))
    args = parser.parse_args()
    server = LocalApiServer(workdir=Path(tempfile.mkdtemp(prefix="health-bench-")))
    try:
        server.start_etcd()
        server.start_apiserver()
        kube_client_for_patches.append(server.client())
        lag_refs = _create(server.client(), args.lag_workloads, args.namespaces)
        lag = _run(server.client(), lag_refs, gap=0.02)
        count_refs = _create(server.client(), args.count_workloads, args.namespaces)
        count = _run(server.client(), count_refs, gap=0.0)
    finally:
        server.stop()
    result = {"detection_lag_run": lag, "scale_run": count,
              "note": "real etcd + kube-apiserver on 127.0.0.1; status patched by the bench"}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
