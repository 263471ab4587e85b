"""Fixtures for the kind end-to-end tests: the kind test bed, a Docker that answers, and an
environment for `drdrill` children.

Nothing here skips: a missing test bed or Docker fails the tests with what to run, since
`make test` builds the test bed and these tests start the test bed's own dockerd when no
Docker answers (and stop it again at the end of the session).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KIND_TESTBED = REPO / "testbed" / "kind"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.kind)


@dataclass(frozen=True)
class KindTestbed:
    folder: Path
    kind: Path
    node_image: str
    flux_install: Path
    kubectl: Path
    docker_host: str  # "" for the environment's own Docker

    def env(self, tmp_path: Path) -> dict[str, str]:
        """For `drdrill` children: private state, this Docker, the test-bed binaries first."""
        env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"),
               "PYTHONUNBUFFERED": "1", "HOME": str(tmp_path / "home"),
               "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")}
        (tmp_path / "home").mkdir(exist_ok=True)
        if self.docker_host:
            env["DOCKER_HOST"] = self.docker_host
        env["PATH"] = os.pathsep.join([str(self.kind.parent), str(self.kubectl.parent),
                                       env.get("PATH", "")])
        return env


@pytest.fixture(scope="session")
def kind_testbed() -> Iterator[KindTestbed]:
    folder = Path(subprocess.run(["bash", str(KIND_TESTBED / "build.sh"), "--print-dir"],
                                 capture_output=True, text=True, check=True).stdout.strip())
    if not (folder / ".complete").is_file():
        pytest.fail(f"the kind test bed is not built ({folder}): run `make testbed`")
    values = dict(line.split("=", 1) for line in
                  (folder / "env").read_text().splitlines() if "=" in line)
    status = subprocess.run(["bash", str(KIND_TESTBED / "dockerd.sh"), "status"],
                            capture_output=True, text=True, check=False)
    started = subprocess.run(["bash", str(KIND_TESTBED / "dockerd.sh"), "start"],
                             capture_output=True, text=True, check=False, timeout=300)
    if started.returncode != 0:
        pytest.fail(f"no Docker for the kind tests: {started.stderr.strip()}")
    docker_host = started.stdout.strip().split("=", 1)[1]
    from drdrill.testbed import testbed_dir

    try:
        # images a wiped Docker lost come back from the test bed's archives
        subprocess.run(["bash", str(KIND_TESTBED / "build.sh")], capture_output=True,
                       check=True, timeout=600,
                       env={**os.environ, **({"DOCKER_HOST": docker_host} if docker_host else {})})
        yield KindTestbed(folder=folder, kind=Path(values["KIND"]),
                          node_image=values["NODE_IMAGE"],
                          flux_install=Path(values["FLUX_INSTALL"]),
                          kubectl=testbed_dir() / "bin" / "kubectl", docker_host=docker_host)
    finally:
        if status.returncode != 0:  # this session started the test bed's dockerd
            subprocess.run(["bash", str(KIND_TESTBED / "dockerd.sh"), "stop"],
                           capture_output=True, check=False, timeout=120)
