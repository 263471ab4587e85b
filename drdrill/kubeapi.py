"""One Kubernetes API client per cluster, never the process-wide default configuration.

`persist_config=False` keeps the client from writing refreshed tokens back into a user's
kubeconfig; building a client per cluster keeps a drill from ever talking to the wrong one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from drdrill.errors import BadInputError


def kubeconfig_contexts(path: Path) -> list[str]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise BadInputError(f"kubeconfig {path}: cannot be read ({err.strerror})") from err
    except yaml.YAMLError as err:
        raise BadInputError(f"kubeconfig {path}: not valid YAML") from err
    contexts = data.get("contexts") if isinstance(data, dict) else None
    return [c["name"] for c in contexts or [] if isinstance(c, dict) and "name" in c]


def new_api_client(*, kubeconfig: Path, context: str | None = None) -> Any:
    """A `kubernetes.client.ApiClient` bound to exactly this kubeconfig and context."""
    from kubernetes import config

    try:
        return config.new_client_from_config(
            config_file=str(kubeconfig), context=context, persist_config=False
        )
    except config.ConfigException as err:
        where = f" context {context!r}" if context else ""
        raise BadInputError(f"kubeconfig {kubeconfig}{where}: {err}") from err
