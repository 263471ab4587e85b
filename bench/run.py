"""`make bench`: every benchmark in turn, one after the other (they share 2 cores).

Each writes its JSON into bench/results/; this prints where. Pass names to run a subset:
`python bench/run.py cluster drill`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "cluster": ["cluster_bench.py", "--nodes", "3", "100", "--runs", "3"],
    "health": ["health_bench.py"],
    "drill": ["drill_bench.py", "--workloads", "100", "--runs", "3"],
    "backups": ["backups_bench.py", "--runs", "3", "--many-runs", "1"],
    "engines": ["backups_engines_bench.py", "--runs", "3"],
    "listing": ["backups_listing_bench.py", "--count", "1000000"],
    "tree": ["tree_bench.py", "--groups", "5", "--apps", "10", "--workloads", "20"],
}


def main() -> int:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"bench: unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        script, *args = BENCHMARKS[name]
        print(f"== bench {name}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / script), *args], check=False)
        if done.returncode != 0:
            failed.append(name)
    print(f"bench: results in {HERE / 'results'}" + (f"; failed: {', '.join(failed)}"
                                                      if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
