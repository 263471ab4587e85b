"""The backups phase: prove the data comes back, and that what Git points at was backed up.

For every backup set: age of the newest backup against its RPO, then a restore of all or a
sample of its objects into a fresh scratch folder, hashed while streaming and compared with
the manifest and S3's own checksums. Then every s3:// URI in the objects the GitOps engine
applied must lie in a verified set. A set with `inCluster` is then also restored into the
cluster (a Job running drdrill's image pulls it into a fresh claim and verifies it there),
timed apart; where the provider simulates pods (kwok) its objects are created but nothing
runs, and the result says so.
"""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import structlog

from drdrill.backups.in_cluster import (
    InClusterPlan,
    InClusterRestoreJob,
    is_loopback_url,
    job_name,
    read_ca_bundle,
    simulated_result,
    with_host,
)
from drdrill.backups.references import find_s3_references, match_references, split_s3_uri
from drdrill.backups.restore import fresh_restore_root
from drdrill.backups.s3client import S3Endpoint, frozen_credentials, make_s3_client
from drdrill.backups.setcheck import SetCatalog, check_backup_set
from drdrill.engine.context import DrillContext
from drdrill.engine.phase import PhaseOutcome
from drdrill.engine.providers import provider_for_info
from drdrill.errors import BadInputError, InfrastructureError, PhaseFailure
from drdrill.kubeapi import new_api_client
from drdrill.relay import TcpRelay
from drdrill.results import BackupResult, InClusterRestoreResult
from drdrill.scenario.models import BackupSet, S3Settings, Scenario
from drdrill.timing import Deadline, format_duration, parse_duration, utc_now

log = structlog.get_logger(__name__)


def endpoint_from(settings: S3Settings, scenario: Scenario) -> S3Endpoint:
    return S3Endpoint(
        endpoint_url=settings.endpoint_url,
        region=settings.region,
        addressing_style=settings.addressing_style,
        ca_bundle=scenario.resolve_path(settings.ca_bundle) if settings.ca_bundle else None,
        verify_tls=settings.verify_tls,
        checksum_when_required=settings.checksum_when_required,
        max_concurrency=settings.max_concurrency,
    )


def _rpo_seconds(ctx: DrillContext, backup_set: BackupSet) -> float | None:
    text = backup_set.rpo or ctx.scenario.spec.sla.rpo
    return parse_duration(text) if text else None


class BackupsPhase:
    name = "backups"
    needs: tuple[str, ...] = ()

    def required(self, ctx: DrillContext) -> bool:
        return bool(ctx.scenario.spec.backups.sets or ctx.scenario.spec.sla.rpo)

    def describe(self, ctx: DrillContext) -> list[str]:
        spec = ctx.scenario.spec.backups
        if not spec.sets:
            return ["no backup sets configured: nothing to restore"]
        lines = []
        for s in spec.sets:
            rpo = _rpo_seconds(ctx, s)
            how = "all objects" if s.verify.mode == "full" else "a seeded sample"
            lines.append(
                f"check set {s.name} (s3://{s.bucket}/{s.prefix}, {s.holds}): restore {how}, "
                f"RPO {format_duration(rpo) if rpo else 'none'}"
            )
            if s.in_cluster:
                image = s.in_cluster.image or "drdrill:<version>"
                lines.append(
                    f"restore set {s.name} into the cluster too: a Job ({image}) pulls every "
                    f"object into a fresh claim in namespace {s.in_cluster.namespace} and "
                    "verifies it there (simulated on kwok)")
        if spec.check_git_references:
            lines.append("check that every s3:// URI in the applied objects is in a verified set")
        return lines

    def run(self, ctx: DrillContext, *, deadline: Deadline) -> PhaseOutcome:
        spec = ctx.scenario.spec.backups
        if not spec.sets:
            if ctx.scenario.spec.sla.rpo:
                raise PhaseFailure(
                    "spec.sla.rpo is set but spec.backups.sets is empty: nothing to measure the "
                    "RPO against; add the backup sets"
                )
            return PhaseOutcome.skipped("no backup sets configured and no RPO in the SLA")
        endpoint = endpoint_from(spec.s3, ctx.scenario)
        client = make_s3_client(endpoint=endpoint, read_timeout=min(60.0, deadline.remaining()))
        root, temporary = fresh_restore_root(ctx.options.restore_dir)
        if temporary:
            ctx.cleanup.push(f"remove restore folder {root}",
                             lambda: shutil.rmtree(root, ignore_errors=True))
        catalogs: list[SetCatalog] = []
        references = (find_s3_references(ctx.applied_objects) if spec.check_git_references
                      else [])
        for backup_set in spec.sets:
            rpo = _rpo_seconds(ctx, backup_set)
            folder = root / backup_set.name
            result, catalog = check_backup_set(
                client, backup_set=backup_set, endpoint=endpoint,
                rpo_seconds=rpo,
                folder=folder, deadline=deadline, now=utc_now(),
                referenced=[key for bucket, key in (split_s3_uri(uri) for uri, _ in references)
                            if bucket == backup_set.bucket],
                # The live view owns the terminal while it runs.
                progress_bar=not ctx.observer.owns_terminal,
            )
            ctx.backups.append(result)
            catalogs.append(catalog)
            if temporary:
                shutil.rmtree(folder, ignore_errors=True)
        if spec.check_git_references:
            ctx.references.extend(match_references(references, catalogs))
        if any(s.in_cluster for s in spec.sets):
            _restore_in_cluster(ctx, deadline=deadline)
        return self._outcome(ctx, root=root if not temporary else None)

    @staticmethod
    def _outcome(ctx: DrillContext, *, root: Path | None) -> PhaseOutcome:
        problems = []
        for result in ctx.backups:
            if not result.verified:
                first = result.failures[0] if result.failures else None
                detail = f" ({first.key + ': ' if first and first.key else ''}"
                detail += f"{first.problem})" if first else ""
                problems.append(f"set {result.name} unverified, {len(result.failures)} "
                                f"problem(s){detail}")
            if not result.rpo_met:
                age = "unknown" if result.age_seconds is None else format_duration(
                    result.age_seconds)
                budget = "none" if result.rpo_seconds is None else format_duration(
                    result.rpo_seconds)
                problems.append(f"set {result.name} breaches its RPO (age {age}, RPO {budget})")
            if result.in_cluster is not None and result.in_cluster.verified is False:
                problems.append(f"set {result.name} not restored in the cluster: "
                                f"{result.in_cluster.message}")
        missing = [r for r in ctx.references if not r.restorable]
        if missing:
            problems.append(f"{len(missing)} s3:// reference(s) not in a verified set "
                            f"(first: {missing[0].uri} from {missing[0].source})")
        if problems:
            raise PhaseFailure("; ".join(problems))
        where = f", restored into {root}" if root else ""
        objects = sum(r.objects_checked for r in ctx.backups)
        inside = [r.in_cluster for r in ctx.backups if r.in_cluster is not None]
        in_cluster = ""
        if inside:
            real = [i for i in inside if i.verified]
            in_cluster = f", {len(real)} set(s) restored and verified in the cluster" + (
                f" ({sum(i.seconds or 0 for i in real):.1f} s)" if real else "")
            if len(real) < len(inside):
                in_cluster += f", {len(inside) - len(real)} in-cluster restore(s) simulated " \
                              "or not run"
        return PhaseOutcome.passed(
            f"{len(ctx.backups)} set(s) verified and within RPO, {objects} object(s) restored"
            f"{where}, {len(ctx.references)} reference(s) restorable{in_cluster}"
        )


def _restore_in_cluster(ctx: DrillContext, *, deadline: Deadline) -> None:
    """Each set with `inCluster`, one after the other, into the drill's cluster."""
    spec = ctx.scenario.spec.backups
    info = ctx.cluster
    by_name = {r.name: i for i, r in enumerate(ctx.backups)}
    if info is None:  # `drdrill backups verify`: no cluster to restore into
        for backup_set in spec.sets:
            if backup_set.in_cluster and backup_set.name in by_name:
                _attach(ctx, by_name[backup_set.name], _not_run(
                    ctx.backups[by_name[backup_set.name]], backup_set.in_cluster.namespace,
                    "not run: no cluster (only the backups phase ran)"))
        return
    simulated = ctx.simulation is not None and ctx.simulation.snapshot().pods
    api = new_api_client(kubeconfig=info.kubeconfig, context=info.context)
    ctx.cleanup.push("close the in-cluster restore's API client", api.close)
    relays: dict[str, str] = {}
    for backup_set in spec.sets:
        inside = backup_set.in_cluster
        if inside is None or backup_set.name not in by_name:
            continue
        index = by_name[backup_set.name]
        result = ctx.backups[index]
        if not result.verified:
            _attach(ctx, index, _not_run(result, inside.namespace, "not run: the host restore "
                                         "did not verify the set"))
            continue
        endpoint_url = inside.endpoint_url or spec.s3.endpoint_url
        if endpoint_url and is_loopback_url(endpoint_url) and not simulated:
            endpoint_url = relays.get(endpoint_url) or _relay(ctx, endpoint_url, relays)
        plan = InClusterPlan(
            drill=ctx.scenario.name, backup_set=backup_set, spec=inside, s3=spec.s3,
            endpoint_url=endpoint_url,
            ca_bundle_pem=read_ca_bundle(ctx.scenario.resolve_path(spec.s3.ca_bundle)
                                         if spec.s3.ca_bundle else None),
            set_bytes=result.bytes_checked, budget_seconds=deadline.remaining(),
            rpo=backup_set.rpo or ctx.scenario.spec.sla.rpo,
        )
        job = InClusterRestoreJob(api, plan)
        ctx.cleanup.push(f"delete the in-cluster restore of set {backup_set.name}",
                         partial(_delete, job))
        copy = plan.secret_name is not None and not inside.credentials_secret and not simulated
        credentials = frozen_credentials() if copy else None
        log.info("in-cluster restore", set=backup_set.name, namespace=inside.namespace,
                 image=plan.image, simulated=simulated)
        job.create(credentials=credentials, deadline=deadline)
        _attach(ctx, index, simulated_result(plan) if simulated else job.wait(deadline=deadline))


def _relay(ctx: DrillContext, endpoint_url: str, relays: dict[str, str]) -> str:
    """A loopback S3 endpoint, relayed where the cluster's pods reach this host."""
    from urllib.parse import urlsplit

    info = ctx.cluster
    host = provider_for_info(ctx, info).gitops_placement(info=info).serve_host
    if is_loopback_url(f"http://{host}"):
        raise BadInputError(
            f"S3 endpoint {endpoint_url} is on this host's loopback, which the cluster's pods "
            "cannot reach: set inCluster.endpointUrl to an address they reach")
    parts = urlsplit(endpoint_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    relay = TcpRelay(host, (parts.hostname or "127.0.0.1", port))
    listening = relay.start()
    ctx.cleanup.push(f"stop the relay of {endpoint_url} for the cluster's pods", relay.stop)
    relays[endpoint_url] = with_host(endpoint_url, host, listening)
    log.info("S3 endpoint relayed for the cluster's pods", endpoint=endpoint_url,
             relay=relays[endpoint_url])
    return relays[endpoint_url]


def _delete(job: InClusterRestoreJob) -> None:
    left = job.delete()
    if left:
        raise InfrastructureError("in-cluster restore objects not deleted: " + ", ".join(left))


def _attach(ctx: DrillContext, index: int, inside: InClusterRestoreResult) -> None:
    ctx.backups[index] = ctx.backups[index].model_copy(update={"in_cluster": inside})


def _not_run(result: BackupResult, namespace: str, why: str) -> InClusterRestoreResult:
    name = job_name(result.name)
    return InClusterRestoreResult(namespace=namespace, job=name, claim=name, image="",
                                  verified=None, message=why)
