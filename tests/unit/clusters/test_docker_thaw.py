"""DockerEngine.thaw: only the named containers' frozen cgroup-v1 freezer cgroups are thawed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from drdrill.clusters.docker_engine import DockerEngine


def _freezer(root: Path, relative: str, state: str) -> Path:
    folder = root / relative
    folder.mkdir(parents=True)
    (folder / "freezer.state").write_text(state + "\n")
    return folder / "freezer.state"


def test_frozen_cgroups_of_the_named_container_are_thawed_and_no_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node, other = "a" * 64, "b" * 64
    frozen = _freezer(tmp_path, f"{node}/kubelet.slice/pod/cri-containerd-1.scope", "FROZEN")
    thawed = _freezer(tmp_path, f"{node}/kubelet.slice/pod/cri-containerd-2.scope", "THAWED")
    foreign = _freezer(tmp_path, f"{other}/x.scope", "FROZEN")
    engine = DockerEngine(host=None)

    def run(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        assert args[:3] == ("inspect", "--format", "{{.Id}}")
        return subprocess.CompletedProcess(args, 0, stdout=node + "\n", stderr="")

    monkeypatch.setattr(DockerEngine, "run", lambda self, *a, timeout=60.0: run(*a))
    done = engine.thaw(["node1"], freezer=tmp_path)
    assert done == [f"{node}/kubelet.slice/pod/cri-containerd-1.scope"]
    assert frozen.read_text() == "THAWED"
    assert thawed.read_text().strip() == "THAWED"
    assert foreign.read_text().strip() == "FROZEN"  # another container's: untouched


def test_no_cgroup_v1_freezer_means_nothing_to_do(tmp_path: Path) -> None:
    assert DockerEngine(host=None).thaw(["node1"], freezer=tmp_path / "absent") == []
