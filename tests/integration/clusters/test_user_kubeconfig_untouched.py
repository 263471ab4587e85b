"""A local drill cluster never touches the user's kubeconfig (kwokctl would, by default)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.unit.scenario.samples import valid_text


def test_cluster_up_and_down_leave_the_users_kubeconfig_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    user_config = home / ".kube" / "config"
    original = "apiVersion: v1\nkind: Config\ncurrent-context: production\ncontexts: []\n"
    user_config.write_text(original)
    other = tmp_path / "other-kubeconfig"
    other.write_text(original)
    scenario = tmp_path / "drill.yaml"
    scenario.write_text(valid_text().replace("name: ml-platform", "name: kubeconfig-safety"))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "KUBECONFIG": str(other),
           "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CACHE_HOME": str(Path.home() / ".cache")}
    for name in ("DRDRILL_TESTBED_DIR", "DRDRILL_TESTBED_CACHE"):
        if name in os.environ:
            env[name] = os.environ[name]
    for command in ("up", "down"):
        done = subprocess.run([sys.executable, "-m", "drdrill", "cluster", command, str(scenario)],
                              env=env, capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stderr[-1500:]
    assert user_config.read_text() == original
    assert other.read_text() == original
