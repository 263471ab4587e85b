"""One Kubernetes API client per cluster, never the process-wide default configuration.

`persist_config=False` keeps the client from writing refreshed tokens back into a user's
kubeconfig; building a client per cluster keeps a drill from ever talking to the wrong one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import urllib3
import yaml
from tenacity import Retrying, retry_if_exception, stop_before_delay, wait_random_exponential

from drdrill.errors import BadInputError, InfrastructureError
from drdrill.logs import describe_exception
from drdrill.timing import Deadline

T = TypeVar("T")
# 404 included: a CRD that Git just installed is served a moment later.
_TRANSIENT_STATUSES = frozenset({0, 404, 408, 429})


def is_transient_api_error(error: BaseException) -> bool:
    """Worth retrying: the connection (an apiserver restarting), its load (429) or a 5xx."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(error, urllib3.exceptions.HTTPError | ConnectionError):
        return True
    if isinstance(error, ApiException):
        status = error.status or 0
        return status in _TRANSIENT_STATUSES or status >= 500
    return isinstance(error, OSError)


def call_with_retries(call: Callable[[], T], *, deadline: Deadline) -> T:
    """`call()`, retried with jittered backoff on transient API errors until `deadline`."""
    for attempt in Retrying(
        retry=retry_if_exception(is_transient_api_error),
        wait=wait_random_exponential(multiplier=0.2, max=5),
        stop=stop_before_delay(max(0.0, deadline.remaining())),
        reraise=True,
    ):
        with attempt:
            return call()
    raise AssertionError("unreachable: tenacity re-raises the last error")


def create_if_absent(create: Callable[[], object], *, what: str, deadline: Deadline) -> None:
    """`create()`, sent again on transient API errors (an apiserver restarting) until
    `deadline`; "already exists" (409) is fine, as it is for a POST that landed before its
    answer was lost. Any other refusal, or no answer in time, is an InfrastructureError."""
    from kubernetes.client.exceptions import ApiException

    try:
        call_with_retries(create, deadline=deadline)
    except ApiException as err:
        if err.status != 409:
            raise InfrastructureError(
                f"cannot create {what}: {err.status} {err.reason}") from err
    except Exception as err:
        if not is_transient_api_error(err):
            raise
        raise InfrastructureError(f"cannot create {what}: the apiserver did not answer in "
                                  f"time ({describe_exception(err)})") from err


def kubeconfig_contexts(path: Path) -> list[str]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise BadInputError(f"kubeconfig {path}: cannot be read ({err.strerror})") from err
    except yaml.YAMLError as err:
        raise BadInputError(f"kubeconfig {path}: not valid YAML") from err
    contexts = data.get("contexts") if isinstance(data, dict) else None
    return [c["name"] for c in contexts or [] if isinstance(c, dict) and "name" in c]


def new_api_client(
    *, kubeconfig: Path, context: str | None = None, connections: int | None = None
) -> Any:
    """A `kubernetes.client.ApiClient` bound to exactly this kubeconfig and context.

    `connections` sizes its connection pool for callers that hold many watches open at once
    (the default, five per CPU, would open and drop a connection for every other request).
    """
    from kubernetes import client, config

    configuration = None
    if connections is not None:
        configuration = client.Configuration()
        configuration.connection_pool_maxsize = connections
    try:
        return config.new_client_from_config(
            config_file=str(kubeconfig), context=context, persist_config=False,
            client_configuration=configuration,
        )
    except config.ConfigException as err:
        where = f" context {context!r}" if context else ""
        raise BadInputError(f"kubeconfig {kubeconfig}{where}: {err}") from err
