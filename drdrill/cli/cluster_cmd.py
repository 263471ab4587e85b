"""`drdrill cluster up|down|status|kubeconfig`: rehearse the cluster step by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drdrill.engine.cluster_ops import cluster_down, cluster_status, cluster_up, saved_cluster
from drdrill.engine.context import DrillContext, RunOptions
from drdrill.scenario import load_scenario
from drdrill.scenario.models import Provider

app = typer.Typer(help="Bring a drill's cluster up and down by hand.", no_args_is_help=True)
ScenarioArg = Annotated[Path, typer.Argument(help="Scenario file (kind: Drill).")]
ProviderOpt = Annotated[Provider | None, typer.Option(help="Override spec.cluster.provider.")]


AllowNonEmptyOpt = Annotated[
    bool, typer.Option(help="existing provider: allow a cluster with drill objects.")
]
KubeconfigOpt = Annotated[
    Path | None, typer.Option(help="existing provider: kubeconfig (before KUBECONFIG).")
]


def _context(scenario: Path, options: RunOptions | None = None) -> DrillContext:
    return DrillContext(scenario=load_scenario(scenario), options=options or RunOptions())


@app.command("up")
def up(scenario: ScenarioArg, provider: ProviderOpt = None,
       allow_non_empty: AllowNonEmptyOpt = False,
       kubeconfig: KubeconfigOpt = None) -> None:
    """Start the scenario's cluster and keep it; prints its kubeconfig path."""
    options = RunOptions(provider=provider, allow_non_empty=allow_non_empty,
                         kubeconfig=kubeconfig)
    info = cluster_up(_context(scenario, options))
    typer.echo(str(info.kubeconfig))


@app.command("down")
def down(scenario: ScenarioArg) -> None:
    """Stop what `cluster up` (or `run --keep-cluster`) started."""
    typer.echo(cluster_down(_context(scenario)))


@app.command("status")
def status(scenario: ScenarioArg) -> None:
    """Is the scenario's cluster up, and are its nodes Ready?"""
    typer.echo(cluster_status(_context(scenario)))


@app.command("kubeconfig")
def kubeconfig(scenario: ScenarioArg) -> None:
    """Print the kubeconfig path of the scenario's running cluster."""
    typer.echo(str(saved_cluster(_context(scenario)).kubeconfig))
