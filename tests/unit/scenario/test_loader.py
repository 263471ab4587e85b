"""Every kind of bad scenario input is one clear BadInputError naming the file and the field."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from drdrill.errors import BadInputError, ExitCode
from drdrill.scenario import load_scenario
from drdrill.scenario.models import Provider
from tests.unit.scenario.samples import valid_data, valid_text


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "drill.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def mutated(change: Callable[[dict[str, Any]], None]) -> str:
    data = valid_data()
    change(data)
    return yaml.safe_dump(data, sort_keys=False)


def test_valid_scenario_loads_with_its_source(tmp_path: Path) -> None:
    path = write(tmp_path, valid_text())
    scenario = load_scenario(path)
    assert scenario.name == "ml-platform"
    assert scenario.spec.cluster.provider is Provider.KWOK
    assert scenario.spec.cluster.node_pools[0].gpus == 4
    assert scenario.source == path.resolve()
    assert scenario.resolve_path("./platform") == (tmp_path / "platform").resolve()


BAD_TEXT = {
    "empty": ("", "empty"),
    "blank": ("   \n\n", "empty"),
    "not-yaml": ("spec: [unclosed\n  - x", "not valid YAML"),
    "top-is-list": ("- a\n- b\n", "top level must be a mapping"),
    "top-is-scalar": ("just text\n", "top level must be a mapping"),
    "duplicate-key": (valid_text() + "kind: Drill\n", "duplicate key 'kind'"),
    "nested-duplicate": (
        "apiVersion: drdrill/v1alpha1\nkind: Drill\nmetadata:\n  name: a\n  name: b\n",
        "duplicate key 'name'",
    ),
    "not-utf8": (b"\xff\xfe\x00bad", "not UTF-8"),
}


@pytest.mark.parametrize(("text", "expected"), BAD_TEXT.values(), ids=BAD_TEXT.keys())
def test_bad_text_is_refused(tmp_path: Path, text: str | bytes, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(BadInputError, match=expected) as caught:
        load_scenario(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code is ExitCode.BAD_INPUT


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


BAD_FIELDS = {
    "wrong-apiversion": (_set("apiVersion", "drdrill/v2"), "apiVersion"),
    "wrong-kind": (_set("kind", "Deployment"), "kind"),
    "unknown-top": (_set("extra", 1), "extra: Extra inputs are not permitted"),
    "unknown-deep": (_set("spec.cluster.nodePools.0.gpuz", 1), "nodePools[0].gpuz"),
    "wrong-type": (_set("spec.cluster.nodePools.0.count", "two"), "nodePools[0].count"),
    "float-count": (_set("spec.cluster.nodePools.0.count", 1.5), "nodePools[0].count"),
    "zero-nodes": (_set("spec.cluster.nodePools.0.count", 0), "nodePools[0]"),
    "negative-gpus": (_set("spec.cluster.nodePools.0.gpus", -1), "nodePools[0].gpus"),
    "unknown-provider": (_set("spec.cluster.provider", "docker"), "spec.cluster.provider"),
    "rto-no-unit": (_set("spec.sla.rto", "90"), "spec.sla.rto"),
    "rto-number": (_set("spec.sla.rto", 90), "spec.sla.rto"),
    "rto-zero": (_set("spec.sla.rto", "0s"), "greater than zero"),
    "rto-negative": (_set("spec.sla.rto", "-5m"), "spec.sla.rto"),
    "phase-budget-bad": (_set("spec.sla.phases.cluster", "2 weeks"), "spec.sla.phases.cluster"),
    "name-slash": (_set("metadata.name", "a/b"), "metadata.name"),
    "name-dotdot": (_set("metadata.name", ".."), "metadata.name"),
    "name-space": (_set("metadata.name", "my drill"), "metadata.name"),
    "name-upper": (_set("metadata.name", "Drill"), "metadata.name"),
    "two-refs": (_set("spec.gitops.ref", {"branch": "a", "tag": "b"}), "spec.gitops.ref"),
    "repo-bad-url": (_set("spec.gitops.repository", {"url": "file:///x"}), "repository"),
    "existing-without-context": (_set("spec.cluster.provider", "existing"), "context"),
    "sample-without-size": (
        _set("spec.backups.sets.0.verify", {"mode": "sample"}), "spec.backups.sets[0].verify"
    ),
    "version-as-float": (_set("spec.gitops.version", 2.7), "spec.gitops.version"),
}


@pytest.mark.parametrize(("change", "field"), BAD_FIELDS.values(), ids=BAD_FIELDS.keys())
def test_bad_field_names_the_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], field: str
) -> None:
    path = write(tmp_path, mutated(change))
    with pytest.raises(BadInputError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert field in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such file"):
        load_scenario(tmp_path / "nope.yaml")


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="is a directory"):
        load_scenario(tmp_path)


def test_file_over_one_mib_is_refused_without_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, valid_text() + "#" * (1024 * 1024))
    with pytest.raises(BadInputError, match="larger than 1 MiB"):
        load_scenario(path)


BOMB = """\
a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_is_refused_without_expanding(tmp_path: Path) -> None:
    path = write(tmp_path, BOMB)
    started = time.process_time()
    with pytest.raises(BadInputError, match="alias bomb"):
        load_scenario(path)
    # Not a performance assertion: expanding 10^9 nodes would not return at all.
    assert time.process_time() - started < 30


def test_small_aliases_are_allowed(tmp_path: Path) -> None:
    text = valid_text().replace("labels:\n", "labels: &labels\n", 1)
    path = write(tmp_path, text)
    assert load_scenario(path).name == "ml-platform"
