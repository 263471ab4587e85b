"""The backups phase: prove the data comes back, and that what Git points at was backed up.

For every backup set: age of the newest backup against its RPO, then a restore of all or a
sample of its objects into a fresh scratch folder, hashed while streaming and compared with
the manifest and S3's own checksums. Then every s3:// URI in the objects the GitOps engine
applied must lie in a verified set. Restoring into the cluster (a Job writing into a PVC) is
not done here: it needs real nodes, which the default kwok cluster does not have.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import structlog

from drdrill.backups.references import find_s3_references, match_references, split_s3_uri
from drdrill.backups.restore import fresh_restore_root
from drdrill.backups.s3client import S3Endpoint, make_s3_client
from drdrill.backups.setcheck import SetCatalog, check_backup_set
from drdrill.engine.context import DrillContext
from drdrill.engine.phase import PhaseOutcome
from drdrill.errors import PhaseFailure
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
        missing = [r for r in ctx.references if not r.restorable]
        if missing:
            problems.append(f"{len(missing)} s3:// reference(s) not in a verified set "
                            f"(first: {missing[0].uri} from {missing[0].source})")
        if problems:
            raise PhaseFailure("; ".join(problems))
        where = f", restored into {root}" if root else ""
        objects = sum(r.objects_checked for r in ctx.backups)
        return PhaseOutcome.passed(
            f"{len(ctx.backups)} set(s) verified and within RPO, {objects} object(s) restored"
            f"{where}, {len(ctx.references)} reference(s) restorable"
        )
