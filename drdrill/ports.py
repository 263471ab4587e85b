"""Loopback ports: find a free one, check one is free, wait until a server answers on one."""

from __future__ import annotations

import contextlib
import socket
import time
import urllib.error
import urllib.request

from drdrill.errors import BadInputError
from drdrill.timing import Deadline

LOOPBACK = "127.0.0.1"


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


def wait_http_ok(url: str, *, deadline: Deadline, interval: float = 0.1) -> bool:
    """Poll a health endpoint until it answers 2xx; False if the deadline passes first."""
    while not deadline.expired():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if 200 <= response.status < 300:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(interval)
    return False
