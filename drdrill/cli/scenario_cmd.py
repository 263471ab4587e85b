"""`drdrill validate`, `plan` and `schema`: read-only looks at a scenario."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from drdrill.engine.context import DrillContext, RunOptions
from drdrill.engine.phases import build_phases
from drdrill.engine.runner import phase_budget
from drdrill.scenario import Scenario, load_scenario
from drdrill.timing import format_duration

ScenarioArg = Annotated[Path, typer.Argument(help="Scenario file (kind: Drill).")]


def validate(scenario: ScenarioArg) -> None:
    """Check a scenario file; prints `ok` and exits 0, or one error line and exits 2."""
    loaded = load_scenario(scenario)
    typer.echo(f"ok: {scenario} is a valid drill '{loaded.name}'")


def plan(scenario: ScenarioArg) -> None:
    """Print the phases, their budgets and what each would create; changes nothing."""
    loaded = load_scenario(scenario)
    ctx = DrillContext(scenario=loaded, options=RunOptions())
    typer.echo(f"drill {loaded.name}: provider {ctx.provider.value}, RTO {loaded.spec.sla.rto}"
               + (f", RPO {loaded.spec.sla.rpo}" if loaded.spec.sla.rpo else ""))
    phases = build_phases()
    for index, phase in enumerate(phases, start=1):
        required = "required" if phase.required(ctx) else "optional"
        budget = format_duration(phase_budget(ctx, phase.name))
        typer.echo(f"{index}. {phase.name} (budget {budget}, {required})")
        for line in phase.describe(ctx):
            typer.echo(f"   - {line}")
    typer.echo(f"{len(phases) + 1}. teardown: undo everything above, newest first")


def schema() -> None:
    """Print the JSON Schema of scenario files, for editors and CI linters."""
    document = Scenario.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "drdrill Drill scenario (drdrill/v1alpha1)"
    typer.echo(json.dumps(document, indent=2))
