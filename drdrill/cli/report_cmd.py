"""`drdrill report show`: render a past report.json in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from drdrill.report.terminal import render_terminal
from drdrill.report.writer import load_report

app = typer.Typer(help="Look at past reports.", no_args_is_help=True)


@app.command("show")
def show(
    path: Annotated[Path, typer.Argument(help="report.json, a report folder or `latest`.")],
) -> None:
    """Render a past report in the terminal."""
    render_terminal(load_report(path), Console())
