"""Transfer engines for the restore, side by side in one run: which one to keep (issue 14).

Every engine restores the same objects from the same local versitygw into a fresh folder and
does the same work drdrill's restore must do: each file created with O_NOFOLLOW|O_EXCL, each
object hashed with sha256 while it streams in and compared with the manifest (sha256 and
size). Engines, each in its own subprocess, timed end to end (interpreter start included):

- `drdrill`: `drdrill.backups.restore.restore_objects` as the restore runs it (obstore for
  whole objects with a manifest sha256, parallel ranged GETs into a mapping for large ones);
- `drdrill-http`: the same with `engine="http"`, the path before obstore (hand-written SigV4
  GETs over http.client for whole objects);
- `drdrill-before` (with --before-tree DIR): the `drdrill` worker run from a checkout of an
  older commit, to compare a change side by side;
- `drdrill-2proc`: the same restore split over two processes (every other object each), to
  show what using both cores from Python gives;
- `obstore`: Rust object_store (PyPI `obstore`) alone, an asyncio loop with --concurrency GETs in
  flight; a large object as --concurrency ranged GETs, hashed in order in a worker thread;
- `awscrt`: the AWS CRT S3 client (PyPI `awscrt`), meta requests with --concurrency in flight;
  a large object is split into parts by the CRT itself and delivered in order to `on_body`;
- `s5cmd`: `s5cmd cp` (downloads only, verifies nothing), and `s5cmd+sha256sum`: the same
  followed by `sha256sum` of every file (what a person verifying by hand runs).

Listing is part of each run (boto3's paginator for drdrill and awscrt, obstore's own list,
s5cmd's wildcard). Runs rotate through the engines, so drift on the shared 2-core machine
hits every engine alike; medians of --runs. CPU split per run: the engine process (user+sys
from wait4), versitygw (utime+stime from /proc, before and after) and the share of the
engine's CPU spent hashing (bytes / this machine's single-core sha256 rate).

    .venv/bin/python bench/backups_engines_bench.py [--runs 3] [--cases small,big]
        [--small-count 10000] [--small-kib 64] [--big-mib 2048] [--concurrency 16]
        [--engines drdrill,drdrill-http,obstore,awscrt,s5cmd,s5cmd+sha256sum]
Writes bench/results/backups_engines.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.procstats import (  # noqa: E402
    PeakRss,
    SpentFolders,
    proc_cpu_seconds,
    server_pid_of,
    settle_deleted_inodes,
)

MIB = 1024 * 1024
PART_BYTES = 16 * MIB
BIG_MIN_BYTES = 64 * MIB
ENGINES = ("drdrill", "drdrill-http", "drdrill-2proc", "obstore", "awscrt", "s5cmd",
           "s5cmd+sha256sum")
FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


# --------------------------------------------------------------------------- workers
# Each runs in its own process: `--worker ENGINE --job job.json`; prints one JSON line.

def _open_new(root: Path, key: str) -> int:
    return os.open(root / key, FILE_FLAGS, 0o600)


def _boto3_listing(job: dict[str, Any]) -> list[tuple[str, int]]:
    import boto3
    from botocore.config import Config

    client = boto3.client("s3", endpoint_url=job["endpoint"], region_name="us-east-1",
                          config=Config(s3={"addressing_style": "path"}))
    listed = []
    for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=job["bucket"], Prefix=job["prefix"] + "/"):
        listed += [(o["Key"], int(o["Size"])) for o in page.get("Contents", [])]
    return listed


def _check(job: dict[str, Any], key: str, size: int, sha256: str) -> str | None:
    expected = job["manifest"][key.rsplit("/", 1)[-1]]
    if size != expected[0] or sha256 != expected[1]:
        return f"{key}: {size} bytes sha256 {sha256[:12]}, expected {expected}"
    return None


def worker_drdrill(job: dict[str, Any], engine: str = "auto") -> list[str | None]:
    from drdrill.backups.restore import RestoreTarget, restore_objects
    from drdrill.backups.s3client import S3Endpoint, make_s3_client
    from drdrill.timing import Deadline

    endpoint = S3Endpoint(endpoint_url=job["endpoint"], max_concurrency=job["concurrency"])
    client = make_s3_client(endpoint=endpoint)
    prefix = job["prefix"] + "/"
    targets = []
    for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=job["bucket"], Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix):]
            size, sha = job["manifest"][relative]
            targets.append(RestoreTarget(item["Key"], relative, size, sha))
    if "shard" in job:  # one process of drdrill-2proc: every n-th object, from the i-th
        index, count = job["shard"]
        targets = targets[index::count]
    checks = restore_objects(client, endpoint=endpoint, bucket=job["bucket"], targets=targets,
                             folder=Path(job["folder"]), concurrency=job["concurrency"],
                             deadline=Deadline.after(3600),
                             engine="http" if engine == "http" else "auto")
    return [c.problem for c in checks]


def worker_obstore(job: dict[str, Any]) -> list[str | None]:
    import obstore
    from obstore.store import S3Store

    store = S3Store(job["bucket"], endpoint=job["endpoint"], region="us-east-1",
                    virtual_hosted_style_request=False, client_options={"allow_http": True},
                    access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                    secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"])
    root, limit = Path(job["folder"]), job["concurrency"]

    async def small(key: str, gate: asyncio.Semaphore) -> str | None:
        async with gate:
            fd = _open_new(root, key.rsplit("/", 1)[-1])
            try:
                result = await obstore.get_async(store, key)
                digest, size = hashlib.sha256(), 0
                async for chunk in result.stream(min_chunk_size=4 * MIB):
                    view = memoryview(chunk)
                    digest.update(view)
                    os.write(fd, view)
                    size += len(view)
                return _check(job, key, size, digest.hexdigest())
            finally:
                os.close(fd)

    async def big(key: str, total: int) -> str | None:
        fd = _open_new(root, key.rsplit("/", 1)[-1])
        digest = hashlib.sha256()
        try:
            os.posix_fallocate(fd, 0, total)
            pending: deque[Any] = deque()
            done = 0
            for start in range(0, total, PART_BYTES):
                pending.append(asyncio.ensure_future(obstore.get_range_async(
                    store, key, start=start, end=min(total, start + PART_BYTES))))
                if len(pending) >= min(limit, 6):
                    done += await _consume(pending.popleft(), digest, fd, done)
            while pending:
                done += await _consume(pending.popleft(), digest, fd, done)
            return _check(job, key, done, digest.hexdigest())
        finally:
            os.close(fd)

    async def run() -> list[str | None]:
        gate = asyncio.Semaphore(limit)
        listed: list[tuple[str, int]] = []
        async for batch in obstore.list(store, prefix=job["prefix"] + "/"):
            listed += [(m["path"], m["size"]) for m in batch]
        results = [await big(k, s) for k, s in listed if s >= BIG_MIN_BYTES]
        results += await asyncio.gather(*(small(k, gate) for k, s in listed if s < BIG_MIN_BYTES))
        return results

    return asyncio.run(run())


async def _consume(task: Any, digest: Any, fd: int, offset: int) -> int:
    view = memoryview(await task)
    await asyncio.to_thread(_hash_and_write, digest, fd, view, offset)
    return len(view)


def _hash_and_write(digest: Any, fd: int, view: memoryview, offset: int) -> None:
    digest.update(view)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def worker_awscrt(job: dict[str, Any]) -> list[str | None]:
    from urllib.parse import quote, urlsplit

    from awscrt import auth, http, io, s3

    listed = _boto3_listing(job)
    parts = urlsplit(job["endpoint"])
    credentials = auth.AwsCredentialsProvider.new_static(
        os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    bootstrap = io.ClientBootstrap(io.EventLoopGroup(2), io.DefaultHostResolver(
        io.EventLoopGroup(1)))
    client = s3.S3Client(
        bootstrap=bootstrap, region="us-east-1", tls_mode=s3.S3RequestTlsMode.DISABLED,
        signing_config=s3.create_default_s3_signing_config(
            region="us-east-1", credential_provider=credentials),
        part_size=PART_BYTES, throughput_target_gbps=10.0)
    root, limit = Path(job["folder"]), job["concurrency"]
    gate = threading.BoundedSemaphore(limit)
    results: list[str | None] = []
    lock = threading.Lock()
    finished = threading.Semaphore(0)

    def fetch(key: str, size: int) -> None:
        fd = _open_new(root, key.rsplit("/", 1)[-1])
        digest = hashlib.sha256()
        got = [0]

        def on_body(chunk: Any, offset: int, **_: Any) -> None:
            view = memoryview(chunk)
            digest.update(view)
            os.pwrite(fd, view, offset)
            got[0] += len(view)

        def on_done(error: Exception | None = None, status_code: int | None = None,
                    **_: Any) -> None:
            os.close(fd)
            problem = (f"{key}: {error} {status_code}" if error is not None
                       else _check(job, key, got[0], digest.hexdigest()))
            with lock:
                results.append(problem)
            gate.release()
            finished.release()

        headers = http.HttpHeaders([("Host", parts.netloc)])
        request = http.HttpRequest("GET", f"/{job['bucket']}/{quote(key)}", headers)
        client.make_request(type=s3.S3RequestType.GET_OBJECT, request=request,
                            on_body=on_body, on_done=on_done)

    for key, size in listed:
        gate.acquire()
        fetch(key, size)
    for _ in listed:
        finished.acquire()
    return results


def worker_drdrill_2proc(job: dict[str, Any]) -> list[str | None]:
    """drdrill's restore split over two processes (each its own interpreter, GIL, obstore
    runtime), every other object each: what using both cores from Python would give."""
    problems: list[str | None] = []
    children = []
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(2):
            shard = Path(scratch) / f"job-{index}.json"
            shard.write_text(json.dumps({**job, "shard": [index, 2]}))
            children.append(subprocess.Popen(
                [sys.executable, __file__, "--worker", "drdrill", "--job", str(shard)],
                stdout=subprocess.PIPE))
        peaks = [PeakRss(child.pid) for child in children]
        for child, peak in zip(children, peaks, strict=True):
            output, _ = child.communicate()
            peak.stop()
            if child.returncode != 0:
                problems.append(f"shard failed: {output.decode(errors='replace')[-500:]}")
    print(json.dumps({"rss": sum(peak.bytes for peak in peaks)}))
    return problems


WORKERS: dict[str, Callable[[dict[str, Any]], list[str | None]]] = {
    "drdrill": worker_drdrill, "drdrill-http": lambda job: worker_drdrill(job, "http"),
    "drdrill-2proc": worker_drdrill_2proc, "obstore": worker_obstore, "awscrt": worker_awscrt,
}


def worker_main(engine: str, job_path: Path) -> None:
    job = json.loads(job_path.read_text())
    problems = [p for p in WORKERS[engine](job) if p is not None]
    print(json.dumps({"problems": problems[:5], "failed": len(problems)}))
    sys.exit(1 if problems else 0)


# --------------------------------------------------------------------------- the parent

def timed(command: list[str], env: dict[str, str], server_pid: int) -> dict[str, float]:
    """Seconds, peak RSS, own CPU and the S3 server's CPU of one subprocess."""
    with tempfile.TemporaryFile() as output:
        server_before = proc_cpu_seconds(server_pid)
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        peak = PeakRss(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        peak.stop()
        elapsed = time.perf_counter() - started
        server_cpu = proc_cpu_seconds(server_pid) - server_before
        output.seek(0)
        printed = output.read()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{command[:4]} failed:\n"
                             + printed[-3000:].decode(errors="replace"))
    # A worker that runs its own processes reports their peak RSS (summed) as {"rss": ...}.
    reported = [json.loads(line)["rss"] for line in printed.splitlines()
                if line.startswith(b'{"rss"')]
    return {"seconds": elapsed, "rss": max([peak.bytes, *reported]),
            "cpu": usage.ru_utime + usage.ru_stime, "server_cpu": server_cpu}


def engine_commands(engine: str, *, job: Path, s5cmd: list[str], folder: Path,
                    before: Path | None = None) -> list[list[str]]:
    if engine == "drdrill-before" and before is not None:
        # The same worker, run from a checkout of an older commit (its own drdrill).
        return [[sys.executable, str(before / "bench" / "backups_engines_bench.py"),
                 "--worker", "drdrill", "--job", str(job)]]
    if engine in WORKERS:
        return [[sys.executable, __file__, "--worker", engine, "--job", str(job)]]
    commands = [s5cmd]
    if engine == "s5cmd+sha256sum":
        commands.append(["sh", "-c", f"find '{folder}' -type f -print0 | xargs -0 -n 2000 "
                                     "sha256sum > /dev/null"])
    return commands


def run_case(name: str, *, work: Path, server: Any, server_pid: int, prefix: str,
             manifest: dict[str, tuple[int, str]], args: argparse.Namespace,
             env: dict[str, str], hash_rate: float) -> dict[str, Any]:
    from drdrill.testbed import testbed_binary

    total = sum(size for size, _ in manifest.values())
    chosen = args.big_engines if prefix == "big" else args.engines
    samples: dict[str, list[dict[str, float]]] = {e: [] for e in chosen}
    spent = SpentFolders(work / "spent")
    for run in range(args.runs):
        order = chosen[run % len(chosen):] + chosen[:run % len(chosen)]
        for engine in order:
            folder = work / f"restore-{engine}-{run}"
            folder.mkdir()
            job = work / "job.json"
            job.write_text(json.dumps({
                "endpoint": server.endpoint, "bucket": "bench", "prefix": prefix,
                "folder": str(folder), "concurrency": args.concurrency, "manifest": manifest,
            }))
            s5cmd = [str(testbed_binary("s5cmd")), "--endpoint-url", server.endpoint,
                     "--numworkers", str(args.concurrency), "cp", "--concurrency",
                     str(args.concurrency), f"s3://bench/{prefix}/*", f"{folder}/"]
            try:
                parts = [timed(c, env, server_pid) for c in
                         engine_commands(engine, job=job, s5cmd=s5cmd, folder=folder,
                                         before=args.before_tree)]
            finally:
                spent.retire(folder)
            sample = {k: sum(p[k] for p in parts) for k in ("seconds", "cpu", "server_cpu")}
            sample["rss"] = max(p["rss"] for p in parts)
            samples[engine].append(sample)
            print(f"  {name} run {run + 1} {engine:<16} {sample['seconds']:7.2f} s", flush=True)
    spent.delete()
    s5_median = statistics.median(s["seconds"] for s in samples.get("s5cmd", [])) \
        if "s5cmd" in samples else None
    s5_hash_median = statistics.median(s["seconds"] for s in samples["s5cmd+sha256sum"]) \
        if "s5cmd+sha256sum" in samples else None
    engines = {}
    hashing_cpu = total / hash_rate
    for engine, runs in samples.items():
        seconds = statistics.median(s["seconds"] for s in runs)
        cpu = statistics.median(s["cpu"] for s in runs)
        engines[engine] = {
            "seconds": [round(s["seconds"], 3) for s in runs],
            "median_seconds": round(seconds, 3),
            "mib_per_s": round(total / seconds / MIB, 1),
            "ratio_vs_s5cmd": round(s5_median / seconds, 3) if s5_median else None,
            "ratio_vs_s5cmd_sha256sum": round(s5_hash_median / seconds, 3)
            if s5_hash_median else None,
            "peak_rss_mib": round(max(s["rss"] for s in runs) / MIB, 1),
            "cpu_seconds_median": round(cpu, 2),
            "server_cpu_seconds_median": round(
                statistics.median(s["server_cpu"] for s in runs), 2),
            # Hashing happens inside the engine's process (or sha256sum's): estimated from
            # the bytes and this machine's single-core rate, so it is the same for every engine.
            "hashing_cpu_seconds_estimate": round(hashing_cpu, 2)
            if engine != "s5cmd" else 0.0,
            "cpu_utilisation_of_2_cores": round(
                (cpu + statistics.median(s["server_cpu"] for s in runs))
                / (seconds * (os.cpu_count() or 1)), 2),
        }
    return {"case": name, "objects": len(manifest), "bytes": total, "runs": args.runs,
            "concurrency": args.concurrency, "engines": engines,
            "two_core_floor": two_core_floor(engines, hashing_cpu)}


def two_core_floor(engines: dict[str, Any], hashing_cpu: float) -> dict[str, Any] | None:
    """Where this machine's cores cap a verifying restore: the work s5cmd and the S3 server
    did (their CPU seconds) plus hashing every byte once, spread perfectly over every core.
    No engine that downloads as cheaply as s5cmd and verifies can finish sooner; the best
    ratio to s5cmd any verifying engine can reach here is s5cmd's time over this floor."""
    s5cmd = engines.get("s5cmd")
    if s5cmd is None:
        return None
    cpu = s5cmd["cpu_seconds_median"] + s5cmd["server_cpu_seconds_median"] + hashing_cpu
    floor = cpu / (os.cpu_count() or 1)
    return {"cpu_seconds": round(cpu, 2), "floor_seconds": round(floor, 3),
            "best_ratio_vs_s5cmd": round(s5cmd["median_seconds"] / floor, 3)}


def sha256_rate(total: int = 512 * MIB) -> float:
    block = os.urandom(8 * MIB)
    digest = hashlib.sha256()
    started = time.perf_counter()
    for _ in range(total // len(block)):
        digest.update(block)
    return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--job", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", default="small,big")
    parser.add_argument("--small-count", type=int, default=10_000)
    parser.add_argument("--small-kib", type=int, default=64)
    parser.add_argument("--big-mib", type=int, default=2048)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--big-engines", default="drdrill,obstore,awscrt,s5cmd,s5cmd+sha256sum",
                        help="engines for the big object (drdrill-http is drdrill there)")
    parser.add_argument("--before-tree", type=Path,
                        help="a checkout of an older commit (git worktree add DIR REV): adds "
                             "the engine drdrill-before, drdrill's restore as it was there")
    parser.add_argument("--output", type=Path,
                        default=ROOT / "bench" / "results" / "backups_engines.json")
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker, args.job)
        return
    args.engines = args.engines.split(",")
    if args.before_tree is not None and "drdrill-before" not in args.engines:
        args.engines.insert(1, "drdrill-before")
    args.big_engines = args.big_engines.split(",")
    if "drdrill-before" in args.engines + args.big_engines and args.before_tree is None:
        parser.error("engine drdrill-before needs --before-tree DIR")
    try:
        import awscrt  # noqa: F401
    except ImportError:
        print("awscrt is not installed (pip install -e '.[bench]'): left out", file=sys.stderr)
        args.engines = [e for e in args.engines if e != "awscrt"]
        args.big_engines = [e for e in args.big_engines if e != "awscrt"]
    from tests.integration.s3_server import credential_env, running_versitygw

    work = Path(tempfile.mkdtemp(prefix="drdrill-engines-"))
    cases = []
    hash_rate = sha256_rate()
    try:
        with running_versitygw(work / "s3") as server:
            server_pid = server_pid_of(server.port)
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(credential_env(server))
            server.client().create_bucket(Bucket="bench")
            sets = {
                "small": (f"{args.small_count} x {args.small_kib} KiB", {
                    f"o-{i:06d}.bin": args.small_kib * 1024 for i in range(args.small_count)}),
                "big": (f"1 x {args.big_mib} MiB", {"weights.bin": args.big_mib * MIB}),
            }
            for prefix in args.cases.split(","):
                name, sizes = sets[prefix]
                manifest = seed(server, work, prefix, sizes, env, args.concurrency)
                if len(sizes) > SpentFolders.MANY_FILES:
                    settle_deleted_inodes()  # the seed's files were deleted just now
                cases.append(run_case(name, work=work, server=server, server_pid=server_pid,
                                      prefix=prefix, manifest=manifest, args=args, env=env,
                                      hash_rate=hash_rate))
                shutil.rmtree(server.root / "bench" / prefix, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "benchmark": "restore transfer engines, side by side",
        "at": datetime.now(UTC).isoformat(), "cpus": os.cpu_count(),
        "sha256_single_core_mib_per_s": round(hash_rate / MIB, 1),
        "load_average_at_end": os.getloadavg(),
        "command": "bench/backups_engines_bench.py " + " ".join(sys.argv[1:]),
        "cases": cases,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(args.output)
    print(f"sha256 one core {results['sha256_single_core_mib_per_s']} MiB/s")
    print(f"{'case':<18} {'engine':<16} {'median s':>9} {'MiB/s':>7} {'vs s5cmd':>9} "
          f"{'vs +sha':>8} {'RSS MiB':>8} {'cpu s':>6} {'gw cpu s':>8} {'hash s':>6}")
    for case in cases:
        for engine, row in case["engines"].items():
            print(f"{case['case']:<18} {engine:<16} {row['median_seconds']:>9} "
                  f"{row['mib_per_s']:>7} {row['ratio_vs_s5cmd']!s:>9} "
                  f"{row['ratio_vs_s5cmd_sha256sum']!s:>8} {row['peak_rss_mib']:>8} "
                  f"{row['cpu_seconds_median']:>6} {row['server_cpu_seconds_median']:>8} "
                  f"{row['hashing_cpu_seconds_estimate']:>6}")
    for case in cases:
        floor = case["two_core_floor"]
        if floor:
            print(f"{case['case']}: s5cmd's CPU + the server's + hashing = {floor['cpu_seconds']}"
                  f" CPU-s; on {os.cpu_count()} cores no verifying restore ends before "
                  f"{floor['floor_seconds']} s (best possible vs s5cmd: "
                  f"{floor['best_ratio_vs_s5cmd']}x)")
        for engine, row in case["engines"].items():
            print(f"  {engine:<16} used {row['cpu_utilisation_of_2_cores']:.0%} of the cores")
    print(f"written to {args.output}")


def seed(server: Any, work: Path, prefix: str, sizes: dict[str, int], env: dict[str, str],
         concurrency: int) -> dict[str, tuple[int, str]]:
    """Upload the objects through the S3 API with s5cmd (so each has its ETag, as on a real
    store); returns the manifest: key -> (size, sha256)."""
    from drdrill.testbed import testbed_binary

    folder = work / "seed" / prefix
    folder.mkdir(parents=True)
    manifest = {}
    block = os.urandom(4 * MIB)
    for index, (key, size) in enumerate(sizes.items()):
        digest = hashlib.sha256()
        with (folder / key).open("wb") as out:
            left, turn = size, index
            while left:
                piece = bytes([turn % 251]) + block[1:min(left, len(block))]
                out.write(piece)
                digest.update(piece)
                left -= len(piece)
                turn += 1
        manifest[key] = (size, digest.hexdigest())
    subprocess.run([str(testbed_binary("s5cmd")), "--endpoint-url", server.endpoint,
                    "--numworkers", str(concurrency), "cp", f"{folder}/*",
                    f"s3://bench/{prefix}/"], env=env, check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(folder)
    return manifest


if __name__ == "__main__":
    main()
