"""The local default: a real control plane from the test bed, run by kwokctl's binary runtime.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the real programs, run
as local processes bound to 127.0.0.1; the kwok controller plays the kubelet for simulated
nodes, so scheduling (GPU capacity, taints) is real and pods progress through the stages in
`stages/` (readiness delay from the scenario; faults on demand). The status of ML custom
resources, whose operators cannot run here, comes from drdrill's simulated operator
(`simulator.py`), which the drill starts with `start_simulation`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import structlog
import yaml

from drdrill.clusters.base import ClusterInfo, GitOpsPlacement
from drdrill.clusters.nodes import create_nodes, wait_nodes_ready
from drdrill.clusters.simulator import KwokSimulator
from drdrill.clusters.state import forget_state, save_state
from drdrill.errors import BadInputError, DrdrillError, InfrastructureError
from drdrill.kubeapi import create_if_absent, new_api_client
from drdrill.ports import LOOPBACK, PORT_ATTEMPTS, ensure_free, free_port, says_port_taken
from drdrill.proc import (
    Command,
    ManagedProcess,
    interrupts_held,
    log_tail,
    run_streaming,
    start_process,
    stop_process_group,
)
from drdrill.scenario.models import KwokSettings, NodePool
from drdrill.testbed import pinned_versions, testbed_binary
from drdrill.timing import Deadline, format_duration, parse_duration

log = structlog.get_logger(__name__)

STAGE_FILES = ("nodes.yaml", "pods.yaml", "pod-faults.yaml")
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


# One watch per simulated kind whose CRD is installed, the CRD watch and the writes.
SIMULATOR_CONNECTIONS = 24


def simulation_description(settings: KwokSettings) -> str:
    """One sentence for the report: what on kwok was not real."""
    jitter = f" (plus up to {settings.readiness_jitter} of jitter)" if (
        settings.readiness_jitter) else ""
    return (
        "kwok simulated the nodes and every pod's lifecycle: a scheduled pod turned Ready "
        f"{settings.readiness_delay} after it started{jitter}, whatever its image, probes or "
        "configuration; drdrill's simulated operator wrote the status of the ML custom "
        "resources listed, checking only that their pods would fit on a node."
    )


def cluster_name(drill: str) -> str:
    return f"drdrill-{drill}"[:40].rstrip("-")


def load_stages(settings: KwokSettings) -> list[dict[str, Any]]:
    """The packaged stages, with the scenario's readiness delay and jitter filled in."""
    delay_ms = int(parse_duration(settings.readiness_delay) * 1000)
    jitter_ms = int(parse_duration(settings.readiness_jitter) * 1000) if (
        settings.readiness_jitter) else 0
    stages: list[dict[str, Any]] = []
    folder = resources.files("drdrill.clusters") / "stages"
    for file in STAGE_FILES:
        for stage in yaml.safe_load_all(folder.joinpath(file).read_text(encoding="utf-8")):
            annotations = stage["metadata"].pop("annotations", {}) or {}
            if annotations.get("drdrill.dev/delay") == "readiness":
                delay = stage["spec"].setdefault("delay", {})
                delay["durationMilliseconds"] = delay_ms
                # Jitter is how long past the delay a pod may become ready at most.
                if jitter_ms:
                    delay["jitterDurationMilliseconds"] = delay_ms + jitter_ms
            stages.append(stage)
    return stages


@dataclass(frozen=True)
class KwokPorts:
    apiserver: int
    etcd: int
    etcd_peer: int
    controller_manager: int
    scheduler: int
    kwok: int

    @classmethod
    def pick(cls, apiserver: int | None = None) -> KwokPorts:
        if apiserver is not None:
            ensure_free(apiserver, what="kube-apiserver")
        return cls(apiserver or free_port(), free_port(), free_port(), free_port(), free_port(),
                   free_port())


def kwokctl_configuration(*, ports: KwokPorts, binaries: dict[str, str]) -> dict[str, Any]:
    """kwokctl's --config document."""
    options = {
        "runtime": "binary",
        "bindAddress": LOOPBACK,
        "kubeApiserverPort": ports.apiserver,
        "etcdPort": ports.etcd,
        "etcdPeerPort": ports.etcd_peer,
        "kubeControllerManagerPort": ports.controller_manager,
        "kubeSchedulerPort": ports.scheduler,
        "kwokControllerPort": ports.kwok,
        "etcdBinary": binaries["etcd"],
        "kubeApiserverBinary": binaries["kube-apiserver"],
        "kubeControllerManagerBinary": binaries["kube-controller-manager"],
        "kubeSchedulerBinary": binaries["kube-scheduler"],
        "kwokControllerBinary": binaries["kwok"],
        "kubectlBinary": binaries["kubectl"],
        "kubeVersion": pinned_versions().get("KUBERNETES_VERSION", ""),
        "etcdVersion": pinned_versions().get("ETCD_VERSION", ""),
        "disableQPSLimits": True,
        # Stages as objects in the cluster (drdrill applies its node and pod stages after
        # start), not kwokctl's defaults. Custom resources get no stages: kwok would start
        # their controllers only for CRDs that exist at that moment (see simulator.py).
        "enableCRDs": ["Stage"],
    }
    return {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": options,
    }


STAGE_API = ("kwok.x-k8s.io", "v1alpha1", "stages")


def apply_stages(api_client: Any, *, stages: list[dict[str, Any]], deadline: Deadline) -> None:
    """Create kwok's Stages; a restarting apiserver is asked again until `deadline`."""
    from kubernetes import client

    custom = client.CustomObjectsApi(api_client)
    for stage in stages:
        def create(body: dict[str, Any] = stage) -> Any:
            return custom.create_cluster_custom_object(*STAGE_API, body, _request_timeout=15)

        create_if_absent(create, what=f"kwok stage {stage['metadata']['name']}",
                         deadline=deadline)


@dataclass(frozen=True)
class KwokCluster:
    drill: str
    settings: KwokSettings
    pools: tuple[NodePool, ...]
    apiserver_port: int | None = None

    @property
    def name(self) -> str:
        return "kwok"

    def describe(self) -> list[str]:
        nodes = ", ".join(
            f"{pool.count}x {pool.name} ({pool.cpu} CPU, {pool.memory}"
            + (f", {pool.gpus} GPU" if pool.gpus else "") + ")"
            for pool in self.pools
        )
        return [
            f"local control plane {cluster_name(self.drill)} (etcd, kube-apiserver, "
            "controller-manager, scheduler, kwok) on 127.0.0.1",
            f"simulated nodes: {nodes}",
            f"pods Ready after {self.settings.readiness_delay}",
            "simulated status for ML custom resources (KServe, Kubeflow, KubeRay, Argo) whose "
            "pods would fit on a node; the rest stall for lack of capacity",
        ]

    def gitops_placement(self, *, info: ClusterInfo) -> GitOpsPlacement:
        # pods are simulated: the test bed's controllers run as local processes
        return GitOpsPlacement(controllers_in_cluster=False, serve_host="127.0.0.1")

    def start_simulation(self, *, info: ClusterInfo) -> KwokSimulator:
        """The simulated operator, watching the cluster until its `stop` is called."""
        delay = parse_duration(self.settings.readiness_delay)
        jitter = parse_duration(self.settings.readiness_jitter) if (
            self.settings.readiness_jitter) else 0.0
        simulator = KwokSimulator(
            api_client=new_api_client(kubeconfig=info.kubeconfig, context=info.context,
                                      connections=SIMULATOR_CONNECTIONS),
            pools=self.pools, readiness_delay=delay, readiness_jitter=jitter,
            description=simulation_description(self.settings), owns_client=True,
        )
        simulator.start()
        return simulator

    def _workdir_env(self, workdir: Path) -> dict[str, str]:
        return {"KWOK_WORKDIR": str(workdir)}

    def create(self, *, deadline: Deadline) -> ClusterInfo:
        """Start the control plane and the nodes; a start in which a component lost its port
        to another process is undone and tried again on fresh ports."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                return self._create_once(deadline=deadline)
            except _PortTaken as err:
                if attempt == PORT_ATTEMPTS:
                    raise
                log.warning("a port was taken before its component bound it; starting the "
                            "local cluster again", attempt=attempt, error=str(err))
        raise AssertionError("unreachable")  # pragma: no cover

    def _create_once(self, *, deadline: Deadline) -> ClusterInfo:
        binaries = {name: str(testbed_binary(name)) for name in (*COMPONENTS, "kubectl")}
        kwokctl = testbed_binary("kwokctl")
        ports = KwokPorts.pick(self.apiserver_port)
        name = cluster_name(self.drill)
        info: ClusterInfo | None = None
        try:
            # The folder and the record of it in one step: an interrupt waits for both.
            with interrupts_held():
                workdir = Path(tempfile.mkdtemp(prefix=f"drdrill-kwok-{self.drill}-"))
                info = ClusterInfo(
                    name=self.drill, provider="kwok",
                    kubeconfig=workdir / "clusters" / name / "kubeconfig.yaml",
                    workdir=workdir, server=f"https://{LOOPBACK}:{ports.apiserver}",
                    components={k: v for k, v in pinned_versions().items()
                                if k.endswith("_VERSION")},
                )
            config_file = workdir / "kwokctl.yaml"
            config_file.write_text(yaml.safe_dump(
                kwokctl_configuration(ports=ports, binaries=binaries), sort_keys=False
            ))
            # Saved before any component starts: should drdrill die before its cleanup ends
            # (SIGKILL, a crash), `drdrill cluster down` still finds and stops what it began.
            save_state(info)
            self._create(kwokctl, config_file, name, workdir, deadline)
            api = new_api_client(kubeconfig=info.kubeconfig)
            try:
                apply_stages(api, stages=load_stages(self.settings), deadline=deadline)
                create_nodes(api, pools=self.pools, deadline=deadline)
                wait_nodes_ready(api, expected=sum(p.count for p in self.pools),
                                 deadline=deadline)
            finally:
                api.close()
        except BaseException:
            if info is not None:
                self.delete(info)
            raise
        return info

    def _create(self, kwokctl: Path, config: Path, name: str, workdir: Path,
                deadline: Deadline) -> None:
        """Run `kwokctl create cluster`, ending early when a component it started has died:
        kwokctl itself would wait for a crashed kube-apiserver until its --wait runs out."""
        wait = max(5, int(deadline.remaining()) - 5)
        command = Command(
            (str(kwokctl), "--config", str(config), "create", "cluster", "--name", name,
             "--runtime", "binary", "--wait", f"{wait}s",
             # Empty: otherwise kwokctl adds (and on delete removes) a context in the user's
             # ~/.kube/config or $KUBECONFIG, and may change its current context.
             "--kubeconfig", ""),
            env=self._workdir_env(workdir), log_file=workdir / "kwokctl.log",
        )
        started = time.monotonic()
        dead: list[str] = []
        process: ManagedProcess | None = None
        try:
            # The child and its handle in one step: an interrupt waits until it can be stopped.
            with interrupts_held():
                process = start_process(command)
            while process.alive() and not deadline.expired():
                dead = [component for component, pid in component_pids_by_name(workdir, name)
                        if not _runs_from(pid, workdir)]
                if dead:
                    break
                time.sleep(0.1)
        finally:
            if process is not None and process.alive():
                process.stop(grace=2.0)
        exit_code = process.popen.returncode
        log.debug("kwokctl create", exit_code=exit_code, output=process.log_tail(40))
        if exit_code == 0 and not dead:
            return
        logs = workdir / "clusters" / name / "logs"
        # The log of the component that died (the apiserver's when nothing died first).
        culprit = next((c for c in dead if c != "kube-apiserver"), "kube-apiserver")
        if dead:
            why = f"{', '.join(dead)} exited during start-up"
        elif deadline.expired():
            why = "timed out after " + format_duration(time.monotonic() - started)
        else:
            output = [line for line in process.log_tail(3).splitlines() if line.strip()]
            why = f"kwokctl exited {exit_code}: " + " | ".join(output)
        tail = log_tail(logs / f"{culprit}.log", 4).replace("\n", " | ")
        message = f"local cluster did not start ({why}); {culprit} log: {tail[-600:] or 'empty'}"
        lost_port = [log_file.stem for log_file in sorted(logs.glob("*.log"))
                     if says_port_taken(log_tail(log_file, 40))]
        if lost_port:
            raise _PortTaken(f"{message} ({', '.join(lost_port)}: address already in use)")
        raise InfrastructureError(message)

    def delete(self, info: ClusterInfo) -> None:
        for pgid in info.process_groups:
            stop_process_group(pgid)
        workdir = info.workdir
        if workdir is None or not workdir.exists():
            forget_state(info.name)
            return
        name = cluster_name(info.name)
        # Read the pids first: `kwokctl delete` removes the pid files, and it only signals the
        # components without waiting for them to exit.
        pids = component_pids(workdir, name)
        try:
            kwokctl = testbed_binary("kwokctl")
            run_streaming(
                Command((str(kwokctl), "delete", "cluster", "--name", name),
                        env=self._workdir_env(workdir)),
                deadline=Deadline.after(60), on_line=lambda line: log.debug("kwokctl", line=line),
            )
        except DrdrillError as err:
            log.warning("kwokctl delete failed; stopping components by pid", error=str(err))
        # Whatever kwokctl did, every component it started is gone before we return, stopped
        # by the pid it recorded (each runs in its own process group).
        for pid in pids:
            if _runs_from(pid, workdir):
                stop_process_group(pid)
        _wait_threads_gone(pids, deadline=Deadline.after(10))
        shutil.rmtree(workdir, ignore_errors=True)
        forget_state(info.name)  # `create` saved it before the first component started


class _PortTaken(InfrastructureError):
    """A component could not bind the port picked for it: something took it meanwhile."""


def component_pids(workdir: Path, name: str) -> list[int]:
    """The pids kwokctl recorded for the cluster's components."""
    return [pid for _, pid in component_pids_by_name(workdir, name)]


def component_pids_by_name(workdir: Path, name: str) -> list[tuple[str, int]]:
    pids = []
    for pid_file in sorted((workdir / "clusters" / name / "pids").glob("*.pid")):
        try:
            pids.append((pid_file.stem, int(pid_file.read_text().strip())))
        except (OSError, ValueError):
            continue  # not written completely yet
    return pids


def _runs_from(pid: int, workdir: Path) -> bool:
    """True while `pid` is still one of this cluster's components (not a reused pid)."""
    if not Path("/proc/self").is_dir():
        return True  # no /proc to tell by (macOS): stopping by the recorded pid is the safer side
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return str(workdir).encode() in cmdline


def _threads_gone(pid: int) -> bool:
    """True once no thread of `pid` runs. A Go program's main thread can be a zombie while its
    other threads still exit, and they keep its listening sockets open until they are done."""
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return True
    for thread in threads:
        try:
            stat = (thread / "stat").read_text()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2 :].split()[0] not in ("Z", "X"):
            return False
    return True


def _wait_threads_gone(pids: list[int], *, deadline: Deadline) -> None:
    waiting = list(pids)
    while waiting and not deadline.expired():
        waiting = [pid for pid in waiting if not _threads_gone(pid)]
        if waiting:
            time.sleep(0.05)
    if waiting:
        log.warning("cluster processes still exiting", pids=waiting)


def kwok_from_environment() -> int | None:
    """An explicit apiserver port from DRDRILL_KWOK_APISERVER_PORT (for fixed-port setups)."""
    value = os.environ.get("DRDRILL_KWOK_APISERVER_PORT")
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise BadInputError(f"DRDRILL_KWOK_APISERVER_PORT={value!r}: not a TCP port number")
    return int(value)
