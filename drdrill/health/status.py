"""The verdict a rule gives one object, and safe readers for the untyped status it reads.

Objects arrive as plain JSON dicts from the API server; any field may be missing or of the wrong
type while a controller is still catching up, so every reader here has a default and never
raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class HealthState(StrEnum):
    """kstatus' vocabulary: CURRENT is healthy, FAILED will not heal without someone acting."""

    CURRENT = "current"
    IN_PROGRESS = "in-progress"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Health:
    state: HealthState
    reason: str
    # Which rule decided: the kind's own rule, `kstatus`, `flux`, `no-status`, `custom`, `pods`.
    rule: str = ""

    @property
    def decided(self) -> bool:
        """True once waiting longer would not change the verdict by itself."""
        return self.state in (HealthState.CURRENT, HealthState.FAILED)

    def by(self, rule: str) -> Health:
        """The same verdict, saying which rule gave it (a rule already named is kept)."""
        return self if self.rule else replace(self, rule=rule)

    @classmethod
    def current(cls, reason: str) -> Health:
        return cls(HealthState.CURRENT, reason)

    @classmethod
    def in_progress(cls, reason: str) -> Health:
        return cls(HealthState.IN_PROGRESS, reason)

    @classmethod
    def failed(cls, reason: str) -> Health:
        return cls(HealthState.FAILED, reason)

    @classmethod
    def unknown(cls, reason: str) -> Health:
        return cls(HealthState.UNKNOWN, reason)


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str
    # The generation the condition was written for, when the controller says (Flux does).
    observed_generation: int | None = None

    @property
    def is_true(self) -> bool:
        return self.status == "True"

    @property
    def is_false(self) -> bool:
        return self.status == "False"

    def describe(self) -> str:
        """`message` if there is one, else `reason`, else the bare type and status."""
        return self.message or self.reason or f"{self.type}={self.status}"


def field(obj: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """The value at a dotted path such as `status.readyReplicas`, or `default`."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return default
        current = current[part]
    return default if current is None else current


def int_field(obj: Mapping[str, Any], path: str, default: int) -> int:
    value = field(obj, path, default)
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return default


def str_field(obj: Mapping[str, Any], path: str, default: str = "") -> str:
    value = field(obj, path, default)
    return value if isinstance(value, str) else default


class Conditions(dict[str, Condition]):
    """Conditions by type, with the question the rules keep asking."""

    def true(self, kind: str) -> Condition | None:
        """The condition if it is present and True, else None."""
        found = self.get(kind)
        return found if found is not None and found.is_true else None


def conditions(obj: Mapping[str, Any], path: str = "status.conditions") -> Conditions:
    """Conditions by type; a malformed entry is skipped rather than trusted."""
    raw = field(obj, path, ())
    found = Conditions()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return found
    for entry in raw:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("type"), str):
            continue
        found[entry["type"]] = Condition(
            type=entry["type"],
            status=str(entry.get("status") or "Unknown"),
            reason=str(entry.get("reason") or ""),
            message=str(entry.get("message") or ""),
            observed_generation=(
                entry["observedGeneration"]
                if isinstance(entry.get("observedGeneration"), int)
                and not isinstance(entry.get("observedGeneration"), bool)
                else None
            ),
        )
    return found


def api_group(api_version: str) -> str:
    """`apps/v1` -> `apps`; the core group `v1` -> ``."""
    return api_version.rpartition("/")[0]
