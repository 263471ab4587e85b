"""Small phases that follow the Phase protocol, for engine tests (no cluster involved)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drdrill.engine.context import DrillContext, RunOptions
from drdrill.engine.phase import PhaseOutcome
from drdrill.errors import InfrastructureError, PhaseFailure
from drdrill.results import BackupResult
from drdrill.scenario.loader import scenario_from_data
from drdrill.timing import Deadline
from tests.unit.scenario.samples import valid_data


@dataclass
class FakePhase:
    name: str
    behaviour: str = "pass"  # pass | fail | error | raise-failure | crash | skip | interrupt
    sleep: float = 0.0
    needs: tuple[str, ...] = ()
    calls: list[str] = field(default_factory=list)
    on_run: Callable[[DrillContext], None] | None = None

    def required(self, ctx: DrillContext) -> bool:
        return True

    def describe(self, ctx: DrillContext) -> list[str]:
        return [f"fake {self.name}"]

    def run(self, ctx: DrillContext, *, deadline: Deadline) -> PhaseOutcome:
        self.calls.append(self.name)
        ctx.cleanup.push(f"undo {self.name}", lambda: self.calls.append(f"undo {self.name}"))
        if self.on_run:
            self.on_run(ctx)
        time.sleep(self.sleep)
        if self.behaviour == "fail":
            return PhaseOutcome.failed(f"{self.name} broke")
        if self.behaviour == "raise-failure":
            raise PhaseFailure(f"{self.name} did not recover")
        if self.behaviour == "error":
            raise InfrastructureError(f"{self.name} infrastructure down")
        if self.behaviour == "crash":
            raise RuntimeError("adapter bug")
        if self.behaviour == "skip":
            return PhaseOutcome.skipped("no adapter yet")
        if self.behaviour == "interrupt":
            signal.raise_signal(signal.SIGINT)
            time.sleep(5)  # the handler raises before this returns
        return PhaseOutcome.passed()


def make_context(tmp_path: Path, **sla: object) -> DrillContext:
    data = valid_data()
    data["spec"]["sla"] = {"rto": "10m", **sla}
    scenario = scenario_from_data(data, where="test.yaml")
    return DrillContext(scenario=scenario, options=RunOptions(report_dir=tmp_path))


def fresh_backup(name: str = "models", *, age: float = 60.0, met: bool = True) -> BackupResult:
    return BackupResult(name=name, bucket="b", prefix="", holds="artifacts", objects_checked=1,
                        bytes_checked=1, verified=met, age_seconds=age, rpo_seconds=3600,
                        rpo_met=met)
