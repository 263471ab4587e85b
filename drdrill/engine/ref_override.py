"""`drdrill run --ref tag=v1.4.0|commit=<sha>|branch=<name>`: drill exactly what a release
pipeline ships, whatever ref the scenario file names; the report records the override."""

from __future__ import annotations

import re

from pydantic import ValidationError

from drdrill.errors import BadInputError
from drdrill.scenario.models import GitRef, Scenario

_KINDS = ("tag", "commit", "branch")
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}$")
# What `git check-ref-format` refuses, in short: no spaces or controls, no `..`, no `~^:?*[\`,
# no leading `-` or `/`, no `@{`, no trailing `.lock`, `/` or `.`.
_BAD_NAME = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|^[-/]|/$|\.$|\.lock$|//")


def parse_ref_override(text: str) -> GitRef:
    """`tag=v1.4.0` -> GitRef(tag="v1.4.0"); anything else is bad input (exit 2)."""
    kind, sep, value = text.partition("=")
    kind = kind.strip()
    if not sep or kind not in _KINDS or not value:
        raise BadInputError(
            f"--ref {text!r}: expected tag=<tag>, commit=<sha> or branch=<name>")
    if kind == "commit" and not _COMMIT.match(value):
        raise BadInputError(f"--ref {text!r}: a commit is 7 to 64 hexadecimal digits")
    if kind != "commit" and _BAD_NAME.search(value):
        raise BadInputError(f"--ref {text!r}: not a valid Git {kind} name")
    try:
        return GitRef.model_validate({kind: value})
    except ValidationError as err:
        raise BadInputError(f"--ref {text!r}: {err.errors()[0]['msg']}") from None


def with_ref(scenario: Scenario, ref: GitRef) -> Scenario:
    """The same scenario drilling `ref` instead of `spec.gitops.ref`."""
    if scenario.spec.gitops is None:
        raise BadInputError("--ref: the scenario has no spec.gitops to take a ref from")
    gitops = scenario.spec.gitops.model_copy(update={"ref": ref})
    spec = scenario.spec.model_copy(update={"gitops": gitops})
    changed = scenario.model_copy(update={"spec": spec})
    return changed.with_source(scenario.source) if scenario.source else changed
