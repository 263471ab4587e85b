"""`drdrill version`: drdrill's version, the test-bed components it pins, its bootstrap scripts.

What an installed drdrill carries (a wheel holds the pins and scripts as package data), so a
report's numbers can be traced to exact component versions.
"""

from __future__ import annotations

import json
import platform
from typing import Annotated

import typer

from drdrill import __version__
from drdrill.gitops.bootstrap import BOOTSTRAP_ROOT
from drdrill.scenario.models import API_VERSION
from drdrill.testbed import pinned_versions


def _scripts() -> list[str]:
    return sorted(f"{p.parent.parent.name}/{p.parent.name}"
                  for p in BOOTSTRAP_ROOT.glob("*/*/bootstrap.sh"))


def version(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Print drdrill's version and the versions of the components it pins."""
    pins = {key.removesuffix("_VERSION").lower().replace("_", "-"): value
            for key, value in pinned_versions().items()
            if key.endswith("_VERSION") and key != "GO_MIN_VERSION"}
    if as_json:
        typer.echo(json.dumps({"drdrill": __version__, "scenarioApiVersion": API_VERSION,
                               "python": platform.python_version(), "components": pins,
                               "bootstrapScripts": _scripts()}, indent=2))
        return
    typer.echo(f"drdrill {__version__} (scenarios {API_VERSION}, Python "
               f"{platform.python_version()})")
    width = max(map(len, pins), default=0)
    for name, value in pins.items():
        typer.echo(f"  {name:<{width}}  {value}")
    typer.echo(f"bootstrap scripts: {', '.join(_scripts()) or 'none'}")
