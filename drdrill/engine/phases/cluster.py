"""The cluster phase."""

from __future__ import annotations

from drdrill.engine.context import DrillContext
from drdrill.engine.phase import PhaseOutcome
from drdrill.timing import Deadline


class ClusterPhase:
    name = "cluster"
    needs: tuple[str, ...] = ()

    def required(self, ctx: DrillContext) -> bool:
        return True

    def describe(self, ctx: DrillContext) -> list[str]:
        return ["no adapter yet"]

    def run(self, ctx: DrillContext, *, deadline: Deadline) -> PhaseOutcome:
        return PhaseOutcome.skipped("no cluster adapter yet")
