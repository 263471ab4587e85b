"""A team's own health rules from the scenario: a condition, or a field and its values.

Declarative on purpose (in the spirit of Argo CD's resource customizations, without the Lua):
a scenario file is data that CI jobs and on-call engineers pass around, so it never carries
code. A rule for a kind drdrill already knows replaces the built-in one; kstatus' generic
checks (being deleted, a generation not observed yet, `Stalled=True`) still come first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from drdrill.health.status import Health, conditions, field
from drdrill.scenario.models import HealthRuleSpec

Rule = Callable[[Mapping[str, Any]], Health]


def compile_rule(spec: HealthRuleSpec) -> Rule:
    name = f"custom ({spec.kind})"
    if spec.condition is not None:
        wanted = spec.condition

        def by_condition(obj: Mapping[str, Any]) -> Health:
            found = conditions(obj).get(wanted.type)
            if found is None:
                return Health.in_progress(f"no {wanted.type} condition yet").by(name)
            if found.is_true:
                return Health.current(f"{wanted.type}=True").by(name)
            if found.is_false and found.reason in wanted.failed_reasons:
                return Health.failed(f"{wanted.type}=False: {found.describe()}").by(name)
            return Health.in_progress(f"{wanted.type}={found.status}: {found.describe()}").by(name)

        return by_condition
    assert spec.field is not None  # the model allows exactly one of condition / field
    path = spec.field

    def by_field(obj: Mapping[str, Any]) -> Health:
        value = field(obj, path.path)
        shown = "absent" if value is None else repr(value)
        text = str(value) if isinstance(value, str | int | float | bool) else None
        if text is not None and text in path.healthy:
            return Health.current(f"{path.path} is {shown}").by(name)
        if text is not None and text in path.failed:
            return Health.failed(f"{path.path} is {shown}").by(name)
        return Health.in_progress(
            f"{path.path} is {shown}, waiting for {' or '.join(path.healthy)}"
        ).by(name)

    return by_field


class RuleBook:
    """The scenario's rules by (API group, kind)."""

    def __init__(self, specs: Sequence[HealthRuleSpec] = ()) -> None:
        self._rules = {(spec.api_group, spec.kind): compile_rule(spec) for spec in specs}

    def __bool__(self) -> bool:
        return bool(self._rules)

    def rule_for(self, group: str, kind: str) -> Rule | None:
        return self._rules.get((group, kind))


NO_CUSTOM_RULES = RuleBook()
