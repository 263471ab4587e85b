"""The workloads phase."""

from __future__ import annotations

from drdrill.engine.context import DrillContext
from drdrill.engine.phase import PhaseOutcome
from drdrill.timing import Deadline


class WorkloadsPhase:
    name = "workloads"
    needs: tuple[str, ...] = ("bootstrap",)

    def required(self, ctx: DrillContext) -> bool:
        return True

    def describe(self, ctx: DrillContext) -> list[str]:
        return ["no adapter yet"]

    def run(self, ctx: DrillContext, *, deadline: Deadline) -> PhaseOutcome:
        return PhaseOutcome.skipped("no workloads adapter yet")
