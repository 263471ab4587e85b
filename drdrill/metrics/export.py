"""Where a drill's metrics go: a Pushgateway (`pushadd`) and/or a node-exporter textfile.

The Pushgateway group is `job="drdrill", drill="<name>"`: `pushadd` replaces this drill's
metrics of the same names and leaves other drills' groups alone. Basic-auth credentials come
from `DRDRILL_PUSHGATEWAY_USERNAME` / `DRDRILL_PUSHGATEWAY_PASSWORD`, else from what the
scenario names (`BasicAuth`, read by the caller from a variable or a file); the gateway's URL
is never logged (it may carry credentials of its own).

The textfile is `<dir>/drdrill_<drill>.prom`, one file per drill, replaced atomically so the
node exporter never reads half of it.
"""

from __future__ import annotations

import os
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import generate_latest, pushadd_to_gateway
from prometheus_client.exposition import basic_auth_handler, default_handler
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from drdrill.atomic_files import write_atomically
from drdrill.errors import InfrastructureError
from drdrill.logs import register_secret
from drdrill.metrics.families import drill_registry
from drdrill.results import DrillReport

log = structlog.get_logger(__name__)

JOB = "drdrill"
USERNAME_ENV = "DRDRILL_PUSHGATEWAY_USERNAME"
PASSWORD_ENV = "DRDRILL_PUSHGATEWAY_PASSWORD"  # noqa: S105 - the variable's name

Handler = Callable[..., Callable[[], None]]


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: str = field(repr=False)


def _handler(environ: Mapping[str, str], auth: BasicAuth | None = None) -> Handler:
    username, password = environ.get(USERNAME_ENV), environ.get(PASSWORD_ENV)
    if not (username and password) and auth is not None:
        username, password = auth.username, auth.password
    if not (username and password):
        return default_handler
    register_secret(password)

    def with_auth(url: str, method: str, timeout: float | None, headers: list[Any],
                  data: bytes) -> Callable[[], None]:
        return basic_auth_handler(url, method, timeout, headers, data,
                                  username=username, password=password)

    return with_auth


def _worth_retrying(err: BaseException) -> bool:
    """Connection trouble, timeouts, 429 and 5xx are retried; another 4xx will not change."""
    if isinstance(err, urllib.error.HTTPError):
        return err.code == 429 or err.code >= 500
    return isinstance(err, OSError)


def push_metrics(report: DrillReport, *, gateway: str, timeout: float = 10.0,
                 attempts: int = 4, environ: Mapping[str, str] | None = None,
                 auth: BasicAuth | None = None) -> None:
    """`pushadd` the drill's metrics, retrying connection errors and 5xx with backoff.

    Basic auth from the environment's two variables when both are set, else `auth`.

    Raises `InfrastructureError` (without the URL) when the gateway still refuses them.
    """
    registry = drill_registry(report)
    handler = _handler(os.environ if environ is None else environ, auth)
    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.5, max=8),
        retry=retry_if_exception(_worth_retrying),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                pushadd_to_gateway(gateway, job=JOB, registry=registry,
                                   grouping_key={"drill": report.drill}, timeout=timeout,
                                   handler=handler)
    except urllib.error.HTTPError as err:
        raise InfrastructureError(
            f"Pushgateway refused the metrics of drill {report.drill}: HTTP {err.code}") from None
    except OSError as err:
        reason = getattr(err, "reason", None) or err.__class__.__name__
        raise InfrastructureError(
            f"Pushgateway unreachable for drill {report.drill} ({reason})") from None
    log.info("metrics pushed", drill=report.drill, job=JOB)


def textfile_path(directory: Path, drill: str) -> Path:
    return directory / f"drdrill_{drill}.prom"


def write_textfile(report: DrillReport, *, directory: Path) -> Path:
    """Write the drill's metrics for node-exporter's textfile collector; return the file."""
    path = textfile_path(directory, report.drill)
    try:
        write_atomically(path, generate_latest(drill_registry(report)), mode=0o644)
    except OSError as err:
        raise InfrastructureError(
            f"cannot write the metrics textfile {path} ({err.strerror}); "
            "check --metrics-textfile-dir") from err
    log.info("metrics textfile written", drill=report.drill, path=str(path))
    return path
