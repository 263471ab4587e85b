"""What the phases of one drill share: the scenario, the clock, the cleanup stack, findings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from drdrill.clusters.base import RunningSimulation
from drdrill.engine.cleanup import CleanupStack
from drdrill.engine.events import DrillObserver
from drdrill.results import BackupResult, BootstrapRecord, ModelReference, WorkloadResult
from drdrill.scenario.models import Provider, Scenario
from drdrill.timing import utc_now


@dataclass(frozen=True)
class RunOptions:
    report_dir: Path = Path("reports")
    keep_cluster: bool = False
    provider: Provider | None = None
    allow_non_empty: bool = False
    restore_dir: Path | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    # `--ref tag=v1.4.0`: already applied to the scenario; kept to say so in the report.
    ref_override: str | None = None


@dataclass
class DrillClock:
    """One monotonic origin for every number in the report, and its wall-clock twin."""

    started_monotonic: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=utc_now)

    def since_start(self, monotonic: float | None = None) -> float:
        return (time.monotonic() if monotonic is None else monotonic) - self.started_monotonic


@dataclass
class DrillContext:
    scenario: Scenario
    options: RunOptions
    clock: DrillClock = field(default_factory=DrillClock)
    cleanup: CleanupStack = field(default_factory=CleanupStack)
    # Who is told about progress (the CLI's terminal view); by default nobody.
    observer: DrillObserver = field(default_factory=DrillObserver)
    # Filled in by the phases as they go.
    cluster: Any = None
    workloads: list[WorkloadResult] = field(default_factory=list)
    backups: list[BackupResult] = field(default_factory=list)
    references: list[ModelReference] = field(default_factory=list)
    bootstrap: BootstrapRecord | None = None
    # The engine's own object at the end of bootstrap (Flux Kustomization / Argo Application):
    # its inventory says what Git applied.
    gitops_object: dict[str, Any] | None = None
    applied_objects: list[dict[str, Any]] = field(default_factory=list)
    components: dict[str, str] = field(default_factory=dict)
    # What the provider simulates for this drill (kwok), None on a real cluster.
    simulation: RunningSimulation | None = None

    @property
    def provider(self) -> Provider:
        return self.options.provider or self.scenario.spec.cluster.provider
