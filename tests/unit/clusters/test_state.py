"""Saved cluster state: what `cluster up` writes is what `cluster down` reads back."""

from __future__ import annotations

from pathlib import Path

import pytest

from drdrill.clusters.base import ClusterInfo
from drdrill.clusters.state import (
    add_process_group,
    forget_state,
    load_state,
    save_state,
    state_file,
)
from drdrill.errors import BadInputError


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


def sample_info(tmp_path: Path) -> ClusterInfo:
    return ClusterInfo(
        name="state-roundtrip", provider="kwok", kubeconfig=tmp_path / "kubeconfig.yaml",
        context="kwok-drdrill-state-roundtrip", workdir=tmp_path / "work",
        server="https://127.0.0.1:40123", process_groups=(101, 202),
        components={"KUBERNETES_VERSION": "v1.35.4"},
    )


def test_state_lives_under_xdg_state_home(private_state: Path) -> None:
    assert state_file("x") == private_state / "drdrill" / "clusters" / "x.json"


def test_save_load_forget_roundtrip(tmp_path: Path) -> None:
    info = sample_info(tmp_path)
    path = save_state(info)
    assert path == state_file(info.name)
    assert load_state(info.name) == info
    forget_state(info.name)
    assert not path.exists()
    assert load_state(info.name) is None
    forget_state(info.name)  # twice is fine


def test_minimal_info_roundtrip(tmp_path: Path) -> None:
    info = ClusterInfo(name="minimal", provider="existing", kubeconfig=tmp_path / "k",
                       owned=False)
    save_state(info)
    assert load_state("minimal") == info


def test_added_process_groups_survive_a_save(tmp_path: Path) -> None:
    info = add_process_group(sample_info(tmp_path), 303)
    save_state(info)
    loaded = load_state(info.name)
    assert loaded is not None
    assert loaded.process_groups == (101, 202, 303)


def test_unreadable_state_is_bad_input(tmp_path: Path) -> None:
    path = state_file("broken")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(BadInputError, match="unreadable cluster state"):
        load_state("broken")
