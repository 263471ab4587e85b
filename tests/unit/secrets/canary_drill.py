"""`python -m tests.unit.secrets.canary_drill [drdrill options] run SCENARIO ...`

The real CLI (`drdrill.cli.app.main`) with phases that push the canary through every path a
secret can take into an output: script output and the bootstrap record, a Flux-like failure
message, a Kubernetes ApiException (headers and a body quoting a Secret, base64-encoded), a
traceback, nested log values, standard `logging` records, backup failures and references,
the environment of a child process. With DRDRILL_CANARY_MODE=error, building the phases fails
with an error that quotes the canary (the one-line error and the -v traceback).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
from pathlib import Path

import structlog

from drdrill.cli import app, run_cmd
from drdrill.engine.context import DrillContext
from drdrill.engine.phase import PhaseOutcome
from drdrill.errors import InfrastructureError, PhaseFailure
from drdrill.proc import Command, run_streaming
from drdrill.results import BackupFailure, BackupResult, BootstrapRecord, ModelReference
from drdrill.timing import Deadline

CANARY = os.environ["DRDRILL_TEST_CANARY"]        # AWS_SECRET_ACCESS_KEY in the environment
FILE_CANARY = os.environ["DRDRILL_TEST_FILE_CANARY"]  # the content of a secret file


class CanaryPhase:
    needs: tuple[str, ...] = ()

    def __init__(self, name: str) -> None:
        self.name = name

    def required(self, ctx: DrillContext) -> bool:
        return True

    def describe(self, ctx: DrillContext) -> list[str]:
        return []

    def run(self, ctx: DrillContext, *, deadline: Deadline) -> PhaseOutcome:
        log = structlog.get_logger("drdrill.test")
        if self.name == "cluster":
            logging.getLogger("drdrill.health.group_watcher").warning(
                "watch %s: %s; retrying", "pods", f"401 for token {CANARY}")
            log.info("nested", detail={"attempts": [{"url": f"https://x:{CANARY}@h/r.git"}],
                                       "headers": (f"Authorization: Bearer {CANARY}",)})
            lines: list[str] = []
            run_streaming(Command(("env",)), deadline=deadline, on_line=lines.append)
            leaked = [line.split("=")[0] for line in lines if line.startswith("AWS_")]
            log.info("child environment", leaked=leaked)
            ctx.cleanup.push(f"cleanup that fails with {CANARY}", _fail)
            return PhaseOutcome.passed(f"cluster up (keys {CANARY})")
        if self.name == "bootstrap":
            tail = [f"cat deploy key: {FILE_CANARY}", f"AWS_SECRET_ACCESS_KEY={CANARY}"]
            for line in tail:
                log.info("bootstrap", line=line)
            ctx.bootstrap = BootstrapRecord(engine="flux", version="v2.7", script="b.sh",
                                            sha256="0" * 64, exit_code=1, output_tail=tail)
            raise PhaseFailure(
                f"GitRepository flux-system/platform: failed to checkout: authentication "
                f"required for https://drill:{CANARY}@git.example.com/p.git ({FILE_CANARY})")
        if self.name == "workloads":
            from kubernetes.client.exceptions import ApiException

            secret = base64.b64encode(f"key={FILE_CANARY}".encode()).decode()
            error = ApiException(status=422, reason="Unprocessable Entity")
            error.headers = {"Authorization": f"Bearer {CANARY}", "X-Echo": CANARY}
            error.body = json.dumps({"kind": "Status", "message": f"Secret invalid: {CANARY}",
                                     "details": {"data": {"key": secret}}})
            raise error
        ctx.backups.append(BackupResult(
            name="models", bucket="b", prefix="p/", holds="artifacts", failures=[
                BackupFailure(key=f"p/{CANARY}", problem=f"GET failed: token={CANARY}")]))
        ctx.references.append(ModelReference(
            uri=f"s3://b/{FILE_CANARY}", source=f"InferenceService ml/{CANARY}",
            restorable=False))
        raise InfrastructureError(f"S3 refused {CANARY}")


def _fail() -> None:
    raise RuntimeError(f"cannot stop, secret {FILE_CANARY}")


def _phases() -> list[CanaryPhase]:
    if os.environ.get("DRDRILL_CANARY_MODE") == "error":
        try:
            raise ValueError(f"inner detail {FILE_CANARY}")
        except ValueError as err:
            raise InfrastructureError(f"cannot build phases for {CANARY}") from err
    return [CanaryPhase(n) for n in ("cluster", "bootstrap", "workloads", "backups")]


if __name__ == "__main__":
    run_cmd.build_phases = _phases  # type: ignore[assignment]
    sys.argv = ["drdrill", *sys.argv[1:]]
    Path.cwd()
    app.main()
