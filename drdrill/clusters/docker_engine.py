"""The Docker daemon a kind cluster runs on, and the few `docker` calls the kind provider makes.

Which daemon: the one the environment names (DOCKER_HOST, or Docker's default socket) when it
answers, else the test bed's own dockerd (`testbed/kind/dockerd.sh start`), found by its socket
under the cache. The choice is a plain value, saved with the cluster, so teardown talks to the
same daemon that creation used.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from drdrill.errors import InfrastructureError, PrerequisiteError

ANSWER_TIMEOUT = 20.0


def testbed_docker_host() -> str:
    """The socket of the test bed's own dockerd (see testbed/kind/dockerd.sh)."""
    explicit = os.environ.get("DRDRILL_DOCKER_DIR")
    if explicit:
        root = Path(explicit)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(xdg) / "drdrill" / "docker"
    return f"unix://{root / 'docker.sock'}"


@dataclass(frozen=True)
class DockerEngine:
    """A Docker daemon that answered; `host` is None for the environment's default."""

    host: str | None

    def env(self) -> dict[str, str]:
        """Variables for `docker` and `kind` children (merged over os.environ)."""
        return {"DOCKER_HOST": self.host} if self.host else {}

    def describe(self) -> str:
        return self.host or os.environ.get("DOCKER_HOST") or "the default Docker"

    def run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(["docker", *args], capture_output=True, text=True,
                                  timeout=timeout, check=False, env={**os.environ, **self.env()})
        except FileNotFoundError as err:
            raise PrerequisiteError("docker is not installed (the kind provider needs Docker; "
                                    "`make testbed` installs Debian's docker.io)") from err
        except subprocess.TimeoutExpired as err:
            raise InfrastructureError(
                f"docker {args[0]} did not answer within {timeout:.0f}s ({self.describe()})"
            ) from err

    def answers(self) -> bool:
        try:
            return self.run("info", "--format", "{{.ID}}", timeout=ANSWER_TIMEOUT).returncode == 0
        except InfrastructureError:
            return False

    def has_image(self, image: str) -> bool:
        return self.run("image", "inspect", "--format", "{{.Id}}", image).returncode == 0

    def containers(self, *, label: str) -> list[str]:
        """Ids of every container (running or not) with this label (key=value)."""
        out = self.run("ps", "-aq", "--filter", f"label={label}")
        if out.returncode != 0:
            raise InfrastructureError(f"docker ps failed: {_last_line(out.stderr)}")
        return out.stdout.split()

    def thaw(self, containers: list[str],
             freezer: Path = Path("/sys/fs/cgroup/freezer/docker")) -> list[str]:
        """Thaw frozen cgroup-v1 freezer cgroups inside these containers; returns those thawed.

        A `runc init` inside a kind node can be left FROZEN when the node is stopped while a
        pod's container starts (seen here: Docker then cannot kill the node, "did not receive
        an exit event", and `kind delete` leaves it running). Only the given containers' own
        cgroups are touched; nothing happens on cgroup v2 or another cgroup layout."""
        if not freezer.is_dir():
            return []
        thawed: list[str] = []
        for container in containers:
            out = self.run("inspect", "--format", "{{.Id}}", container, timeout=30)
            full = out.stdout.strip()
            base = freezer / full
            if out.returncode != 0 or not full or not base.is_dir():
                continue
            for state in base.rglob("freezer.state"):
                try:
                    if state.read_text().strip() != "THAWED":
                        state.write_text("THAWED")
                        thawed.append(str(state.parent.relative_to(freezer)))
                except OSError:
                    continue
        return thawed

    def network_exists(self, name: str) -> bool:
        return self.run("network", "inspect", name).returncode == 0

    def network_gateways(self, name: str) -> list[str]:
        """The IPv4 gateways of a network: the host's address on that bridge."""
        out = self.run("network", "inspect", name)
        if out.returncode != 0:
            raise InfrastructureError(f"docker network inspect {name} failed: "
                                      f"{_last_line(out.stderr)}")
        (network,) = json.loads(out.stdout)
        configs = (network.get("IPAM") or {}).get("Config") or []
        return [c["Gateway"] for c in configs if c.get("Gateway") and ":" not in c["Gateway"]]

    def remove_network(self, name: str) -> None:
        out = self.run("network", "rm", name)
        if out.returncode != 0 and self.network_exists(name):
            raise InfrastructureError(f"docker network rm {name} failed: "
                                      f"{_last_line(out.stderr)}")


def find_docker() -> DockerEngine:
    """The daemon the environment names when it answers, else the test bed's own."""
    default = DockerEngine(host=None)
    if default.answers():
        return default
    own = DockerEngine(host=testbed_docker_host())
    if os.environ.get("DOCKER_HOST") != own.host and own.answers():
        return own
    named = os.environ.get("DOCKER_HOST") or "the default socket"
    raise PrerequisiteError(
        f"no Docker answers ({named}, nor the test bed's {own.host}): start Docker, or run "
        "`testbed/kind/dockerd.sh start` (installs Debian's docker.io and starts its own dockerd)"
    )


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
