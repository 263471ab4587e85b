"""Restore a backup set into the cluster: a Job running drdrill's own image pulls every object
of the set into a fresh PersistentVolumeClaim and verifies it there, as a real recovery puts
model weights next to the servers that load them.

The Job runs `drdrill backups verify` on a one-set scenario (a ConfigMap) with `verify: full`,
so the bytes in the claim pass the same checks as the host restore (size and sha256 against
the manifest, hostile keys refused, O_EXCL files); its last stdout line is a JSON result
(`RESULT_PREFIX`), which this module reads back from the pod's log. Credentials reach the pod
only through a Secret (copied from what drdrill uses, or named by the scenario) or a service
account; they are never in the ConfigMap, a log or the report.

On a cluster whose pods are simulated (kwok) the objects are created (the API server judges
them) but nothing runs: the result says so and carries no verdict.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog

from drdrill.errors import InfrastructureError
from drdrill.kubeapi import call_with_retries
from drdrill.logs import describe_exception, redact_text, register_secret
from drdrill.results import InClusterRestoreResult
from drdrill.scenario.models import BackupSet, InClusterRestore, S3Settings
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)

RESULT_PREFIX = "drdrill-result: "
MANAGED_BY = {"app.kubernetes.io/managed-by": "drdrill"}
UID = 10001  # the user drdrill's image runs as
MIN_CLAIM_BYTES = 1 << 30
# Waiting reasons after which the pod will not start by itself.
_STUCK = {"ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError",
          "CreateContainerError"}
_PULL = {"ErrImagePull", "ImagePullBackOff"}
_PULL_GRACE_SECONDS = 60.0


def job_name(set_name: str) -> str:
    """The Job, claim, ConfigMap (and copied Secret) of one set's in-cluster restore."""
    return f"drdrill-restore-{set_name}"[:63].rstrip("-")


def default_image() -> str:
    from drdrill import __version__

    return f"drdrill:{__version__}"


def claim_size(spec: InClusterRestore, set_bytes: int) -> str:
    """The scenario's size, else the set's bytes + 25% (at least 1Gi), in Mi."""
    if spec.size:
        return spec.size
    wanted = max(MIN_CLAIM_BYTES, int(set_bytes * 1.25))
    return f"{math.ceil(wanted / (1 << 20))}Mi"


def is_loopback_url(url: str | None) -> bool:
    host = urlsplit(url).hostname if url else None
    return host in {"127.0.0.1", "localhost", "::1"} or bool(host and host.startswith("127."))


def with_host(url: str, host: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{host}:{port}", parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class InClusterPlan:
    """Everything the Job needs, decided before anything is created."""

    drill: str
    backup_set: BackupSet
    spec: InClusterRestore
    s3: S3Settings
    # The endpoint as the pods reach it (after any relay), and the CA bundle's text.
    endpoint_url: str | None
    ca_bundle_pem: str | None
    set_bytes: int
    budget_seconds: float
    rpo: str | None = None

    @property
    def name(self) -> str:
        return job_name(self.backup_set.name)

    @property
    def image(self) -> str:
        return self.spec.image or default_image()

    @property
    def secret_name(self) -> str | None:
        if self.spec.credentials_secret:
            return self.spec.credentials_secret
        return None if self.spec.service_account_name else self.name

    def pod_scenario(self) -> dict[str, Any]:
        """The one-set drill the pod runs: the whole set, verified, with the pod's endpoint."""
        s3: dict[str, Any] = {
            "region": self.s3.region, "addressingStyle": self.s3.addressing_style,
            "verifyTls": self.s3.verify_tls,
            "checksumWhenRequired": self.s3.checksum_when_required,
            "maxConcurrency": self.s3.max_concurrency,
        }
        if self.endpoint_url:
            s3["endpointUrl"] = self.endpoint_url
        if self.ca_bundle_pem:
            s3["caBundle"] = "/config/ca.pem"
        backup: dict[str, Any] = {
            "name": self.backup_set.name, "bucket": self.backup_set.bucket,
            "prefix": self.backup_set.prefix, "holds": self.backup_set.holds,
            "verify": {"mode": "full"},
        }
        if self.backup_set.manifest_key:
            backup["manifestKey"] = self.backup_set.manifest_key
        if self.rpo:
            backup["rpo"] = self.rpo
        return {
            "apiVersion": "drdrill/v1alpha1", "kind": "Drill",
            "metadata": {"name": f"{self.drill}-in-cluster"[:63].rstrip("-")},
            "spec": {
                "backups": {"s3": s3, "sets": [backup], "checkGitReferences": False},
                "sla": {"rto": f"{max(60, int(self.budget_seconds))}s"},
            },
        }

    def objects(self) -> list[dict[str, Any]]:
        """ConfigMap, claim and Job (the Secret is made apart: its values are secret)."""
        labels = {**MANAGED_BY, "drdrill.dev/drill": self.drill[:63],
                  "drdrill.dev/backup-set": self.backup_set.name}
        meta = {"name": self.name, "namespace": self.spec.namespace, "labels": labels}
        data = {"scenario.yaml": json.dumps(self.pod_scenario(), indent=2)}
        if self.ca_bundle_pem:
            data["ca.pem"] = self.ca_bundle_pem
        claim_spec: dict[str, Any] = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": claim_size(self.spec, self.set_bytes)}},
        }
        if self.spec.storage_class_name:
            claim_spec["storageClassName"] = self.spec.storage_class_name
        container: dict[str, Any] = {
            "name": "restore", "image": self.image, "imagePullPolicy": "IfNotPresent",
            "args": ["--log-format", "json", "backups", "verify", "/config/scenario.yaml",
                     "--restore-dir", f"/restore/{self.backup_set.name}",
                     "--report-dir", "/tmp/reports", "--result-line"],
            "env": [{"name": "DRDRILL_NO_LIVE", "value": "1"}],
            "volumeMounts": [{"name": "config", "mountPath": "/config", "readOnly": True},
                             {"name": "restore", "mountPath": "/restore"},
                             {"name": "tmp", "mountPath": "/tmp"}],
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]}},
        }
        if self.secret_name:
            container["envFrom"] = [{"secretRef": {"name": self.secret_name}}]
        pod_spec: dict[str, Any] = {
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID,
                                "fsGroup": UID, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
            "volumes": [{"name": "config", "configMap": {"name": self.name}},
                        {"name": "restore", "persistentVolumeClaim": {"claimName": self.name}},
                        {"name": "tmp", "emptyDir": {}}],
        }
        if self.spec.service_account_name:
            pod_spec["serviceAccountName"] = self.spec.service_account_name
        job = {
            "apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": {"backoffLimit": 0,
                     "activeDeadlineSeconds": max(30, int(self.budget_seconds)),
                     "template": {"metadata": {"labels": labels}, "spec": pod_spec}},
        }
        return [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data},
            {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
             "spec": claim_spec},
            job,
        ]


def parse_result_line(log_text: str) -> dict[str, Any] | None:
    """The pod's last result line, or None when it wrote none (it died first)."""
    for line in reversed(log_text.splitlines()):
        if line.startswith(RESULT_PREFIX):
            try:
                value = json.loads(line[len(RESULT_PREFIX):])
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def result_line(report_backups: list[Any]) -> str:
    """What `drdrill backups verify --result-line` prints last (plain data only)."""
    sets = []
    for result in report_backups:
        first = result.failures[0] if result.failures else None
        sets.append({
            "name": result.name, "verified": result.verified,
            "objects": result.objects_checked, "bytes": result.bytes_checked,
            "restoreSeconds": result.restore_seconds,
            "problems": len(result.failures),
            "firstProblem": (f"{first.key + ': ' if first.key else ''}{first.problem}"
                             if first else None),
        })
    return RESULT_PREFIX + json.dumps({"sets": sets}, separators=(",", ":"))


class InClusterRestoreJob:
    """Creates the objects of one plan, waits for the Job, reads its result, deletes it all."""

    def __init__(self, api_client: Any, plan: InClusterPlan) -> None:
        from kubernetes import client

        self.plan = plan
        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.created: list[tuple[str, str]] = []
        self.namespace_created = False

    def create(self, *, credentials: dict[str, str] | None, deadline: Deadline) -> None:
        from kubernetes.client.exceptions import ApiException

        ns = self.plan.spec.namespace
        mine = {**MANAGED_BY, "drdrill.dev/drill": self.plan.drill[:63]}
        body = {"metadata": {"name": ns, "labels": mine}}
        try:  # not read first: kubeapi retries a 404 (a CRD served late) until the deadline
            call_with_retries(lambda: self.core.create_namespace(body), deadline=deadline)
            self.namespace_created = True
        except ApiException as err:
            if err.status != 409:  # 409: it exists (the user's, or an earlier set's)
                raise InfrastructureError(f"cannot create namespace {ns} for the in-cluster "
                                          f"restore: {err.status} {_status_message(err)}"
                                          ) from err
            # a create retried after its answer was lost lands here too: labelled by this
            # drill, the namespace is the drill's and goes at teardown
            existing = call_with_retries(lambda: self.core.read_namespace(ns),
                                         deadline=deadline)
            labels = (existing.metadata.labels or {}) if existing.metadata else {}
            self.namespace_created = all(labels.get(k) == v for k, v in mine.items())
        if credentials and self.plan.secret_name and not self.plan.spec.credentials_secret:
            for value in credentials.values():
                register_secret(value)
            secret = {"metadata": {"name": self.plan.secret_name, "namespace": ns,
                                   "labels": MANAGED_BY},
                      "type": "Opaque", "stringData": credentials}
            self._create("Secret", lambda: self.core.create_namespaced_secret(ns, secret),
                         deadline)
        for obj in self.plan.objects():
            kind = obj["kind"]
            call = {
                "ConfigMap": lambda o=obj: self.core.create_namespaced_config_map(ns, o),
                "PersistentVolumeClaim":
                    lambda o=obj: self.core.create_namespaced_persistent_volume_claim(ns, o),
                "Job": lambda o=obj: self.batch.create_namespaced_job(ns, o),
            }[kind]
            self._create(kind, call, deadline)

    def _create(self, kind: str, call: Any, deadline: Deadline) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            call_with_retries(call, deadline=deadline)
        except ApiException as err:
            message = _status_message(err)
            raise InfrastructureError(
                f"the cluster refused the in-cluster restore's {kind} "
                f"{self.plan.spec.namespace}/{self.plan.name}: {err.status} {message}") from err
        self.created.append((kind, self.plan.name if kind != "Secret" else
                             str(self.plan.secret_name)))

    def wait(self, *, deadline: Deadline, poll: float = 1.0) -> InClusterRestoreResult:
        """Until the Job's pod ended (its result read) or will not start, or the deadline."""
        started = time.monotonic()
        ns, name = self.plan.spec.namespace, self.plan.name
        pulling_since: float | None = None
        last_state = "the Job was created"
        while True:
            job = call_with_retries(lambda: self.batch.read_namespaced_job(name, ns),
                                    deadline=deadline)
            status = job.status
            pod = self._pod(deadline)
            if status and (status.succeeded or status.failed):
                return self._finished(pod, started=started, deadline=deadline)
            if pod is not None:
                waiting = _waiting(pod)
                if waiting and waiting[0] in _STUCK:
                    return self._result(False, started,
                                        f"the restore pod cannot start: {waiting[0]}: "
                                        f"{waiting[1]}")
                if waiting and waiting[0] in _PULL:
                    pulling_since = pulling_since or time.monotonic()
                    if time.monotonic() - pulling_since > _PULL_GRACE_SECONDS:
                        return self._result(False, started,
                                            f"image {self.plan.image} cannot be pulled: "
                                            f"{waiting[0]}: {waiting[1]}")
                else:
                    pulling_since = None
                last_state = _describe_pod(pod)
            if deadline.expired():
                return self._result(False, started, "the in-cluster restore did not end "
                                    f"within the phase budget ({last_state}; claim "
                                    f"{self._claim_phase()})")
            time.sleep(min(poll, max(0.05, deadline.remaining())))

    def _finished(self, pod: Any, *, started: float, deadline: Deadline) -> InClusterRestoreResult:
        seconds = time.monotonic() - started
        text = ""
        if pod is not None:
            try:
                # raw bytes: the client's own decoding turns a log of JSON lines into the
                # repr of a bytes object
                raw = call_with_retries(lambda: self.core.read_namespaced_pod_log(
                    pod.metadata.name, self.plan.spec.namespace, container="restore",
                    tail_lines=400, _preload_content=False),
                    deadline=Deadline.after(max(10.0, deadline.remaining())))
                text = raw.data.decode("utf-8", errors="replace")
            except Exception as err:  # the result is then missing, said below
                log.warning("in-cluster restore: cannot read the pod's log",
                            error=describe_exception(err))
        found = parse_result_line(text or "")
        sets = found.get("sets") if found else None
        mine = next((s for s in sets or [] if isinstance(s, dict)
                     and s.get("name") == self.plan.backup_set.name), None)
        if mine is None:
            tail = " | ".join(redact_text(line) for line in (text or "").splitlines()[-3:])
            return self._result(False, started, "the restore pod ended without a result "
                                f"({_describe_pod(pod) if pod is not None else 'no pod'}): "
                                f"{tail or 'no log'}", seconds=seconds)
        objects, size = int(mine.get("objects") or 0), int(mine.get("bytes") or 0)
        verified = bool(mine.get("verified"))
        message = "" if verified else redact_text(str(
            mine.get("firstProblem") or "not verified in the cluster"))
        problems = int(mine.get("problems") or 0)
        if not verified and problems:
            message = f"{problems} problem(s), first: {message}"
        transfer = mine.get("restoreSeconds")
        return self._result(verified, started, message, seconds=seconds, objects=objects,
                            size=size, transfer=float(transfer) if isinstance(
                                transfer, int | float) else None)

    def _result(self, verified: bool, started: float, message: str, *,
                seconds: float | None = None, objects: int = 0, size: int = 0,
                transfer: float | None = None) -> InClusterRestoreResult:
        elapsed = time.monotonic() - started if seconds is None else seconds
        return InClusterRestoreResult(
            namespace=self.plan.spec.namespace, job=self.plan.name, claim=self.plan.name,
            image=self.plan.image, verified=verified, objects=objects, bytes=size,
            seconds=round(elapsed, 3), transfer_seconds=transfer,
            bytes_per_second=(round(size / transfer, 1) if verified and transfer else None),
            message=message)

    def _pod(self, deadline: Deadline) -> Any:
        pods = call_with_retries(lambda: self.core.list_namespaced_pod(
            self.plan.spec.namespace, label_selector=f"job-name={self.plan.name}"),
            deadline=deadline)
        items = sorted(pods.items or [], key=lambda p: p.metadata.creation_timestamp or 0)
        return items[-1] if items else None

    def _claim_phase(self) -> str:
        try:
            claim = self.core.read_namespaced_persistent_volume_claim(
                self.plan.name, self.plan.spec.namespace, _request_timeout=5)
        except Exception:
            return "unknown"
        return str(getattr(claim.status, "phase", None) or "unknown")

    def delete(self) -> list[str]:
        """Delete what was created (the Job's pods with it); returns what could not be."""
        from kubernetes.client.exceptions import ApiException

        ns = self.plan.spec.namespace
        left: list[str] = []
        calls = {
            "Job": lambda n: self.batch.delete_namespaced_job(
                n, ns, propagation_policy="Foreground", _request_timeout=10),
            "PersistentVolumeClaim": lambda n: (
                self.core.delete_namespaced_persistent_volume_claim(n, ns, _request_timeout=10)),
            "ConfigMap": lambda n: self.core.delete_namespaced_config_map(
                n, ns, _request_timeout=10),
            "Secret": lambda n: self.core.delete_namespaced_secret(n, ns, _request_timeout=10),
        }
        targets = [(kind, name) for kind, name in reversed(self.created)]
        if self.namespace_created:  # everything inside goes with it
            targets = [("Namespace", ns)]
            calls["Namespace"] = lambda n: self.core.delete_namespace(n, _request_timeout=10)
        for kind, name in targets:
            try:
                calls[kind](name)
            except ApiException as err:
                if err.status != 404:
                    left.append(f"{kind} {ns}/{name} ({err.status})")
            except Exception as err:
                left.append(f"{kind} {ns}/{name} ({describe_exception(err)})")
        return left


def simulated_result(plan: InClusterPlan) -> InClusterRestoreResult:
    return InClusterRestoreResult(
        namespace=plan.spec.namespace, job=plan.name, claim=plan.name, image=plan.image,
        simulated=True, verified=None,
        message="simulated: this cluster's pods do not run (kwok), so nothing was pulled "
                "into the claim; the API server accepted the Job and the claim, and the bytes "
                "were verified by the host restore only")


def _waiting(pod: Any) -> tuple[str, str] | None:
    for status in (pod.status.container_statuses or []) if pod.status else []:
        waiting = status.state.waiting if status.state else None
        if waiting and waiting.reason:
            return str(waiting.reason), redact_text(str(waiting.message or ""))
    return None


def _describe_pod(pod: Any) -> str:
    phase = pod.status.phase if pod.status else None
    waiting = _waiting(pod)
    if waiting:
        return f"pod {pod.metadata.name} {phase}, {waiting[0]}"
    for cond in (pod.status.conditions or []) if pod.status else []:
        if cond.type == "PodScheduled" and cond.status != "True":
            return f"pod {pod.metadata.name} not scheduled: {cond.message or cond.reason}"
    return f"pod {pod.metadata.name} {phase}"


def _status_message(err: Any) -> str:
    try:
        body = json.loads(err.body or "{}")
    except ValueError:
        return str(err.reason)
    return redact_text(str(body.get("message") or err.reason))


def read_ca_bundle(path: Path | None) -> str | None:
    return path.read_text(encoding="utf-8") if path else None
