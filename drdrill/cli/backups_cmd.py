"""`drdrill backups ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="backups commands.", no_args_is_help=True)
