"""What `drdrill run` checks about the repository before any budget is spent (no cluster)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from drdrill.engine.phases.bootstrap import check_gitops, inspect_gitops
from drdrill.gitops.layout import UnhandledLayout
from drdrill.scenario.loader import scenario_from_data
from drdrill.scenario.models import Scenario
from tests.unit.gitops.test_layout import SYNC


def _scenario(tmp_path: Path, **gitops: Any) -> Scenario:
    data = {"apiVersion": "drdrill/v1alpha1", "kind": "Drill", "metadata": {"name": "x"},
            "spec": {"gitops": {"version": "v2.7", "repository": {"path": "./fleet"},
                                "path": "./clusters/prod", **gitops},
                     "sla": {"rto": "5m"}}}
    return scenario_from_data(data, where="test").with_source(tmp_path / "drill.yaml")


def _fleet(tmp_path: Path, extra: list[dict[str, Any]] | None = None) -> Path:
    system = tmp_path / "fleet" / "clusters" / "prod" / "flux-system"
    system.mkdir(parents=True)
    (system / "gotk-sync.yaml").write_text(yaml.safe_dump_all(SYNC))
    (system / "gotk-components.yaml").write_text("kind: Namespace\n")
    if extra:
        (tmp_path / "fleet" / "clusters" / "prod" / "extra.yaml").write_text(
            yaml.safe_dump_all(extra))
    return tmp_path / "fleet"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_bootstrap_layout_of_a_git_folder_is_read_at_the_ref(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=fleet, check=True)
    subprocess.run(["git", "add", "-A"], cwd=fleet, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
                   cwd=fleet, check=True)
    (fleet / "clusters" / "prod" / "flux-system" / "gotk-sync.yaml").unlink()  # not committed
    found = inspect_gitops(_scenario(tmp_path))
    assert found is not None and found.layout.bootstrap is not None
    assert (found.namespace, found.name) == ("flux-system", "flux-system")
    missing = inspect_gitops(_scenario(tmp_path, ref={"branch": "nope"}))
    assert missing is not None and missing.layout.kind == "not read"


def test_root_name_that_contradicts_gotk_sync_is_named(tmp_path: Path) -> None:
    _fleet(tmp_path)
    with pytest.raises(UnhandledLayout, match=r"root\.name is 'platform'"):
        inspect_gitops(_scenario(tmp_path, root={"name": "platform"}))


def test_unmapped_remote_that_does_not_answer_is_named(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/team.git"
    team = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "team", "namespace": "apps"}, "spec": {"url": url}}
    _fleet(tmp_path, [team])
    with pytest.raises(UnhandledLayout) as caught:
        check_gitops(_scenario(tmp_path))
    assert f"GitRepository apps/team (clusters/prod/extra.yaml) points at {url}" in str(
        caught.value)
    mapped = _scenario(tmp_path, repositories=[
        {"name": "team", "path": "./team", "remotes": [url]}])
    assert check_gitops(mapped) is not None  # mapped: never contacted
