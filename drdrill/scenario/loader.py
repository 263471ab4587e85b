"""Read a scenario file safely: size limit, duplicate keys, alias bombs, then pydantic.

Every failure becomes a `BadInputError` whose one-line message names the file and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from drdrill.errors import BadInputError
from drdrill.scenario.models import Scenario

MAX_FILE_BYTES = 1024 * 1024
# A scenario has tens of nodes; a graph that expands past this is an alias bomb.
MAX_EXPANDED_NODES = 20_000


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                mark = key_node.start_mark
                raise BadInputError(
                    f"a mapping key must be a plain value, not a list or mapping, at line "
                    f"{mark.line + 1}, column {mark.column + 1}"
                ) from None
            if key in seen:
                mark = key_node.start_mark
                raise BadInputError(
                    f"duplicate key {key!r} at line {mark.line + 1}, column {mark.column + 1}"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Number of nodes the document would have with every alias copied; memoised per node."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # guards against recursive aliases
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(
            _expanded_size(key, memo) + _expanded_size(value, memo) for key, value in node.value
        )
    memo[id(node)] = size
    return size


def parse_yaml(text: str) -> Any:
    """Compose first (cheap even for a bomb), measure the expansion, then construct."""
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        if _expanded_size(root, {}) > MAX_EXPANDED_NODES:
            raise BadInputError(
                f"the YAML expands to more than {MAX_EXPANDED_NODES} nodes through aliases "
                "(an alias bomb?); refusing to expand it"
            )
        return loader.construct_document(root)
    finally:
        loader.dispose()


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")


def _shown_key(key: str) -> str:
    """A field name as the message shows it: plain names as they are, anything else (spaces,
    newlines, control or bidi characters, a 5,000-character key) quoted, escaped and cut."""
    if _PLAIN_KEY.match(key):
        return key
    shown = ascii(key[:60])
    return shown + ("..." if len(key) > 60 else "")


def _field_path(location: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in {"VerifyAll", "VerifySample", "full", "sample"}:
            continue  # pydantic's union-branch names are not fields of the file
        else:
            parts.append(("." if parts else "") + _shown_key(str(item)))
    return "".join(parts) or "(top level)"


def describe_validation_error(error: ValidationError) -> str:
    first = error.errors()[0]
    more = error.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    message = " ".join(ascii(message)[1:-1].split()) if not message.isprintable() else message
    return f"{_field_path(tuple(first['loc']))}: {message}{suffix}"


def scenario_from_data(data: Any, *, where: str) -> Scenario:
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise BadInputError(f"{where}: the top level must be a mapping, found {kind}")
    try:
        return Scenario.model_validate(data, by_alias=True)
    except ValidationError as err:
        raise BadInputError(f"{where}: {describe_validation_error(err)}") from err


def load_scenario(path: Path) -> Scenario:
    where = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError as err:
        raise BadInputError(f"{where}: no such file; check the path") from err
    except IsADirectoryError as err:
        raise BadInputError(f"{where}: is a directory, expected a scenario file") from err
    except OSError as err:
        raise BadInputError(f"{where}: cannot be read ({err.strerror})") from err
    if len(raw) > MAX_FILE_BYTES:
        raise BadInputError(f"{where}: larger than 1 MiB; a scenario file is a few KiB")
    if not raw.strip():
        raise BadInputError(f"{where}: the file is empty; see `drdrill schema` for the format")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadInputError(f"{where}: not UTF-8 text") from err
    try:
        data = parse_yaml(text)
    except BadInputError as err:
        raise BadInputError(f"{where}: {err}") from err
    except RecursionError as err:
        raise BadInputError(f"{where}: the YAML is nested too deeply; a scenario is a few "
                            "levels deep") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise BadInputError(f"{where}: not valid YAML{at}: {problem}") from err
    return scenario_from_data(data, where=where).with_source(path)
