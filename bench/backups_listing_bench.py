"""Memory and time of checking a backup set of very many tiny objects (issues 12 and 14).

Seeds N objects of 0-64 bytes straight into versitygw's posix folder (in folders of 1,000, as
a backup job shards its output) and a drdrill manifest through the S3 API, then times
`drdrill backups verify` with a seeded 1% sample (the listing and the manifest are compared in
full; 1% is restored) and records its peak RSS (VmHWM). With --before REV, the same run with
drdrill's code at git revision REV (extracted into a temporary folder) for comparison. All
seeded data is removed at the end.

    .venv/bin/python bench/backups_listing_bench.py --count 1000000 [--before REV]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procstats import PeakRss  # noqa: E402
from drdrill.backups.manifest import ManifestEntry, render_manifest  # noqa: E402
from tests.integration.s3_server import S3Server, credential_env, running_versitygw  # noqa: E402

MIB = 1024 * 1024


def seed_objects(server: S3Server, bucket: str, prefix: str, count: int) -> int:
    """Write `count` tiny objects into the posix backend and upload their manifest; returns
    the manifest's size in bytes."""
    entries = []
    for index in range(count):
        folder, name = divmod(index, 1000)
        key = f"d{folder:05d}/o{name:03d}.bin"
        data = (hashlib.sha256(index.to_bytes(8, "big")).digest() * 3)[: index % 65]
        path = server.root / bucket / prefix / key
        if name == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries.append(ManifestEntry(key, len(data), hashlib.sha256(data).hexdigest()))
    document = render_manifest(created_at=datetime.now(UTC), entries=entries)
    del entries
    server.client().put_object(Bucket=bucket, Key=f"manifests/{prefix}.json", Body=document)
    return len(document)


def write_scenario(work: Path, server: S3Server, bucket: str, prefix: str) -> Path:
    import yaml

    path = work / "scenario.yaml"
    path.write_text(yaml.safe_dump({
        "apiVersion": "drdrill/v1alpha1", "kind": "Drill", "metadata": {"name": "bench"},
        "spec": {
            "backups": {
                "s3": {"endpointUrl": server.endpoint, "maxConcurrency": 16},
                "sets": [{"name": "bench", "bucket": bucket, "prefix": prefix,
                          "holds": "artifacts", "manifestKey": f"manifests/{prefix}.json",
                          "verify": {"mode": "sample", "percent": 1, "seed": 42}}],
            },
            "sla": {"rto": "2h", "rpo": "24h", "phases": {"backups": "90m"}},
        },
    }))
    return path


def verify(work: Path, scenario: Path, env: dict[str, str], label: str) -> dict[str, object]:
    restore, reports = work / f"restore-{label}", work / f"reports-{label}"
    command = [sys.executable, "-c", "from drdrill.cli.app import main; main()", "backups",
               "verify", str(scenario), "--restore-dir", str(restore),
               "--report-dir", str(reports)]
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   cwd=work)
        peak = PeakRss(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        peak.stop()
        seconds = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        output.seek(0)
        tail = output.read()[-1500:].decode(errors="replace")
    result: dict[str, object] = {
        "code": label, "exit": code, "seconds": round(seconds, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mib": round(peak.bytes / MIB, 1),
    }
    report_file = reports / "bench" / "latest" / "report.json"
    if report_file.exists():
        backup = json.loads(report_file.read_text())["backups"][0]
        result.update(objects_checked=backup["objectsChecked"], verified=backup["verified"],
                      failures=[f["problem"] for f in backup["failures"]][:2])
    if code != 0:
        result["output_tail"] = tail
    shutil.rmtree(restore, ignore_errors=True)
    shutil.rmtree(reports, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--before", help="also run drdrill at this git revision")
    parser.add_argument("--output", type=Path,
                        default=ROOT / "bench" / "results" / "backups_listing.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="drdrill-bench-listing-"))
    runs = []
    try:
        with running_versitygw(work / "s3") as server:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(credential_env(server))
            server.client().create_bucket(Bucket="bench")
            started = time.perf_counter()
            manifest_bytes = seed_objects(server, "bench", "many", args.count)
            seeded = time.perf_counter() - started
            print(f"seeded {args.count} objects in {seeded:.0f} s "
                  f"(manifest {manifest_bytes / MIB:.1f} MiB)", flush=True)
            scenario = write_scenario(work, server, "bench", "many")
            codes = {"now": env}
            if args.before:
                old = work / "before"
                old.mkdir()
                archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before,
                                          "drdrill"], capture_output=True, check=True)
                subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
                codes[f"before ({args.before})"] = {**env, "PYTHONPATH": str(old)}
            for label, code_env in codes.items():
                runs.append(verify(work, scenario, code_env, label.split()[0]))
                runs[-1]["code"] = label
                print(json.dumps(runs[-1]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "benchmark": "backups set check, many tiny objects", "at": datetime.now(UTC).isoformat(),
        "cpus": os.cpu_count(), "objects": args.count, "seed_seconds": round(seeded, 1),
        "manifest_bytes": manifest_bytes, "load_average_at_end": os.getloadavg(),
        "command": "bench/backups_listing_bench.py " + " ".join(sys.argv[1:]), "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    partial = args.output.with_suffix(".tmp")
    partial.write_text(json.dumps(results, indent=2) + "\n")
    partial.replace(args.output)
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
