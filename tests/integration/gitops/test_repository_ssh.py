"""A repository over ssh: an OpenSSH server of the test's own (Debian's sshd on 127.0.0.1, a
host key and an authorized key made in the test) serves a bare repository; the scenario gives
the deploy key and the known_hosts line as secret files. The real source-controller (Go ssh)
and Argo CD's repo-server (git with OpenSSH) clone with them and check the host key; a
known_hosts line for another host key fails the drill. No key appears in any output."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from drdrill.ports import free_port, port_open
from tests.integration.gitops.drills import phase, repository_drill
from tests.integration.gitops.fleet import commit, deployment, kustomize_file, namespace, write


@dataclass(frozen=True)
class SshRepo:
    url: str
    client_key: Path
    known_hosts: Path
    other_known_hosts: Path


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "drill", "-f",
                    str(path)], check=True)
    return path.with_suffix(".pub").read_text().split()[1]


@pytest.fixture
def ssh_repo(tmp_path: Path) -> Iterator[SshRepo]:
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).is_file():
        pytest.fail("sshd is not installed: `make test` installs it (tools/debian-packages.sh)")
    work = tmp_path / "ssh"
    work.mkdir(mode=0o700)
    host = _keygen(work / "host_key")
    other = _keygen(work / "other_host_key")
    _keygen(work / "client_key")
    (work / "authorized_keys").write_text((work / "client_key.pub").read_text())
    source = tmp_path / "platform"
    folder = source / "apps" / "serving"
    write(folder, "objects.yaml", [namespace("ml-serving"), deployment("serve", "ml-serving")])
    kustomize_file(folder, ["objects.yaml"])
    commit(source)
    bare = tmp_path / "served" / "platform.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(bare)], check=True)
    port = free_port()
    (work / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {work / 'host_key'}",
        f"AuthorizedKeysFile {work / 'authorized_keys'}", f"PidFile {work / 'sshd.pid'}",
        "StrictModes no", "UsePAM no", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
        f"AllowUsers {os.environ.get('USER') or 'root'}", "LogLevel ERROR", ""]))
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
    server = subprocess.Popen([sshd, "-D", "-e", "-f", str(work / "sshd_config")],
                              stderr=(work / "sshd.log").open("w"), start_new_session=True)
    try:
        ends = time.monotonic() + 20
        while not port_open(port):
            assert server.poll() is None, (work / "sshd.log").read_text()
            assert time.monotonic() < ends, "sshd did not listen"
            time.sleep(0.1)
        (work / "known_hosts").write_text(f"[127.0.0.1]:{port} ssh-ed25519 {host}\n")
        (work / "other_known_hosts").write_text(f"[127.0.0.1]:{port} ssh-ed25519 {other}\n")
        user = os.environ.get("USER") or "root"
        yield SshRepo(f"ssh://{user}@127.0.0.1:{port}{bare}", work / "client_key",
                      work / "known_hosts", work / "other_known_hosts")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


def _drill(tmp_path: Path, repo: SshRepo, *, engine: str, known_hosts: Path
           ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    return repository_drill(tmp_path, engine=engine, url=repo.url, secret_files={
        "ssh-key": str(repo.client_key), "known-hosts": str(known_hosts)})


def _key_body(file: Path) -> str:
    lines = file.read_text().splitlines()
    return max(lines[1:-1], key=len)  # a line of the private key's base64 body


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_controllers_clone_over_ssh_with_the_deploy_key_and_known_hosts(
        tmp_path: Path, ssh_repo: SshRepo, engine: str) -> None:
    result, report, outputs = _drill(tmp_path, ssh_repo, engine=engine,
                                     known_hosts=ssh_repo.known_hosts)
    assert report.get("verdict") == "pass", (result.stderr[-3000:], report.get("phases"))
    assert _key_body(ssh_repo.client_key) not in outputs


def test_a_host_key_other_than_known_hosts_says_fails_the_drill(
        tmp_path: Path, ssh_repo: SshRepo) -> None:
    result, report, outputs = _drill(tmp_path, ssh_repo, engine="flux",
                                     known_hosts=ssh_repo.other_known_hosts)
    assert result.returncode == 1, result.stderr[-3000:]
    bootstrap = phase(report, "bootstrap")
    assert bootstrap["status"] == "failed"
    assert "knownhosts: key mismatch" in str(bootstrap["message"]), bootstrap["message"]
    assert _key_body(ssh_repo.client_key) not in outputs
