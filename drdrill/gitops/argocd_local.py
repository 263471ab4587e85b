"""Run the real Argo CD application-controller, repo-server and ApplicationSet controller, and
Redis, as local processes.

On kwok the pods of an installed Argo CD are only simulated, so nothing would ever sync; the
test bed's `argocd` multi-call binary runs here instead (its name picks the component), against
the same apiserver, with Debian's redis-server as its cache and the test bed's helm and
kustomize on the repo-server's PATH. Every server binds 127.0.0.1 on a free port.

The controller treats `https://kubernetes.default.svc` (the in-cluster destination) as the
cluster its own kubeconfig names, so Applications written for a real cluster work unchanged.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from drdrill.errors import InfrastructureError
from drdrill.gitops.local_controllers import LocalControllers
from drdrill.kubeapi import new_api_client
from drdrill.ports import LOOPBACK, free_port, port_open, wait_http_ok
from drdrill.proc import Command, start_process
from drdrill.testbed import testbed_binary, testbed_dir
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)

KNOWN_HOSTS_CONFIGMAP = "argocd-ssh-known-hosts-cm"
TLS_CERTS_CONFIGMAP = "argocd-tls-certs-cm"


class LocalArgoCD(LocalControllers):
    """Argo CD's application-controller, repo-server and Redis as local processes."""

    def resident_memory(self) -> dict[str, int]:
        """Resident set size in bytes of each live component (and its children), by name."""
        sizes: dict[str, int] = {}
        for process in self.processes:
            name = Path(process.command.argv[0]).name
            sizes[name] = _group_rss(process.pid)
        return sizes



def _group_rss(pgid: int) -> int:
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return total


def _configmap_data(api_client: Any, *, namespace: str, name: str) -> dict[str, str]:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        found = client.CoreV1Api(api_client).read_namespaced_config_map(
            name, namespace, _request_timeout=15)
    except ApiException as err:
        if err.status == 404:
            return {}
        raise InfrastructureError(f"reading ConfigMap {namespace}/{name}: {err.status} "
                                  f"{err.reason}") from err
    return dict(found.data or {})


def _write_mounted_config(api_client: Any, *, namespace: str, workdir: Path) -> dict[str, str]:
    """In a cluster, the repo-server gets known_hosts and TLS certificates from ConfigMaps
    mounted as files; here they are written to the folders its environment names."""
    ssh, tls = workdir / "ssh", workdir / "tls"
    ssh.mkdir()
    tls.mkdir()
    hosts = _configmap_data(api_client, namespace=namespace, name=KNOWN_HOSTS_CONFIGMAP)
    (ssh / "ssh_known_hosts").write_text(hosts.get("ssh_known_hosts", ""))
    for server, cert in _configmap_data(api_client, namespace=namespace,
                                        name=TLS_CERTS_CONFIGMAP).items():
        if "/" not in server and not server.startswith("."):
            (tls / server).write_text(cert)
    return {"ARGOCD_SSH_DATA_PATH": str(ssh), "ARGOCD_TLS_DATA_PATH": str(tls)}


def _start(argocd: LocalArgoCD, command: Command, *, ready: str, deadline: Deadline) -> None:
    process = start_process(command)
    argocd.processes.append(process)
    log.info("argo cd component started", component=command.describe(), pid=process.pid)
    if ready.startswith("http"):
        ok = wait_http_ok(ready, deadline=deadline)
    else:
        port = int(ready)
        while not (ok := port_open(port)) and not deadline.expired() and process.alive():
            time.sleep(0.05)
    if not ok:
        tail = process.log_tail(5).replace("\n", " | ")
        raise InfrastructureError(
            f"{command.describe()} did not become ready (exit code {process.popen.poll()}): "
            f"{tail[-400:]}"
        )


def start_local_argocd(*, kubeconfig: Path, namespace: str, deadline: Deadline,
                       app_resync_seconds: int = 180) -> LocalArgoCD:
    """Start Redis, the repo-server, the application-controller and the ApplicationSet
    controller and wait until each reports ready; stop all on any failure. The CRDs and
    ConfigMaps (the bootstrap script's) must be there already."""
    workdir = Path(tempfile.mkdtemp(prefix="drdrill-argocd-"))
    argocd = LocalArgoCD(workdir=workdir)
    try:
        api = new_api_client(kubeconfig=kubeconfig)
        try:
            mounted = _write_mounted_config(api, namespace=namespace, workdir=workdir)
        finally:
            api.close()
        for folder in ("home", "tmp", "redis"):
            (workdir / folder).mkdir()
        redis, repo, repo_metrics, metrics = free_port(), free_port(), free_port(), free_port()
        appset_metrics, appset_probe, appset_webhook = free_port(), free_port(), free_port()
        tools = testbed_dir() / "bin"
        env = {
            "KUBECONFIG": str(kubeconfig),
            "HOME": str(workdir / "home"),
            "TMPDIR": str(workdir / "tmp"),
            "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "ARGOCD_GPG_ENABLED": "false",
            # The in-cluster destination is the cluster KUBECONFIG names (Argo CD's own switch
            # for running outside a pod, as `argocd admin` and the headless CLI use it).
            "ARGOCD_FAKE_IN_CLUSTER": "true",
            # Its default is a fixed /tmp path: two drills side by side would share it.
            "ARGOCD_ASK_PASS_SOCK": str(workdir / "askpass.sock"),
            **mounted,
        }
        _start(argocd, Command((
            str(testbed_binary("redis-server")), "--bind", LOOPBACK, "--port", str(redis),
            "--save", "", "--appendonly", "no", "--protected-mode", "yes",
            "--dir", str(workdir / "redis"),
        ), env=env, log_file=workdir / "redis-server.log"), ready=str(redis),
            deadline=deadline.sooner(30))
        _start(argocd, Command((
            str(testbed_binary("argocd-repo-server")),
            f"--address={LOOPBACK}", f"--port={repo}",
            f"--metrics-address={LOOPBACK}", f"--metrics-port={repo_metrics}",
            f"--redis={LOOPBACK}:{redis}", "--disable-tls", "--logformat=text",
        ), env=env, log_file=workdir / "argocd-repo-server.log"),
            ready=f"http://{LOOPBACK}:{repo_metrics}/healthz", deadline=deadline.sooner(60))
        _start(argocd, Command((
            str(testbed_binary("argocd-application-controller")),
            f"--kubeconfig={kubeconfig}", f"--namespace={namespace}",
            f"--repo-server={LOOPBACK}:{repo}", "--repo-server-plaintext",
            f"--redis={LOOPBACK}:{redis}", f"--metrics-port={metrics}",
            f"--app-resync={app_resync_seconds}", "--logformat=text",
            # Argo CD v3 keeps resource health in Redis only; in the Application, a Degraded
            # verdict can name the resources that caused it.
            "--persist-resource-health=true",
        ), env=env, log_file=workdir / "argocd-application-controller.log"),
            ready=f"http://{LOOPBACK}:{metrics}/healthz", deadline=deadline.sooner(90))
        # ApplicationSets in Git generate Applications only with their own controller.
        _start(argocd, Command((
            str(testbed_binary("argocd-applicationset-controller")),
            f"--kubeconfig={kubeconfig}", f"--namespace={namespace}",
            f"--argocd-repo-server={LOOPBACK}:{repo}", "--repo-server-plaintext",
            f"--metrics-addr={LOOPBACK}:{appset_metrics}",
            f"--probe-addr={LOOPBACK}:{appset_probe}",
            f"--webhook-addr={LOOPBACK}:{appset_webhook}",
            # generators that call SCM provider APIs reach outside the drill: off
            "--enable-scm-providers=false", "--logformat=text",
        ), env=env, log_file=workdir / "argocd-applicationset-controller.log"),
            ready=f"http://{LOOPBACK}:{appset_metrics}/metrics", deadline=deadline.sooner(60))
    except BaseException:
        argocd.stop()
        raise
    return argocd
