"""Which objects a wait is about, and what it found for each: plain frozen data."""

from __future__ import annotations

from dataclasses import dataclass

from drdrill.health.status import api_group
from drdrill.results import WorkloadResult


@dataclass(frozen=True, order=True)
class ObjectRef:
    """One object by identity; `namespace` is None for cluster-scoped kinds."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    @property
    def group(self) -> str:
        return api_group(self.api_version)

    def describe(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass(frozen=True)
class WorkloadOutcome:
    """The verdict for one target when the wait ended.

    `ready_after_seconds` counts from the drill's monotonic origin to the arrival of the event
    that made the target current (the last time it became current, if it went back and forth);
    None unless `healthy`.
    """

    ref: ObjectRef
    healthy: bool
    ready_after_seconds: float | None
    reason: str
    rule: str = ""
    notes: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.ref.kind

    @property
    def namespace(self) -> str | None:
        return self.ref.namespace

    @property
    def name(self) -> str:
        return self.ref.name

    def to_result(self) -> WorkloadResult:
        return WorkloadResult(
            kind=self.kind,
            namespace=self.namespace,
            name=self.name,
            healthy=self.healthy,
            ready_after_seconds=self.ready_after_seconds,
            reason=self.reason,
            rule=self.rule,
            notes=list(self.notes),
        )
