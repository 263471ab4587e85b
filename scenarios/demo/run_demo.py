"""`make demo`: start the test bed's S3 server, seed demo backups, run the demo drill, stop.

`make demo-kind` (`--kind`) runs demo-kind.yaml instead, on a real kind cluster from the kind
test bed: it uses a running Docker or starts the test bed's own (and stops it again), makes
sure the test bed's images are in it, and adds the test bed's Flux install manifest to the
scenario.

The S3 server (versitygw) listens on a free 127.0.0.1 port with throw-away credentials that
reach drdrill only through boto3's default chain (environment variables), never as flags.
The seeded data is what the demo platform in Git points at: a few model artifacts and a
sharded dataset (tens of MB), each bucket with a drdrill manifest.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import yaml

from drdrill.ports import LOOPBACK, free_port, port_open
from drdrill.proc import Command, start_process
from drdrill.testbed import testbed_binary

HERE = Path(__file__).resolve().parent
SCENARIO = HERE.parent / "demo.yaml"
KIND_SCENARIO = HERE.parent / "demo-kind.yaml"
KIND_TESTBED = HERE.parent.parent / "testbed" / "kind"
MiB = 1024 * 1024

# bucket -> {key: size}; sizes are small enough for a laptop, big enough to be real work.
DEMO_DATA = {
    "demo-models": {
        "llm/v3/config.json": 4096,
        "llm/v3/tokenizer.json": 2 * MiB,
        "llm/v3/model-00001-of-00002.safetensors": 12 * MiB,
        "llm/v3/model-00002-of-00002.safetensors": 12 * MiB,
        "fraud/v12/model.joblib": 3 * MiB,
        "classifier/v7/model.onnx": 6 * MiB,
    },
    "demo-datasets": {
        **{f"train/shards/part-{i:05d}.parquet": 2 * MiB for i in range(12)},
        "features/2026-11/snapshot.parquet": 4 * MiB,
    },
}


def seed(endpoint: str, env: dict[str, str]) -> None:
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    rng = random.Random(2026)
    for bucket, objects in DEMO_DATA.items():
        s3.create_bucket(Bucket=bucket)
        for key, size in objects.items():
            s3.put_object(Bucket=bucket, Key=key, Body=rng.randbytes(size))
        # The backup job's last step: a manifest, written with drdrill's own command.
        subprocess.run(
            [sys.executable, "-m", "drdrill", "backups", "manifest", "--bucket", bucket,
             "--prefix", "", "--endpoint-url", endpoint, "--upload", "manifest.json"],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )
    total = sum(sum(objects.values()) for objects in DEMO_DATA.values())
    print(f"demo: seeded {sum(map(len, DEMO_DATA.values()))} objects ({total / MiB:.0f} MiB) "
          f"in {', '.join(DEMO_DATA)}", file=sys.stderr)


def kind_scenario(workdir: Path) -> tuple[Path, dict[str, str], bool]:
    """demo-kind.yaml with the test bed's Flux install manifest, the environment that reaches
    its Docker, and whether this run started that Docker (and so stops it)."""
    from drdrill.clusters.kind import testbed_kind_files

    files = testbed_kind_files()
    if not files:
        raise SystemExit("demo: the kind test bed is not built: run `make testbed`")
    running = subprocess.run(["bash", str(KIND_TESTBED / "dockerd.sh"), "status"],
                             capture_output=True, check=False).returncode == 0
    started = subprocess.run(["bash", str(KIND_TESTBED / "dockerd.sh"), "start"],
                             capture_output=True, text=True, check=False)
    if started.returncode != 0:
        raise SystemExit(f"demo: no Docker: {started.stderr.strip()}")
    docker_host = started.stdout.strip().partition("=")[2]
    env = {"DOCKER_HOST": docker_host} if docker_host else {}
    # images a wiped Docker lost come back from the test bed's archives
    loaded = subprocess.run(["bash", str(KIND_TESTBED / "build.sh")], env={**os.environ, **env},
                            check=False, stdout=subprocess.DEVNULL)
    if loaded.returncode != 0:
        if not running:
            stop_own_docker()
        raise SystemExit("demo: the kind test bed's images could not be loaded into Docker")
    document = yaml.safe_load(KIND_SCENARIO.read_text(encoding="utf-8"))
    gitops = document["spec"]["gitops"]
    gitops["installManifests"] = files["FLUX_INSTALL"]
    gitops["repository"]["path"] = str((KIND_SCENARIO.parent / gitops["repository"]["path"])
                                       .resolve())
    scenario = workdir / KIND_SCENARIO.name
    scenario.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return scenario, env, not running


def stop_own_docker() -> None:
    subprocess.run(["bash", str(KIND_TESTBED / "dockerd.sh"), "stop"], capture_output=True,
                   check=False, timeout=120)


def main() -> int:
    arguments = sys.argv[1:]
    on_kind = "--kind" in arguments
    arguments = [a for a in arguments if a != "--kind"]
    workdir = Path(tempfile.mkdtemp(prefix="drdrill-demo-s3-"))
    scenario, own_docker = SCENARIO, False
    port = free_port()
    endpoint = f"http://{LOOPBACK}:{port}"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": f"demo{secrets.token_hex(6)}",
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(24),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
    }
    if on_kind:
        try:
            scenario, docker_env, own_docker = kind_scenario(workdir)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        env.update(docker_env)
    (workdir / "data").mkdir()
    server = start_process(Command(
        (str(testbed_binary("versitygw")), "--port", f"{LOOPBACK}:{port}", "--quiet",
         "posix", str(workdir / "data")),
        env={"ROOT_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
             "ROOT_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"]},
        log_file=workdir / "versitygw.log",
    ))
    try:
        for _ in range(100):
            if port_open(port):
                break
            time.sleep(0.1)
        else:
            print(f"demo: the S3 server did not start: {server.log_tail(5)}", file=sys.stderr)
            return 3
        print(f"demo: S3 server (versitygw) on {endpoint}", file=sys.stderr)
        seed(endpoint, env)
        drill = subprocess.run(
            [sys.executable, "-m", "drdrill", "run", str(scenario), *arguments], env=env,
            check=False,
        )
        return drill.returncode
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if own_docker:
            stop_own_docker()


if __name__ == "__main__":
    sys.exit(main())
