"""Restore-and-verify throughput of `drdrill backups verify` against s5cmd, on local versitygw.

Cases: (a) one 2 GiB object, (b) 10,000 objects of 64 KiB, (c) 100,000 objects of 4 KiB
(listing and memory; --many-runs, 1 by default). For each, drdrill (streamed GET, sha256
while writing, compared with the manifest) and `s5cmd cp` (download only, no hashing), then
`s5cmd cp` followed by `sha256sum` of every file (what a person verifying by hand runs),
restore the same objects from the same server with the same concurrency (s5cmd's
--numworkers and cp --concurrency); who goes first alternates between runs, medians of --runs.
Both are timed end to end as a user runs them, process start and listing included; the ratios
compare those end-to-end medians. drdrill's in-process time (its backups phase, from the
report) and the import time alone (`import drdrill.cli.app`) are reported beside it, so the
startup cost is visible, and the engine the report names. s5cmd splits a large object into
parts of its default --part-size (50 MiB), --concurrency at a time; drdrill into 24 MiB parts,
at most maxConcurrency and 5 at a time (its 144 MiB window).
Peak RSS is the drdrill process's VmHWM (polled from /proc). CPU split during drdrill's run:
the drdrill process (user+sys from wait4), versitygw (/proc, before and after) and the share
of drdrill's that is sha256 (bytes / single-core hashlib.sha256 rate, also reported).
Objects are written straight into versitygw's posix folder; every restore folder is removed
at the end of its case (synced after each run; see bench.procstats.SpentFolders), each case's
objects after the case, the work folder at the end.

    .venv/bin/python bench/backups_bench.py [--runs 3] [--big-mib 2048] [--small-count 10000]
        [--many-count 100000] [--many-runs 1] [--cases big,small,many]
Writes bench/results/backups.json and prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procstats import PeakRss, SpentFolders, proc_cpu_seconds, server_pid_of  # noqa: E402
from drdrill.backups.manifest import ManifestEntry, render_manifest  # noqa: E402
from drdrill.testbed import testbed_binary  # noqa: E402
from tests.integration.s3_server import S3Server, credential_env, running_versitygw  # noqa: E402

MIB = 1024 * 1024


def write_objects(server: S3Server, bucket: str, prefix: str, sizes: dict[str, int]) -> None:
    """Write objects straight into the posix backend, and a manifest via the S3 API."""
    folder = server.root / bucket / prefix
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    block = os.urandom(4 * MIB)
    for index, (key, size) in enumerate(sizes.items()):
        digest = hashlib.sha256()
        path = folder / key
        with path.open("wb") as out:
            left, turn = size, index
            while left:
                piece = block[: min(left, len(block))]
                piece = bytes([turn % 251]) + piece[1:]  # every object/block different
                out.write(piece)
                digest.update(piece)
                left -= len(piece)
                turn += 1
        entries.append(ManifestEntry(key, size, digest.hexdigest()))
    document = render_manifest(created_at=datetime.now(UTC), entries=entries)
    server.client().put_object(Bucket=bucket, Key=f"manifests/{prefix}.json", Body=document)


def scenario(work: Path, server: S3Server, bucket: str, prefix: str, concurrency: int) -> Path:
    import yaml

    path = work / f"scenario-{prefix}.yaml"
    path.write_text(yaml.safe_dump({
        "apiVersion": "drdrill/v1alpha1", "kind": "Drill", "metadata": {"name": "bench"},
        "spec": {
            "backups": {
                "s3": {"endpointUrl": server.endpoint, "maxConcurrency": concurrency},
                "sets": [{"name": "bench", "bucket": bucket, "prefix": prefix,
                          "holds": "artifacts", "manifestKey": f"manifests/{prefix}.json"}],
            },
            "sla": {"rto": "1h", "rpo": "24h"},
        },
    }))
    return path


SERVER_PID = 0  # versitygw's, once started: its CPU is read around every timed run
LAST_CPU: dict[str, float] = {}


def timed_child(command: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """(seconds, exit code, peak RSS in bytes) of one subprocess; its output on failure.

    Peak RSS is VmHWM polled from /proc (ru_maxrss would carry over the forking parent's
    RSS); the child's CPU and versitygw's during the run are left in LAST_CPU.
    """
    with tempfile.TemporaryFile() as output:
        server_before = proc_cpu_seconds(SERVER_PID) if SERVER_PID else 0.0
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        peak = PeakRss(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        peak.stop()
        elapsed = time.perf_counter() - started
        LAST_CPU.update(cpu=usage.ru_utime + usage.ru_stime,
                        server_cpu=(proc_cpu_seconds(SERVER_PID) - server_before)
                        if SERVER_PID else 0.0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            output.seek(0)
            sys.stderr.write(output.read()[-4000:].decode(errors="replace"))
    return elapsed, code, peak.bytes


def run_drdrill(work: Path, scenario_path: Path, env: dict[str, str],
                spent: SpentFolders) -> tuple[float, int, float, dict[str, Any]]:
    """(end-to-end seconds, peak RSS, seconds of the backups phase, the set's report)."""
    restore, reports = work / "restore-drdrill", work / "reports"
    command = [sys.executable, "-c", "from drdrill.cli.app import main; main()", "backups",
               "verify", str(scenario_path), "--restore-dir", str(restore),
               "--report-dir", str(reports)]
    try:
        seconds, code, rss = timed_child(command, env)
        if code != 0:
            raise SystemExit(f"drdrill verify failed with exit {code}")
        report = json.loads((reports / "bench" / "latest" / "report.json").read_text())
        phase = next(p for p in report["phases"] if p["name"] == "backups")
        return seconds, rss, float(phase["durationSeconds"]), report["backups"][0]
    finally:
        spent.retire(restore)
        shutil.rmtree(reports, ignore_errors=True)


def import_seconds(env: dict[str, str], runs: int) -> float:
    """Median time of a process that only imports the CLI (interpreter start included)."""
    command = [sys.executable, "-c", "import drdrill.cli.app"]
    return statistics.median(timed_child(command, env)[0] for _ in range(runs))


def s5cmd_command(server: S3Server, bucket: str, prefix: str, restore: Path,
                  concurrency: int) -> list[str]:
    """s5cmd with drdrill's concurrency: as many objects, or parts of one object, at a time."""
    return [str(testbed_binary("s5cmd")), "--endpoint-url", server.endpoint,
            "--numworkers", str(concurrency), "cp", "--concurrency", str(concurrency),
            f"s3://{bucket}/{prefix}/*", f"{restore}/"]


def run_s5cmd(work: Path, server: S3Server, bucket: str, prefix: str, concurrency: int,
              env: dict[str, str], spent: SpentFolders) -> tuple[float, float, float]:
    """(s5cmd seconds, the same followed by sha256sum of every file, sha256sum's CPU)."""
    restore = work / "restore-s5cmd"
    command = s5cmd_command(server, bucket, prefix, restore, concurrency)
    try:
        seconds, code, _ = timed_child(command, env)
        if code != 0:
            raise SystemExit(f"s5cmd failed with exit {code}")
        hashing, code, _ = timed_child(
            ["sh", "-c", f"find '{restore}' -type f -print0 | xargs -0 -n 2000 sha256sum"
                         " > /dev/null"], env)
        if code != 0:
            raise SystemExit(f"sha256sum failed with exit {code}")
        return seconds, seconds + hashing, LAST_CPU["cpu"]
    finally:
        spent.retire(restore)


def sha256_speed(total: int = 1024 * MIB) -> float:
    block = os.urandom(8 * MIB)
    digest = hashlib.sha256()
    started = time.perf_counter()
    for _ in range(total // len(block)):
        digest.update(block)
    return total / (time.perf_counter() - started)


def bench_case(
    name: str, *, work: Path, server: S3Server, bucket: str, prefix: str, total_bytes: int,
    runs: int, concurrency: int, env: dict[str, str], objects: int, hash_rate: float,
) -> dict[str, Any]:
    path = scenario(work, server, bucket, prefix, concurrency)
    drdrill_s, rss, phase_s, s5_s, s5_hash_s = [], [], [], [], []
    cpu, server_cpu, sha256sum_cpu = [], [], []
    engines, restore_rates = set(), []
    spent = SpentFolders(work / "spent")
    for run in range(runs):
        # Alternate who goes first, so drift on the shared machine hits both alike.
        order = ("drdrill", "s5cmd") if run % 2 == 0 else ("s5cmd", "drdrill")
        for who in order:
            if who == "drdrill":
                seconds, peak, phase, backup = run_drdrill(work, path, env, spent)
                drdrill_s.append(seconds)
                rss.append(peak)
                phase_s.append(phase)
                cpu.append(LAST_CPU["cpu"])
                server_cpu.append(LAST_CPU["server_cpu"])
                engines.add(backup.get("engine") or "?")
                if backup.get("bytesPerSecond"):
                    restore_rates.append(float(backup["bytesPerSecond"]))
            else:
                plain, with_hash, hash_cpu = run_s5cmd(work, server, bucket, prefix,
                                                       concurrency, env, spent)
                s5_s.append(plain)
                s5_hash_s.append(with_hash)
                sha256sum_cpu.append(hash_cpu)
        print(f"  {name} run {run + 1}: drdrill {drdrill_s[-1]:.2f} s, s5cmd {s5_s[-1]:.2f} s, "
              f"s5cmd+sha256sum {s5_hash_s[-1]:.2f} s", flush=True)
    spent.delete()
    drdrill_median, s5_median = statistics.median(drdrill_s), statistics.median(s5_s)
    s5_hash_median = statistics.median(s5_hash_s)
    phase_median = statistics.median(phase_s)
    return {
        "case": name, "objects": objects, "bytes": total_bytes, "runs": runs,
        "concurrency": concurrency, "engine": "+".join(sorted(engines)),
        "s5cmd_args": s5cmd_command(server, bucket, prefix, Path("DEST"), concurrency)[1:],
        "drdrill_seconds": drdrill_s, "s5cmd_seconds": s5_s,
        "s5cmd_sha256sum_seconds": s5_hash_s, "drdrill_phase_seconds": phase_s,
        "drdrill_median_seconds": round(drdrill_median, 3),
        "s5cmd_median_seconds": round(s5_median, 3),
        "drdrill_mib_per_s": round(total_bytes / drdrill_median / MIB, 1),
        "s5cmd_mib_per_s": round(total_bytes / s5_median / MIB, 1),
        "s5cmd_sha256sum_median_seconds": round(s5_hash_median, 3),
        "ratio_vs_s5cmd": round(s5_median / drdrill_median, 3),
        "ratio_vs_s5cmd_sha256sum": round(s5_hash_median / drdrill_median, 3),
        "ratio_per_run_pair_median": round(
            statistics.median(s / d for s, d in zip(s5_s, drdrill_s, strict=True)), 3),
        "drdrill_phase_median_seconds": round(phase_median, 3),
        "drdrill_phase_mib_per_s": round(total_bytes / phase_median / MIB, 1),
        "drdrill_restore_mib_per_s_median": round(statistics.median(restore_rates) / MIB, 1)
        if restore_rates else None,
        "drdrill_peak_rss_mib": round(max(rss) / MIB, 1),
        # CPU seconds during drdrill's run (medians): the drdrill process, versitygw, and the
        # part of drdrill's that is sha256 (bytes / this machine's single-core rate).
        "cpu_split_seconds": {
            "drdrill_process": round(statistics.median(cpu), 2),
            "s3_server": round(statistics.median(server_cpu), 2),
            "hashing_in_drdrill_estimate": round(total_bytes / hash_rate, 2),
            "sha256sum_after_s5cmd": round(statistics.median(sha256sum_cpu), 2),
        },
        "cpu_busy_share_of_all_cores": round(
            (statistics.median(cpu) + statistics.median(server_cpu))
            / (drdrill_median * (os.cpu_count() or 1)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big-mib", type=int, default=2048)
    parser.add_argument("--small-count", type=int, default=10_000)
    parser.add_argument("--small-kib", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--cases", default="big,small,many", help="big, small, many")
    parser.add_argument("--many-count", type=int, default=100_000)
    parser.add_argument("--many-kib", type=int, default=4)
    parser.add_argument("--many-runs", type=int, default=1,
                        help="runs of the many-objects case (listing and RSS, minutes each)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "backups.json")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="drdrill-bench-"))
    try:
        with running_versitygw(work / "s3") as server:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(credential_env(server))
            global SERVER_PID
            SERVER_PID = server_pid_of(server.port)
            server.client().create_bucket(Bucket="bench")
            wanted = set(args.cases.split(","))
            sets = {
                "big": (f"1 x {args.big_mib} MiB", {"weights.bin": args.big_mib * MIB}),
                "small": (f"{args.small_count} x {args.small_kib} KiB", {
                    f"shard-{i:05d}.bin": args.small_kib * 1024 for i in range(args.small_count)
                }),
                "many": (f"{args.many_count} x {args.many_kib} KiB", {
                    f"m-{i:06d}.bin": args.many_kib * 1024 for i in range(args.many_count)
                }),
            }
            hash_speed = sha256_speed()
            startup = import_seconds(env, max(3, args.runs))
            cases = []
            for prefix, (name, sizes) in sets.items():
                if prefix not in wanted:
                    continue
                write_objects(server, "bench", prefix, sizes)
                cases.append(bench_case(
                    name, work=work, server=server, bucket="bench", prefix=prefix,
                    total_bytes=sum(sizes.values()),
                    runs=args.many_runs if prefix == "many" else args.runs,
                    concurrency=args.concurrency, env=env, objects=len(sizes),
                    hash_rate=hash_speed,
                ))
                shutil.rmtree(server.root / "bench" / prefix, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "benchmark": "backups restore-and-verify",
        "at": datetime.now(UTC).isoformat(),
        "cpus": os.cpu_count(),
        "sha256_single_core_mib_per_s": round(hash_speed / MIB, 1),
        "drdrill_import_median_seconds": round(startup, 3),
        "command": "bench/backups_bench.py " + " ".join(sys.argv[1:]),
        "load_average_at_end": os.getloadavg(),
        "goals": {"big_ratio_min": 0.8, "big_ratio_vs_s5cmd_sha256sum_min": 1.2,
                  "small_ratio_min": 1.0, "many_peak_rss_mib_max": 300},
        "cases": cases,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    partial = args.output.with_suffix(".tmp")
    partial.write_text(json.dumps(results, indent=2) + "\n")
    partial.replace(args.output)
    print(f"sha256 single core: {results['sha256_single_core_mib_per_s']} MiB/s, "
          f"{results['cpus']} CPUs")
    print(f"import drdrill.cli.app: {results['drdrill_import_median_seconds']} s")
    print(f"{'case':<20} {'engine':<22} {'drdrill s':>9} {'s5cmd s':>8} {'+sha256sum':>10} "
          f"{'vs s5cmd':>8} {'vs +sha':>7} {'RSS MiB':>8} {'cpu drdrill/gw/hash':>20}")
    for case in cases:
        split = case["cpu_split_seconds"]
        print(f"{case['case']:<20} {case['engine']:<22} {case['drdrill_median_seconds']:>9} "
              f"{case['s5cmd_median_seconds']:>8} {case['s5cmd_sha256sum_median_seconds']:>10} "
              f"{case['ratio_vs_s5cmd']:>8} {case['ratio_vs_s5cmd_sha256sum']:>7} "
              f"{case['drdrill_peak_rss_mib']:>8} "
              f"{split['drdrill_process']:>8}/{split['s3_server']}/"
              f"{split['hashing_in_drdrill_estimate']}")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
