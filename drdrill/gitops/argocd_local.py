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
from pathlib import Path
from typing import Any

import structlog

from drdrill.errors import InfrastructureError
from drdrill.gitops.local_controllers import LocalControllers
from drdrill.kubeapi import new_api_client
from drdrill.ports import LOOPBACK, free_port
from drdrill.proc import Command, interrupts_held
from drdrill.testbed import testbed_binary, testbed_dir
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)

KNOWN_HOSTS_CONFIGMAP = "argocd-ssh-known-hosts-cm"
TLS_CERTS_CONFIGMAP = "argocd-tls-certs-cm"


class LocalArgoCD(LocalControllers):
    """Argo CD's application-controller, repo-server and Redis as local processes."""

    started_event = "argo cd component started"

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


def start_local_argocd(*, kubeconfig: Path, namespace: str, deadline: Deadline,
                       app_resync_seconds: int = 180) -> LocalArgoCD:
    """Start Redis, the repo-server, the application-controller and the ApplicationSet
    controller and wait until each reports ready; stop all on any failure. The CRDs and
    ConfigMaps (the bootstrap script's) must be there already."""
    argocd = LocalArgoCD()
    try:
        with interrupts_held():  # the folder and its owner recorded as one step
            argocd.workdir = workdir = Path(tempfile.mkdtemp(prefix="drdrill-argocd-"))
        api = new_api_client(kubeconfig=kubeconfig)
        try:
            mounted = _write_mounted_config(api, namespace=namespace, workdir=workdir)
        finally:
            api.close()
        for folder in ("home", "tmp", "redis"):
            (workdir / folder).mkdir()
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
        # Where the servers the later components talk to listen, as their last start chose.
        serving: dict[str, int] = {}

        def redis() -> tuple[Command, str]:
            serving["redis"] = port = free_port()
            return Command((
                str(testbed_binary("redis-server")), "--bind", LOOPBACK, "--port", str(port),
                "--save", "", "--appendonly", "no", "--protected-mode", "yes",
                "--dir", str(workdir / "redis"),
            ), env=env, log_file=workdir / "redis-server.log"), f"redis://{port}"

        def repo_server() -> tuple[Command, str]:
            serving["repo"] = port = free_port()
            metrics = free_port()
            return Command((
                str(testbed_binary("argocd-repo-server")),
                f"--address={LOOPBACK}", f"--port={port}",
                f"--metrics-address={LOOPBACK}", f"--metrics-port={metrics}",
                f"--redis={LOOPBACK}:{serving['redis']}", "--disable-tls", "--logformat=text",
            ), env=env, log_file=workdir / "argocd-repo-server.log"), (
                f"http://{LOOPBACK}:{metrics}/healthz")

        def application_controller() -> tuple[Command, str]:
            metrics = free_port()
            return Command((
                str(testbed_binary("argocd-application-controller")),
                f"--kubeconfig={kubeconfig}", f"--namespace={namespace}",
                f"--repo-server={LOOPBACK}:{serving['repo']}", "--repo-server-plaintext",
                f"--redis={LOOPBACK}:{serving['redis']}", f"--metrics-port={metrics}",
                f"--app-resync={app_resync_seconds}", "--logformat=text",
                # Argo CD v3 keeps resource health in Redis only; in the Application, a
                # Degraded verdict can name the resources that caused it.
                "--persist-resource-health=true",
            ), env=env, log_file=workdir / "argocd-application-controller.log"), (
                f"http://{LOOPBACK}:{metrics}/healthz")

        def applicationset_controller() -> tuple[Command, str]:
            metrics, probe, webhook = free_port(), free_port(), free_port()
            return Command((
                str(testbed_binary("argocd-applicationset-controller")),
                f"--kubeconfig={kubeconfig}", f"--namespace={namespace}",
                f"--argocd-repo-server={LOOPBACK}:{serving['repo']}", "--repo-server-plaintext",
                f"--metrics-addr={LOOPBACK}:{metrics}",
                f"--probe-addr={LOOPBACK}:{probe}",
                f"--webhook-addr={LOOPBACK}:{webhook}",
                # generators that call SCM provider APIs reach outside the drill: off
                "--enable-scm-providers=false", "--logformat=text",
            ), env=env, log_file=workdir / "argocd-applicationset-controller.log"), (
                f"http://{LOOPBACK}:{metrics}/metrics")

        argocd.start(redis, deadline=deadline.sooner(30))
        argocd.start(repo_server, deadline=deadline.sooner(60))
        argocd.start(application_controller, deadline=deadline.sooner(90))
        # ApplicationSets in Git generate Applications only with their own controller.
        argocd.start(applicationset_controller, deadline=deadline.sooner(60))
    except BaseException:
        argocd.stop()
        raise
    return argocd
