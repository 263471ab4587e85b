"""What a drill found, as plain frozen data; `report.json` is exactly `DrillReport`.

These models are also the report's schema (`DrillReport.model_json_schema`), so a report and
its schema cannot drift apart. Keys are camelCase in JSON.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

REPORT_SCHEMA_VERSION = "1"


class Record(BaseModel):
    model_config = ConfigDict(
        frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid"
    )

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class PhaseStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERROR = "error"


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    ERROR = "error"
    INTERRUPTED = "interrupted"


class PhaseResult(Record):
    name: str
    status: PhaseStatus
    required: bool = True
    started_at: datetime | None = None
    duration_seconds: float = 0.0
    budget_seconds: float | None = None
    # Seconds from drill start to the end of the phase: where it sits on the timeline.
    ended_after_seconds: float = 0.0
    message: str = ""


class WorkloadResult(Record):
    kind: str
    namespace: str | None
    name: str
    healthy: bool
    ready_after_seconds: float | None = None
    reason: str = ""
    # Which health rule decided (e.g. `Deployment`, `flux`, `no-status`, `custom: <kind>`).
    rule: str = ""
    # The status was written by drdrill's own simulation (kwok), not by a real controller.
    simulated: bool = False
    # Notes on how the verdict was reached, e.g. that the drill waited for a scale-up.
    notes: list[str] = Field(default_factory=list)
    # The GitOps objects that applied it, root first, ending with the workload itself, e.g.
    # `Kustomization flux-system/apps`, `HelmRelease podinfo/podinfo`, `Deployment podinfo/x`.
    chain: list[str] = Field(default_factory=list)

    def chain_text(self) -> str:
        return " → ".join(self.chain)


class BackupFailure(Record):
    key: str
    problem: str


class InClusterRestoreResult(Record):
    """The set restored into the cluster by a Job into a fresh claim, verified there."""

    namespace: str
    job: str
    claim: str
    image: str
    # True: the cluster's pods are simulated (kwok): the Job and claim were accepted by the
    # API server, but nothing ran and nothing was pulled in the cluster.
    simulated: bool = False
    # None when simulated or when the Job never reported.
    verified: bool | None = None
    objects: int = 0
    bytes: int = 0
    # Job created -> its pod reported (the claim's provisioning and the image start included).
    seconds: float | None = None
    # The pod's own transfer (listing and manifest excluded), and bytes per second over it.
    transfer_seconds: float | None = None
    bytes_per_second: float | None = None
    # Why it did not verify, or what was simulated.
    message: str = ""

    def summary(self) -> str:
        """One line for every report format."""
        where = f"{self.namespace}/{self.claim}"
        if self.simulated:
            return f"SIMULATED (claim {where}, image {self.image}): {self.message}"
        if self.verified is None:
            return self.message
        timing = "" if self.seconds is None else f" in {self.seconds:.1f} s"
        if self.verified:
            rate = ("" if not self.bytes_per_second or self.transfer_seconds is None
                    else f", transfer {self.transfer_seconds:.2f} s at "
                         f"{self.bytes_per_second / 1048576:.1f} MiB/s")
            return (f"verified in the cluster: {self.objects} object(s), {self.bytes} bytes "
                    f"pulled into claim {where}{timing}{rate} (image {self.image})")
        return f"NOT verified in the cluster (claim {where}{timing}): {self.message}"


class BackupResult(Record):
    name: str
    bucket: str
    prefix: str
    holds: str
    objects_checked: int = 0
    bytes_checked: int = 0
    # The restore itself (after listing and manifest): its time, bytes per second over it,
    # and what fetched the objects (e.g. "obstore", "ranged-signed-http", "signed-http").
    restore_seconds: float | None = None
    bytes_per_second: float | None = None
    engine: str = ""
    verified: bool = False
    age_seconds: float | None = None
    # None: neither the set nor the SLA asks for an RPO; the age is then only reported.
    rpo_seconds: float | None = None
    rpo_met: bool = False
    newest_backup_at: datetime | None = None
    sample_seed: int | None = None
    failures: list[BackupFailure] = Field(default_factory=list)
    in_cluster: InClusterRestoreResult | None = None


class ModelReference(Record):
    """An s3:// URI a workload in Git points at, and whether a verified backup set holds it."""

    uri: str
    source: str
    backup_set: str | None = None
    restorable: bool


class LayerReady(Record):
    """A Kustomization or HelmRelease of the applied tree and when it became ready."""

    kind: str
    namespace: str | None
    name: str
    depends_on: list[str] = Field(default_factory=list)
    ready_after_seconds: float | None = None
    # None: ready; else why not (Flux's or helm-controller's message).
    problem: str | None = None


class BootstrapRecord(Record):
    engine: str
    version: str
    script: str
    sha256: str
    exit_code: int | None = None
    output_tail: list[str] = Field(default_factory=list)
    revision: str | None = None
    # What the repository at the drill path was recognised as (e.g. a `flux bootstrap` layout).
    layout: str = ""
    # Each GitRepository in Git pointed at the drill's source: `<object>: <from> -> <to>`.
    rewrites: list[str] = Field(default_factory=list)
    # When each GitOps layer (Kustomization, HelmRelease) became ready, in that order.
    layers: list[LayerReady] = Field(default_factory=list)


class RtoResult(Record):
    budget_seconds: float
    actual_seconds: float | None = None
    met: bool = False


class RpoResult(Record):
    budget_seconds: float | None = None
    worst_age_seconds: float | None = None
    met: bool = False


class ToolVersions(Record):
    drdrill: str
    scenario_api_version: str
    components: dict[str, str] = Field(default_factory=dict)


class SimulatedResource(Record):
    """A custom resource whose status drdrill's simulation wrote (no real controller ran)."""

    api_version: str
    kind: str
    namespace: str | None
    name: str
    # What the simulation did: `ready`, `failed` (the failure path), `insufficient-capacity`.
    outcome: str
    simulator: str


class Simulation(Record):
    """What was simulated in this drill. Absent from a report means nothing was simulated."""

    # Pods went through kwok's stages (Ready after a delay, whatever image, probes, config).
    pods: bool = False
    custom_resources: list[SimulatedResource] = Field(default_factory=list)
    description: str = ""

    @property
    def any(self) -> bool:
        return self.pods or bool(self.custom_resources)

    def label(self) -> str:
        """Short words to show next to a verdict: `simulated pods`, `simulated pods and 2
        custom resources`; empty when nothing was simulated."""
        parts = []
        if self.pods:
            parts.append("simulated pods")
        if self.custom_resources:
            count = len(self.custom_resources)
            noun = "custom resource" if count == 1 else "custom resources"
            parts.append(f"{count} simulated {noun}" if not self.pods else f"{count} {noun}")
        return " and ".join(parts)


class DrillReport(Record):
    schema_version: str = REPORT_SCHEMA_VERSION
    drill: str
    verdict: Verdict
    summary: str
    started_at: datetime
    finished_at: datetime
    provider: str
    rto: RtoResult
    rpo: RpoResult
    phases: list[PhaseResult]
    workloads: list[WorkloadResult] = Field(default_factory=list)
    backups: list[BackupResult] = Field(default_factory=list)
    references: list[ModelReference] = Field(default_factory=list)
    bootstrap: BootstrapRecord | None = None
    # None on kind and existing clusters: nothing there is simulated by drdrill.
    simulation: Simulation | None = None
    versions: ToolVersions
    scenario_file: str | None = None
    # The Git ref drilled (`tag v1.4.0`), and the `--ref` that replaced the scenario's, if any.
    git_ref: str | None = None
    ref_override: str | None = None

    def verdict_label(self) -> str:
        """`PASS`, or `PASS (simulated pods)` when any of it was simulated."""
        word = self.verdict.value.upper()
        label = self.simulation.label() if self.simulation is not None else ""
        return f"{word} ({label})" if label else word

    def rto_note(self) -> str:
        """Said next to every RTO: where it was measured, when that was not a real platform."""
        if self.simulation is not None and self.simulation.any:
            return "measured on a simulated cluster"
        return ""
