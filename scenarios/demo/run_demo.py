"""`make demo`: start the test bed's S3 server, seed demo backups, run the demo drill, stop.

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

from drdrill.ports import LOOPBACK, free_port, port_open
from drdrill.proc import Command, start_process
from drdrill.testbed import testbed_binary

HERE = Path(__file__).resolve().parent
SCENARIO = HERE.parent / "demo.yaml"
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


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="drdrill-demo-s3-"))
    port = free_port()
    endpoint = f"http://{LOOPBACK}:{port}"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": f"demo{secrets.token_hex(6)}",
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(24),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
    }
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
            [sys.executable, "-m", "drdrill", "run", str(SCENARIO), *sys.argv[1:]], env=env,
            check=False,
        )
        return drill.returncode
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
