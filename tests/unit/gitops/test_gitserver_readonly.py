"""The drill's git server is read-only, on 127.0.0.1, at an unguessable path: real git tries."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from drdrill.gitops.gitserver import serve_repository


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"GIT_TERMINAL_PROMPT": "0", "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1",
           "PATH": "/usr/bin:/bin", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    source = tmp_path / "platform"
    source.mkdir()
    (source / "kustomization.yaml").write_text("resources: []\n")
    repository = serve_repository(source)
    yield repository
    repository.stop()


def test_clone_works_and_push_is_refused(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    parts = urlsplit(served.url)
    assert parts.hostname == "127.0.0.1"
    clone = _git("clone", "--branch", "main", served.url, "work", cwd=tmp_path)
    assert clone.returncode == 0, clone.stderr
    work = tmp_path / "work"
    (work / "evil.yaml").write_text("kind: ClusterRoleBinding\n")
    assert _git("add", ".", cwd=work).returncode == 0
    assert _git("commit", "-m", "rewrite", cwd=work).returncode == 0
    before = served.resolve(branch="main")
    push = _git("push", "origin", "HEAD:main", cwd=work)
    assert push.returncode != 0
    forced = _git("push", "--force", "origin", "HEAD:refs/heads/evil", cwd=work)
    assert forced.returncode != 0
    assert served.resolve(branch="main") == before
    assert served.resolve(branch="evil") is None


def test_receive_pack_is_not_offered(served) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{served.url}/info/refs?service=git-receive-pack", timeout=10)
    assert refused.value.code in (403, 404)


def test_the_path_is_unguessable_per_drill(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    parts = urlsplit(served.url)
    assert len(parts.path.split("/")[1]) >= 24
    assert _git("ls-remote", f"http://127.0.0.1:{parts.port}/repo.git",
                cwd=tmp_path).returncode != 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.yaml").write_text("a: 1\n")
    second = serve_repository(other)
    try:
        assert urlsplit(second.url).path != parts.path
    finally:
        second.stop()
