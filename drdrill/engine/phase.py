"""The contract every phase adapter implements, and how a phase reports its end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from drdrill.engine.context import DrillContext
from drdrill.results import PhaseStatus
from drdrill.timing import Deadline


@dataclass(frozen=True)
class PhaseOutcome:
    status: PhaseStatus
    message: str = ""

    @classmethod
    def passed(cls, message: str = "") -> PhaseOutcome:
        return cls(PhaseStatus.PASSED, message)

    @classmethod
    def failed(cls, message: str) -> PhaseOutcome:
        return cls(PhaseStatus.FAILED, message)

    @classmethod
    def skipped(cls, reason: str) -> PhaseOutcome:
        return cls(PhaseStatus.SKIPPED, reason)


class Phase(Protocol):
    """One step of the drill. `run` must respect `deadline` and return or raise:

    `PhaseFailure` (the platform did not recover) ends the phase `failed`, any other
    `DrdrillError` ends it `error`. `needs` names phases that must have passed first.
    """

    @property
    def name(self) -> str: ...

    @property
    def needs(self) -> tuple[str, ...]: ...

    def required(self, ctx: DrillContext) -> bool: ...

    def describe(self, ctx: DrillContext) -> list[str]:
        """What the phase would create or check, for `drdrill plan`; changes nothing."""
        ...

    def run(self, ctx: DrillContext, *, deadline: Deadline) -> PhaseOutcome: ...
