"""`pipx install` of the built wheel works: the app's own virtual environment under a private
PIPX_HOME finds the pins and the bootstrap scripts as package data (`drdrill version`, `plan`),
and nothing is written to the user's pipx home or ~/.local/bin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str, cwd: Path, env: dict[str, str],
        timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_pipx_install_of_the_wheel(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PIPX_")}
    env |= {"PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin"),
            "PIPX_MAN_DIR": str(tmp_path / "man"), "HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                str(tmp_path / "dist"), str(ROOT), cwd=tmp_path, env=env)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("drdrill-*.whl"))

    installed = run(sys.executable, "-m", "pipx", "install", str(wheel), cwd=tmp_path, env=env)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-3000:]
    drdrill = tmp_path / "bin" / "drdrill"
    assert drdrill.exists(), installed.stdout

    version = run(str(drdrill), "version", "--json", cwd=tmp_path, env=env)
    assert version.returncode == 0, version.stderr
    info = json.loads(version.stdout)
    assert info["components"]["kubernetes"].startswith("v1.")
    assert {"flux/v2.7", "argocd/v3.1"} <= set(info["bootstrapScripts"])

    app_python = tmp_path / "pipx" / "venvs" / "drdrill" / "bin" / "python"
    where = run(str(app_python), "-c",
                "import drdrill.gitops.bootstrap as b; "
                "print(b.find_script(engine='flux', version='v2.7'))", cwd=tmp_path, env=env)
    assert where.returncode == 0, where.stderr
    script = Path(where.stdout.strip())
    assert script.is_relative_to(tmp_path / "pipx" / "venvs" / "drdrill"), script
    assert not script.is_symlink() and script.read_text().startswith("#!")

    plan = run(str(drdrill), "plan", str(ROOT / "scenarios" / "demo.yaml"), cwd=tmp_path,
               env=env)
    assert plan.returncode == 0, plan.stderr
    assert "bootstrap" in plan.stdout and "flux" in plan.stdout
    assert not (tmp_path / "home" / ".local" / "bin" / "drdrill").exists()
