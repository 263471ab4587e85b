"""The wheel works outside the checkout: installed with pip into a fresh virtual environment,
`drdrill version`, `validate` and `plan` find the pins, bootstrap scripts, stages and
templates as package data (nothing is read from the checkout)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_wheel_in_a_clean_venv(tmp_path: Path) -> None:
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                str(tmp_path / "dist"), str(ROOT), cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("drdrill-*.whl"))
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    installed = run(str(bin_dir / "pip"), "install", "-q", str(wheel), cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-3000:]

    version = run(str(bin_dir / "drdrill"), "version", "--json", cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    info = json.loads(version.stdout)
    assert info["components"]["kubernetes"].startswith("v1.")
    assert {"flux/v2.7", "argocd/v3.1"} <= set(info["bootstrapScripts"])

    where = run(str(bin_dir / "python"), "-c",
                "import drdrill.gitops.bootstrap as b, drdrill.testbed as t; "
                "print(b.find_script(engine='flux', version='v2.7')); print(t.VERSIONS_FILE)",
                cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    for line in where.stdout.split():
        assert str(tmp_path / "venv") in line and not Path(line).is_symlink(), line

    scenario = ROOT / "scenarios" / "demo.yaml"
    validate = run(str(bin_dir / "drdrill"), "validate", str(scenario), cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr
    plan = run(str(bin_dir / "drdrill"), "plan", str(scenario), cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert "bootstrap" in plan.stdout
