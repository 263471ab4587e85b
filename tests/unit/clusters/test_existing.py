"""The existing-cluster provider: kubeconfig precedence like kubectl, and clear refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from drdrill.clusters.existing import ExistingCluster, resolve_kubeconfig
from drdrill.errors import BadInputError, ExitCode, exit_code_for
from drdrill.timing import Deadline


def write_kubeconfig(path: Path, *contexts: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": c, "cluster": {"server": "https://127.0.0.1:1"}} for c in contexts],
        "users": [{"name": c, "user": {}} for c in contexts],
        "contexts": [{"name": c, "context": {"cluster": c, "user": c}} for c in contexts],
        "current-context": contexts[0] if contexts else "",
    }))
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def resolve(*, context: str, home: Path, flag: Path | None = None,
            scenario: Path | None = None, kubeconfig_env: str | None = None) -> Path:
    environ = {"HOME": str(home)}
    if kubeconfig_env is not None:
        environ["KUBECONFIG"] = kubeconfig_env
    return resolve_kubeconfig(flag=flag, scenario_path=scenario, context=context,
                              environ=environ)


def test_flag_wins_over_everything(tmp_path: Path, home: Path) -> None:
    flag = write_kubeconfig(tmp_path / "flag", "drill")
    scenario = write_kubeconfig(tmp_path / "scenario", "drill")
    env = write_kubeconfig(tmp_path / "env", "drill")
    write_kubeconfig(home / ".kube" / "config", "drill")
    assert resolve(context="drill", home=home, flag=flag, scenario=scenario,
                   kubeconfig_env=str(env)) == flag


def test_flag_without_the_context_is_not_rescued_by_other_files(
    tmp_path: Path, home: Path
) -> None:
    flag = write_kubeconfig(tmp_path / "flag", "other")
    env = write_kubeconfig(tmp_path / "env", "drill")
    with pytest.raises(BadInputError, match=r"'drill' is not in kubeconfig .*flag"):
        resolve(context="drill", home=home, flag=flag, kubeconfig_env=str(env))


def test_scenario_path_comes_next(tmp_path: Path, home: Path) -> None:
    scenario = write_kubeconfig(tmp_path / "scenario", "drill")
    env = write_kubeconfig(tmp_path / "env", "drill")
    assert resolve(context="drill", home=home, scenario=scenario,
                   kubeconfig_env=str(env)) == scenario


def test_first_kubeconfig_entry_having_the_context_wins(tmp_path: Path, home: Path) -> None:
    missing = tmp_path / "missing"
    without = write_kubeconfig(tmp_path / "a", "prod")
    first = write_kubeconfig(tmp_path / "b", "prod", "drill")
    second = write_kubeconfig(tmp_path / "c", "drill")
    write_kubeconfig(home / ".kube" / "config", "drill")
    listed = os.pathsep.join(str(p) for p in (missing, without, first, second))
    assert resolve(context="drill", home=home, kubeconfig_env=listed) == first
    assert resolve(context="prod", home=home, kubeconfig_env=listed) == without


def test_home_kube_config_is_the_last_resort(tmp_path: Path, home: Path) -> None:
    default = write_kubeconfig(home / ".kube" / "config", "drill")
    assert resolve(context="drill", home=home) == default
    assert resolve(context="drill", home=home, kubeconfig_env="") == default


def test_kubeconfig_env_set_means_home_config_is_not_read(tmp_path: Path, home: Path) -> None:
    write_kubeconfig(home / ".kube" / "config", "drill")
    env = write_kubeconfig(tmp_path / "env", "other")
    with pytest.raises(BadInputError, match="'drill'"):
        resolve(context="drill", home=home, kubeconfig_env=str(env))


def test_missing_kubeconfig_is_bad_input_exit_2(tmp_path: Path, home: Path) -> None:
    with pytest.raises(BadInputError, match="kubeconfig not found") as caught:
        resolve(context="drill", home=home, flag=tmp_path / "nope")
    assert exit_code_for(caught.value) == ExitCode.BAD_INPUT
    with pytest.raises(BadInputError, match="kubeconfig not found"):
        resolve(context="drill", home=home)


def test_absent_context_names_the_context(tmp_path: Path, home: Path) -> None:
    env = write_kubeconfig(tmp_path / "env", "staging", "prod")
    with pytest.raises(BadInputError, match="'drill-ctx-7' is not in kubeconfig") as caught:
        resolve(context="drill-ctx-7", home=home, kubeconfig_env=str(env))
    assert str(env) in str(caught.value)
    assert exit_code_for(caught.value) == ExitCode.BAD_INPUT


def test_invalid_yaml_kubeconfig_is_bad_input(tmp_path: Path, home: Path) -> None:
    broken = tmp_path / "broken"
    broken.write_text("contexts: [\n")
    with pytest.raises(BadInputError, match="not valid YAML"):
        resolve(context="drill", home=home, flag=broken)


def test_provider_create_with_missing_kubeconfig_starts_nothing(tmp_path: Path) -> None:
    provider = ExistingCluster(drill="d", context="drill", kubeconfig_flag=tmp_path / "none",
                               kubeconfig_in_scenario=None, allow_non_empty=False)
    with pytest.raises(BadInputError, match="kubeconfig not found"):
        provider.create(deadline=Deadline.after(5))
    assert "teardown removes only what the drill created" in provider.describe()[0]
