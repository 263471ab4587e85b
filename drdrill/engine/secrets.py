"""What a drill must never show: the contents of its secret files and the environment's keys.

Registered with the log redaction before the first phase starts, so a script that echoes its
deploy key, an API error that quotes a Secret (also base64-encoded) or a traceback that holds a
token is redacted in every log line and every report file.
"""

from __future__ import annotations

import os

from drdrill.logs import register_environment_secrets, register_secret
from drdrill.scenario.models import Scenario

# A secret file is a key or a token; a larger file is not read in full here.
MAX_SECRET_FILE_BYTES = 1024 * 1024


def register_drill_secrets(scenario: Scenario) -> None:
    register_environment_secrets(os.environ)
    gitops = scenario.spec.gitops
    if gitops is None:
        return
    for relative in gitops.secret_files.values():
        try:
            with scenario.resolve_path(relative).open("rb") as handle:
                content = handle.read(MAX_SECRET_FILE_BYTES)
        except OSError:
            continue  # the bootstrap script reports a missing file in its own words
        register_secret(content.decode("utf-8", errors="replace"))
