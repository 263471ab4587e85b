"""The container images, built here with the test bed's Docker (testbed/kind/dockerd.sh) from a
locally imported Debian base (no registry): `drdrill version` and `validate` in the user image,
and a whole simulated (kwok) drill in the test-bed image, its report on a mounted folder."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gitops.drills import NAMESPACE, deployment, write_repo, write_scenario

ROOT = Path(__file__).resolve().parents[3]
TAG = "it"


def sh(*argv: str, env: dict[str, str], timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture(scope="module")
def docker_env() -> dict[str, str]:
    started = sh("bash", str(ROOT / "testbed" / "kind" / "dockerd.sh"), "start",
                 env=dict(os.environ), timeout=600)
    if started.returncode == 3:
        pytest.fail(f"no Docker engine here: {started.stderr.strip()[-300:]}")
    assert started.returncode == 0, started.stderr[-2000:]
    env = dict(os.environ)
    for line in started.stdout.splitlines():
        if line.startswith("DOCKER_HOST="):
            host = line.split("=", 1)[1]
            if host:
                env["DOCKER_HOST"] = host
            else:
                env.pop("DOCKER_HOST", None)
    return env


@pytest.fixture(scope="module")
def images(docker_env: dict[str, str]) -> Iterator[dict[str, str]]:
    base = sh("bash", str(ROOT / "image" / "debian-base.sh"), env=docker_env)
    assert base.returncode == 0, base.stderr[-3000:]
    built = sh("bash", str(ROOT / "image" / "build.sh"), "--testbed", "--tag", TAG,
               "--base", base.stdout.strip().splitlines()[-1], env=docker_env)
    assert built.returncode == 0, built.stderr[-3000:]
    assert built.stdout.split() == [f"drdrill:{TAG}", f"drdrill-testbed:{TAG}"]
    yield docker_env
    sh("docker", "rmi", f"drdrill-testbed:{TAG}", f"drdrill:{TAG}", env=docker_env)


def test_user_image_runs_version_and_validate(images: dict[str, str]) -> None:
    version = sh("docker", "run", "--rm", "--network", "none", f"drdrill:{TAG}", "version",
                 "--json", env=images, timeout=300)
    assert version.returncode == 0, version.stderr
    assert json.loads(version.stdout)["components"]["kubernetes"].startswith("v1.")
    tools = sh("docker", "run", "--rm", "--network", "none", "--entrypoint", "sh",
               f"drdrill:{TAG}", "-c", "kubectl version --client && id -u", env=images,
               timeout=300)
    assert tools.returncode == 0, tools.stderr
    assert tools.stdout.split()[-1] == "10001"  # not root
    validate = sh("docker", "run", "--rm", "--network", "none", "-v",
                  f"{ROOT / 'scenarios'}:/scenarios:ro", f"drdrill:{TAG}", "validate",
                  "/scenarios/demo.yaml", env=images, timeout=300)
    assert validate.returncode == 0, validate.stderr
    assert "valid drill 'demo'" in validate.stdout


def test_testbed_image_runs_a_simulated_drill(images: dict[str, str], tmp_path: Path) -> None:
    write_repo(tmp_path, [NAMESPACE, deployment("iris")])
    write_scenario(tmp_path, name="in-image", gitops={})
    reports = tmp_path / "reports"
    reports.mkdir()
    reports.chmod(0o777)  # the image runs as uid 10001: it reads the drill, writes reports
    tmp_path.chmod(0o755)
    # kube-apiserver needs a default route to pick its address: the engine's bridge network
    # (which forwards nothing outside this host), not --network none.
    drill = sh("docker", "run", "--rm", "-v", f"{tmp_path}:/drill:ro", "-v",
               f"{reports}:/reports", f"drdrill-testbed:{TAG}", "run", "/drill/drill.yaml",
               "--report-dir", "/reports", env=images, timeout=900)
    assert drill.returncode == 0, (drill.stdout, drill.stderr[-3000:])
    assert drill.stdout.startswith("PASS (simulated pods)")
    report = json.loads((reports / "in-image" / "latest" / "report.json").read_text())
    assert report["verdict"] == "pass" and report["simulation"]["pods"] is True
