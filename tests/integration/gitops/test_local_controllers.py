"""Starting local components (kwok provider): a port taken between being picked and being bound
costs one more start on fresh ports, not the drill; any other failure ends the start at once
with the component's own words. Real processes (Debian's redis-server, the one Argo CD uses)
and real port conflicts."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drdrill import testbed
from drdrill.errors import InfrastructureError
from drdrill.gitops.local_controllers import LocalControllers
from drdrill.ports import LOOPBACK, PORT_ATTEMPTS, free_port, redis_answers
from drdrill.proc import Command
from drdrill.timing import Deadline


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port something else listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def _redis(port: int, workdir: Path, *extra: str) -> tuple[Command, str]:
    argv = (str(testbed.testbed_binary("redis-server")), "--bind", LOOPBACK, "--port", str(port),
            "--save", "", "--appendonly", "no", "--dir", str(workdir), *extra)
    return Command(argv, log_file=workdir / "redis.log"), f"redis://{port}"


def test_a_port_taken_before_the_bind_is_retried_on_fresh_ports(tmp_path: Path,
                                                                  taken: int) -> None:
    ports: list[int] = []

    def build() -> tuple[Command, str]:
        ports.append(taken if not ports else free_port())
        return _redis(ports[-1], tmp_path)

    controllers = LocalControllers(workdir=None)
    try:
        process = controllers.start(build, deadline=Deadline.after(30))
        assert ports[0] == taken and len(ports) == 2
        assert controllers.processes == [process] and process.alive()
        assert redis_answers(ports[1])
        # the first start really lost its port, in the component's own words
        assert "address already in use" in (tmp_path / "redis.log").read_text().lower()
    finally:
        controllers.stop()
    assert not process.alive() and controllers.processes == []


def test_a_port_that_stays_taken_ends_the_start_after_its_attempts(tmp_path: Path,
                                                                   taken: int) -> None:
    calls: list[int] = []

    def build() -> tuple[Command, str]:
        calls.append(taken)
        return _redis(taken, tmp_path)

    controllers = LocalControllers(workdir=None)
    with pytest.raises(InfrastructureError, match=r"redis-server did not become ready .*in use"):
        controllers.start(build, deadline=Deadline.after(30))
    assert len(calls) == PORT_ATTEMPTS
    # the failed component is still recorded, so a stop reaps it
    assert len(controllers.processes) == 1
    controllers.stop()


def test_any_other_failure_is_not_retried_and_ends_as_soon_as_the_component_exits(
        tmp_path: Path) -> None:
    calls: list[int] = []

    def build() -> tuple[Command, str]:
        calls.append(1)
        return _redis(free_port(), tmp_path, "--no-such-option", "x")

    controllers = LocalControllers(workdir=None)
    started = time.monotonic()
    with pytest.raises(InfrastructureError, match=r"did not become ready \(exit code 1\).*"
                                                   r"no-such-option"):
        controllers.start(build, deadline=Deadline.after(60))
    # the exit is noticed, not the 60 s deadline waited out
    assert time.monotonic() - started < 30
    assert calls == [1]
    controllers.stop()
