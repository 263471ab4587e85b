"""Loopback ports: find a free one, check one is free, wait until a server answers on one."""

from __future__ import annotations

import contextlib
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from drdrill.errors import BadInputError
from drdrill.timing import Deadline

LOOPBACK = "127.0.0.1"
# A free port is picked, then bound by the server a moment later; in between, anything on the
# machine may take it (an outgoing connection's ephemeral port included). Servers that lost a
# port that way say so in these words (Go's net package, Redis, etcd), and are started again.
PORT_TAKEN = "address already in use"
PORT_ATTEMPTS = 3


def says_port_taken(output: str) -> bool:
    return PORT_TAKEN in output.lower()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def ensure_free(port: int, *, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError as err:
            raise BadInputError(
                f"{what}: port {LOOPBACK}:{port} is already in use; choose another or stop "
                "what listens there"
            ) from err


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
        return True
    return False


def redis_answers(port: int) -> bool:
    """True when a Redis server answers PING on the port (an open port alone could be anyone's)."""
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5) as s:
        s.settimeout(0.5)
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")
    return False


def wait_http_ok(url: str, *, deadline: Deadline, interval: float = 0.1,
                 while_true: Callable[[], bool] = lambda: True) -> bool:
    """Poll a health endpoint until it answers 2xx; False if the deadline passes or
    `while_true` turns false first (the server's process exited)."""
    while not deadline.expired() and while_true():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if 200 <= response.status < 300:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(interval)
    return False
