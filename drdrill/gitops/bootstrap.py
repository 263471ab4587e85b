"""Run a team's versioned bootstrap script: inputs as environment variables, output streamed.

The script's path, version and sha256 go into the report, its output into the log and its
last lines into the report; its whole process group is killed when the budget runs out.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from drdrill.errors import BadInputError, PhaseFailure
from drdrill.proc import Command, run_streaming
from drdrill.results import BootstrapRecord
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)

# drdrill/bundled/bootstrap links to the checkout's bootstrap/; an installed wheel holds a copy.
BOOTSTRAP_ROOT = Path(__file__).resolve().parent.parent / "bundled" / "bootstrap"


def find_script(*, engine: str, version: str, root: Path = BOOTSTRAP_ROOT) -> Path:
    script = root / engine / version / "bootstrap.sh"
    if not script.is_file():
        available = sorted(p.name for p in (root / engine).glob("*") if p.is_dir())
        raise BadInputError(
            f"spec.gitops.version: no bootstrap script {script}; versions for {engine}: "
            f"{', '.join(available) or 'none'}"
        )
    return script


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class BootstrapInputs:
    kubeconfig: Path
    context: str | None
    repo_url: str
    ref_kind: str
    ref: str
    path: str
    interval: str
    install_manifests: str
    name: str
    namespace: str
    secret_files: Mapping[str, Path]
    tools_path: Path | None = None
    # Further DRDRILL_* variables (the sync manifest, postBuild sources), passed as they are.
    extra: Mapping[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        env = {
            "KUBECONFIG": str(self.kubeconfig),
            "DRDRILL_KUBE_CONTEXT": self.context or "",
            "DRDRILL_REPO_URL": self.repo_url,
            "DRDRILL_REF_KIND": self.ref_kind,
            "DRDRILL_REF": self.ref,
            "DRDRILL_PATH": self.path,
            "DRDRILL_INTERVAL": self.interval,
            "DRDRILL_INSTALL_MANIFESTS": self.install_manifests,
            "DRDRILL_NAME": self.name,
            "DRDRILL_NAMESPACE": self.namespace,
        }
        env.update(self.extra)
        for key, file in self.secret_files.items():
            env[f"DRDRILL_SECRET_{key.upper().replace('-', '_')}_FILE"] = str(file)
        if self.tools_path is not None:
            env["PATH"] = f"{self.tools_path}{os.pathsep}{os.environ.get('PATH', '')}"
        return env


def run_bootstrap(
    *, script: Path, engine: str, version: str, inputs: BootstrapInputs, deadline: Deadline
) -> BootstrapRecord:
    """Run the script; a non-zero exit or the deadline raises `PhaseFailure` with the tail."""
    digest = sha256_of(script)
    log.info("bootstrap script starting", script=str(script), version=version, sha256=digest)
    script_log = log.bind(script=script.name)
    result = run_streaming(
        Command(("bash", str(script)), env=inputs.environment(), cwd=script.parent),
        deadline=deadline,
        on_line=lambda line: script_log.info("bootstrap", line=line),
    )
    record = BootstrapRecord(
        engine=engine, version=version, script=str(script), sha256=digest,
        exit_code=result.exit_code, output_tail=result.tail,
    )
    if result.timed_out:
        raise BootstrapFailed(record, f"bootstrap script {script.name} ran out of its budget "
                              f"after {result.seconds:.0f}s and was killed")
    if result.exit_code != 0:
        last = next((line for line in reversed(result.tail) if line.strip()), "")
        raise BootstrapFailed(
            record, f"bootstrap script {script.name} exited {result.exit_code}: {last[:300]}"
        )
    return record


class BootstrapFailed(PhaseFailure):
    """The script failed; carries its record so the report keeps the output tail."""

    def __init__(self, record: BootstrapRecord, message: str) -> None:
        super().__init__(message)
        self.record = record
