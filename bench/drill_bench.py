"""A whole drill on the local test bed: how long from the last workload healthy to the verdict.

Runs `drdrill run` on a generated GitOps repository with N Deployments whose pods become Ready
at times spread by kwok's jitter, with real Flux reconciliation, and reads the report:
- last healthy -> workloads phase decided (the wait noticing the last one and returning),
- last healthy -> report written (the drill's verdict, after backups and teardown).
Medians over --runs; JSON to bench/results/drill.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.gitops.drills import (  # noqa: E402
    NAMESPACE,
    base_env,
    deployment,
    phase,
    run_drill,
    write_repo,
    write_scenario,
)


def one_run(workloads: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="drdrill-bench-drill-") as folder:
        root = Path(folder)
        write_repo(root, [NAMESPACE, *(deployment(f"model-{i:04d}") for i in range(workloads))])
        scenario = write_scenario(
            root, name="bench-drill", gitops={},
            kwok={"readinessDelay": "1s", "readinessJitter": "8s"},
            pools=[{"name": "cpu", "count": 10, "cpu": "512", "memory": "2Ti"}],
            sla={"rto": "10m"},
        )
        result, report = run_drill(scenario, env=base_env(root), timeout=600)
        if not report or phase(report, "workloads")["status"] != "passed":
            raise SystemExit(f"drill did not pass its workloads phase: {result.stderr[-800:]}")
        last_healthy = max(w["readyAfterSeconds"] for w in report["workloads"])
        decided = phase(report, "workloads")["endedAfterSeconds"]
        started = datetime.fromisoformat(report["startedAt"])
        finished = datetime.fromisoformat(report["finishedAt"])
        return {
            "last_healthy_s": last_healthy,
            "healthy_to_phase_decided_s": decided - last_healthy,
            "healthy_to_verdict_s": (finished - started).total_seconds() - last_healthy,
            "teardown_s": phase(report, "teardown")["durationSeconds"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workloads", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "drill.json")
    args = parser.parse_args()
    runs = [one_run(args.workloads) for _ in range(args.runs)]
    summary = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"workloads": args.workloads, "runs": runs,
                                       "median": summary}, indent=2) + "\n")
    print(f"drill with {args.workloads} workloads, medians of {args.runs} runs:")
    for key, value in summary.items():
        print(f"  {key:28s} {value:8.3f}")


if __name__ == "__main__":
    main()
