"""Scenario fuzzing with hypothesis: whatever the file holds, loading it ends in a valid drill
or one BadInputError of one line, never another exception; through the CLI, exit 2 and one
line on stderr, never a traceback."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drdrill.errors import BadInputError
from drdrill.scenario import load_scenario
from drdrill.scenario.models import Scenario
from tests.unit.scenario.samples import valid_data

ROOT = Path(__file__).resolve().parents[3]
HOSTILE_TEXT = st.sampled_from([
    "", " ", "\x00", "\u202e", "../../etc/passwd", "<script>alert(1)</script>", "[x](javascript:1)",
    "-1", "1e309", "NaN", "0", "9" * 400, "\ud800".encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace"), "https://u:p@h/x.git", "s3://b/k", "1.30", "yes", "~", "*", "&a",
    "{{ x }}", "%s%n", "\r\n", "a" * 5000,
])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40), HOSTILE_TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.text(max_size=12), HOSTILE_TEXT),
                                            inner, max_size=4)),
    max_leaves=12,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> Any:
    """The valid sample with one to three of its nodes replaced, removed or added to."""
    data: Any = copy.deepcopy(valid_data())
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        replacement = draw(VALUES)
        if not path:
            data = replacement
            continue
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace" or not isinstance(parent, dict | list):
            parent[path[-1]] = replacement
        elif action == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = replacement
        else:
            parent.append(replacement)
    return data


def _check_load(path: Path) -> None:
    try:
        scenario = load_scenario(path)
    except BadInputError as err:
        message = str(err)
        assert message and "\n" not in message, message
        assert message.startswith(str(path)), message
    else:
        assert isinstance(scenario, Scenario)


FUZZ = settings(max_examples=int(os.environ.get("DRDRILL_FUZZ_EXAMPLES", "300")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=mutated_scenarios())
def test_mutated_scenarios_load_or_fail_in_one_line(tmp_path_factory: Any, data: Any) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "drill.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    _check_load(path)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300),
                     st.builds(lambda a, b: a + b, st.just(yaml.safe_dump(valid_data())),
                               st.text(max_size=80))))
def test_arbitrary_bytes_load_or_fail_in_one_line(tmp_path_factory: Any, raw: Any) -> None:
    path = tmp_path_factory.mktemp("raw") / "drill.yaml"
    if isinstance(raw, bytes):
        path.write_bytes(raw)
    else:
        path.write_text(raw, errors="surrogateescape")
    _check_load(path)


@settings(max_examples=int(os.environ.get("DRDRILL_FUZZ_CLI_EXAMPLES", "12")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=mutated_scenarios())
def test_the_cli_exits_2_with_one_line_or_accepts(tmp_path_factory: Any, data: Any) -> None:
    path = tmp_path_factory.mktemp("cli") / "drill.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    result = subprocess.run([sys.executable, "-m", "drdrill", "validate", str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        assert result.stdout.startswith("ok: ")
    else:
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


HOSTILE_YAML = {
    "deep-lists": "[" * 3000 + "]" * 3000,
    "deep-maps": "a: " + "{b: " * 3000 + "1" + "}" * 3000,
    "deep-block": "- " * 3000 + "x",
    "complex-key": "? [a]\n: b\n",
    "flow-complex-key": "{[1, 2]: 3}",
    "python-tag": "!!python/object/apply:os.system ['true']",
    "binary": "a: !!binary AAAA",
    "recursive-alias": "&a [*a]",
}


@pytest.mark.parametrize("text", HOSTILE_YAML.values(), ids=HOSTILE_YAML.keys())
def test_hostile_yaml_is_one_line_of_bad_input(tmp_path: Path, text: str) -> None:
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    _check_load(path)
