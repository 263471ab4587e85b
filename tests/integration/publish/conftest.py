"""A real Prometheus Pushgateway on 127.0.0.1, built from the Go module proxy by
tools/build.sh into a cache outside the checkout (once; later runs reuse it), and the test
bed's S3 server for the report archive."""

from __future__ import annotations

import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from drdrill.ports import free_port, wait_http_ok
from drdrill.proc import Command, start_process
from drdrill.timing import Deadline
from tests.integration.s3_server import (  # noqa: F401 - pytest fixtures
    s3_credentials,
    s3_server,
)

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Pushgateway:
    url: str

    def samples(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            text = response.read().decode()
        return {(s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples if s.name.startswith("drdrill_")}


@pytest.fixture(scope="session")
def pushgateway_binary() -> Path:
    built = subprocess.run(["bash", str(ROOT / "tools" / "build.sh"), "pushgateway"],
                           capture_output=True, text=True, timeout=1800, check=False)
    assert built.returncode == 0, built.stderr[-3000:]
    return Path(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def pushgateway(pushgateway_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> (
        Iterator[Pushgateway]):
    port = free_port()
    logs = tmp_path_factory.mktemp("pushgateway") / "pushgateway.log"
    process = start_process(Command(
        argv=(str(pushgateway_binary), f"--web.listen-address=127.0.0.1:{port}"),
        log_file=logs))
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_http_ok(f"{url}/-/ready", deadline=Deadline.after(120)), logs.read_text()
        yield Pushgateway(url=url)
    finally:
        process.stop()
