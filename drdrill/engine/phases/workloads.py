"""The workloads phase: every workload that Git applied must become healthy, on one deadline.

What to wait for comes from the GitOps engine itself (Flux's Kustomization inventory, Argo
CD's Application resources), so nothing declared in Git is forgotten; the scenario narrows it
with include / exclude selectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from drdrill.engine.context import DrillContext
from drdrill.engine.events import WorkloadState
from drdrill.engine.phase import PhaseOutcome
from drdrill.engine.phases.bootstrap import explain_decryption_failure
from drdrill.errors import PhaseFailure
from drdrill.gitops.argocd_tree import ArgoRef, expand_application_tree
from drdrill.health import (
    ObjectRef,
    Selection,
    is_workload,
    wait_until_healthy,
)
from drdrill.health.closure import AppliedObject, AppliedTree, Layer, expand_applied_tree
from drdrill.health.collection import fetch_objects
from drdrill.health.custom_rules import RuleBook
from drdrill.health.pod_failures import PodPolicy
from drdrill.health.watch import MAX_NAMESPACES_PER_KIND
from drdrill.kubeapi import call_with_retries, new_api_client
from drdrill.results import LayerReady, WorkloadResult
from drdrill.scenario.models import Engine
from drdrill.timing import Deadline, parse_duration

WATCH_CONNECTIONS = 48
# Never read: secrets are not needed to judge health or find model references.
_NOT_FETCHED = {"Secret"}


def applied_refs(ctx: DrillContext, *, api: Any, deadline: Deadline) -> AppliedTree:
    """Everything Git applied, each object with the chain of GitOps objects that applied it:
    for Flux the closure of the Kustomization inventories and Helm releases under the root."""
    gitops, obj = ctx.scenario.spec.gitops, ctx.gitops_object or {}
    if gitops is not None and gitops.engine is Engine.ARGOCD:
        tree = argocd_applied_tree(api, root=obj, deadline=deadline)
    else:
        tree = expand_applied_tree(api_client=api, root=obj, root_ready_at=time.monotonic(),
                                   deadline=deadline)
    if ctx.bootstrap is not None:
        origin = ctx.clock.started_monotonic
        ctx.bootstrap = ctx.bootstrap.model_copy(update={"layers": [
            LayerReady(kind=layer.ref.kind, namespace=layer.ref.namespace, name=layer.ref.name,
                       depends_on=list(layer.depends_on), problem=layer.problem,
                       ready_after_seconds=None if layer.ready_at is None else round(
                           layer.ready_at - origin, 3))
            for layer in sorted(tree.layers, key=lambda x: (x.ready_at is None,
                                                             x.ready_at or 0.0))
        ]})
    return tree


def argocd_applied_tree(api: Any, *, root: dict[str, Any], deadline: Deadline) -> AppliedTree:
    """Argo CD: the root Application's resources, through child Applications (app of apps,
    ApplicationSets) to any depth, in the same tree shape as Flux's closure."""
    found = expand_application_tree(api_client=api, root=root, root_ready_at=time.monotonic(),
                                    deadline=deadline)

    def ref(argo: ArgoRef) -> ObjectRef:
        return ObjectRef(argo.api_version, argo.kind, argo.namespace, argo.name)

    return AppliedTree(
        objects=tuple(AppliedObject(ref(o.ref), tuple(ref(a) for a in o.appliers))
                      for o in found.objects),
        layers=tuple(Layer(ref=ref(layer.ref), appliers=tuple(ref(a) for a in layer.appliers),
                           depends_on=(), ready_at=layer.ready_at, problem=layer.problem)
                     for layer in found.layers))


def _fetch_applied(api: Any, refs: list[ObjectRef]) -> list[dict[str, Any]]:
    """The applied objects, for the `s3://` scan: one LIST per kind and namespace, or one
    across all namespaces for a kind spread over many (as the health watches do)."""
    spread: dict[tuple[str, str], set[str | None]] = {}
    for ref in refs:
        spread.setdefault((ref.api_version, ref.kind), set()).add(ref.namespace)
    wide = {key for key, namespaces in spread.items()
            if None not in namespaces and len(namespaces) > MAX_NAMESPACES_PER_KIND}
    asked = [ObjectRef(r.api_version, r.kind, None, r.name)
             if (r.api_version, r.kind) in wide else r for r in refs]
    wanted = {(r.api_version, r.kind, r.namespace, r.name) for r in refs}
    found = fetch_objects(api_client=api, refs=list(dict.fromkeys(asked)))
    return [obj for obj in found if (
        str(obj.get("apiVersion")), str(obj.get("kind")),
        (obj.get("metadata") or {}).get("namespace") or None,
        str((obj.get("metadata") or {}).get("name"))) in wanted]


def _with_chain(result: WorkloadResult, tree: AppliedTree, ref: ObjectRef) -> WorkloadResult:
    """The chain that applied it; for a layer still not ready, its controller's last failure
    (a Helm install being retried) after the reason."""
    update: dict[str, Any] = {"chain": tree.chain(ref)}
    failure = None if result.healthy else tree.last_failure(ref)
    if failure and failure not in result.reason:
        update["reason"] = f"{result.reason}; last failure: {failure}"
    return result.model_copy(update=update)


def _stopped_results(tree: AppliedTree, selection: Selection,
                     explain: Callable[[str], str | None] = lambda _: None,
                     ) -> list[WorkloadResult]:
    """Layers Flux gave up on (or that wait on one that did): their verdict is final.
    `explain` may say a controller's message in the drill's words (a decryption error)."""
    return [WorkloadResult(kind=layer.ref.kind, namespace=layer.ref.namespace,
                           name=layer.ref.name, healthy=False,
                           reason=explain(layer.problem or "") or layer.problem or "",
                           rule="argocd" if layer.ref.group == "argoproj.io" else "flux",
                           chain=layer.chain)
            for layer in tree.stopped() if selection.keeps(layer.ref)]


def _decryption_words(ctx: DrillContext) -> Callable[[str], str | None]:
    """A child Kustomization that cannot decrypt a Secret with the scenario's key: said as
    the bootstrap phase says it for the root."""
    gitops = ctx.scenario.spec.gitops
    if gitops is None or gitops.decryption is None:
        return lambda _: None
    key_file = ctx.scenario.resolve_path(gitops.decryption.key_file)
    return lambda message: explain_decryption_failure(message, key_file=key_file)


def _mark_simulated(ctx: DrillContext, results: list[WorkloadResult]) -> list[WorkloadResult]:
    """Workloads whose status drdrill's own simulation wrote say so in every report."""
    if ctx.simulation is None:
        return results
    simulated = {(r.kind, r.namespace, r.name)
                 for r in ctx.simulation.snapshot().custom_resources}
    return [r.model_copy(update={"simulated": True})
            if (r.kind, r.namespace, r.name) in simulated else r for r in results]


class WorkloadsPhase:
    name = "workloads"
    needs: tuple[str, ...] = ("bootstrap",)

    def required(self, ctx: DrillContext) -> bool:
        return True

    def describe(self, ctx: DrillContext) -> list[str]:
        spec = ctx.scenario.spec.workloads
        lines = ["follow what Git applied (Flux: the root Kustomization's inventory, the child "
                 "Kustomizations' inventories and the HelmReleases' releases, watched per kind)",
                 "wait (watches, one per kind and namespace) until every workload the GitOps "
                 "engine applied is healthy"]
        if spec.include or spec.exclude:
            lines.append(f"narrowed by {len(spec.include)} include / {len(spec.exclude)} exclude "
                         "selector(s)")
        lines.append(
            f"terminal failures end the wait early: CrashLoopBackOff after "
            f"{spec.crash_loop_restarts} restarts, ImagePullBackOff after "
            f"{spec.image_pull_attempts} failed pulls, a missing Secret/ConfigMap after "
            f"{spec.config_error_grace}, Insufficient resources unless an autoscaled pool fits"
        )
        if spec.health_rules:
            kinds = ", ".join(rule.kind for rule in spec.health_rules)
            lines.append(f"the scenario's own health rules for: {kinds}")
        return lines

    def run(self, ctx: DrillContext, *, deadline: Deadline) -> PhaseOutcome:
        spec = ctx.scenario.spec.workloads
        # The wait holds one connection per watch (a kind per namespace, and pods).
        api: Any = new_api_client(kubeconfig=ctx.cluster.kubeconfig, context=ctx.cluster.context,
                                  connections=WATCH_CONNECTIONS)
        try:
            # The closure gets the budget less a little for judging what it found.
            tree = applied_refs(ctx, api=api, deadline=deadline.sooner(
                max(1.0, deadline.remaining() - min(15.0, deadline.remaining() * 0.2))))
            refs = tree.refs()
            stopped = {layer.ref for layer in tree.stopped()}
            targets = [ref for ref in refs if is_workload(ref) and ref not in stopped
                       ] if spec.from_inventory else []
            if not targets and not stopped:
                raise PhaseFailure(
                    "the GitOps engine applied no workloads: nothing in Git to recover")
            selection = Selection(include=spec.include, exclude=spec.exclude)
            ctx.observer.workloads_waiting([
                WorkloadState(r.kind, r.namespace, r.name, "unknown", "not listed yet")
                for r in targets if selection.keeps(r)])
            outcomes = wait_until_healthy(
                api_client=api, targets=targets, deadline=deadline,
                clock_origin=ctx.clock.started_monotonic,
                selection=selection,
                on_change=lambda ref, health: ctx.observer.workload_changed(WorkloadState(
                    ref.kind, ref.namespace, ref.name, health.state.value, health.reason)),
                on_excluded=lambda ref: ctx.observer.workload_excluded(
                    ref.kind, ref.namespace, ref.name),
                rules=RuleBook(spec.health_rules),
                pod_policy=PodPolicy(
                    crash_loop_restarts=spec.crash_loop_restarts,
                    image_pull_attempts=spec.image_pull_attempts,
                    config_error_grace_seconds=parse_duration(spec.config_error_grace),
                    pools=ctx.scenario.spec.cluster.node_pools,
                ),
                stable_for=parse_duration(spec.stable_for),
            )
            finished = [_with_chain(outcome.to_result(), tree, outcome.ref)
                        for outcome in outcomes]
            ctx.workloads = (_stopped_results(tree, selection, _decryption_words(ctx))
                             + _mark_simulated(ctx, finished))
            wanted = [r for r in refs if r.kind not in _NOT_FETCHED]
            ctx.applied_objects = call_with_retries(
                lambda: _fetch_applied(api, wanted), deadline=deadline.sooner(60)
            )
        finally:
            api.close()
        unhealthy = [w for w in ctx.workloads if not w.healthy]
        if not ctx.workloads:
            raise PhaseFailure("the selectors left no workload to check")
        if unhealthy:
            # What failed for good says more than what was still on its way.
            first = next((w for w in unhealthy if not w.reason.startswith("not healthy after")),
                         unhealthy[0])
            where = f"{first.namespace}/" if first.namespace else ""
            what = first.chain_text() if len(first.chain) > 1 else (
                f"{first.kind} {where}{first.name}")
            raise PhaseFailure(
                f"{len(unhealthy)}/{len(ctx.workloads)} workloads not healthy; first: "
                f"{what}: {first.reason}"
            )
        slowest = max((w.ready_after_seconds or 0.0) for w in ctx.workloads)
        return PhaseOutcome.passed(
            f"{len(ctx.workloads)} workloads healthy, the last {slowest:.1f}s after drill start"
        )
