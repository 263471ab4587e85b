"""The cluster phase: an empty cluster from the provider, torn down at the end of the drill."""

from __future__ import annotations

import structlog

from drdrill.clusters.applied import remove_applied, take_baseline
from drdrill.clusters.base import ClusterInfo
from drdrill.clusters.state import forget_state, save_state
from drdrill.engine.context import DrillContext
from drdrill.engine.phase import PhaseOutcome
from drdrill.engine.providers import provider_for, provider_for_info
from drdrill.errors import InfrastructureError
from drdrill.kubeapi import new_api_client
from drdrill.proc import stops_hurried
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)


class ClusterPhase:
    name = "cluster"
    needs: tuple[str, ...] = ()

    def required(self, ctx: DrillContext) -> bool:
        return True

    def describe(self, ctx: DrillContext) -> list[str]:
        return provider_for(ctx).describe()

    def run(self, ctx: DrillContext, *, deadline: Deadline) -> PhaseOutcome:
        provider = provider_for(ctx)
        info = provider.create(deadline=deadline)
        ctx.cluster = info
        ctx.components.update(info.components)
        if info.owned:
            save_state(info)
        if ctx.options.keep_cluster:
            log.warning("cluster kept for inspection", kubeconfig=str(info.kubeconfig),
                        down=f"drdrill cluster down {ctx.scenario.source or ''}".strip())
        else:
            ctx.cleanup.push(f"delete {provider.name} cluster", lambda: _delete(ctx))
            if not info.owned:
                _undo_what_the_drill_applies(ctx, info)
        simulation = provider.start_simulation(info=info)
        if simulation is not None:
            ctx.simulation = simulation
            ctx.cleanup.push("stop the simulated operator", simulation.stop)
        return PhaseOutcome.passed(f"{provider.name} cluster ready ({info.server or info.context})")


def _undo_what_the_drill_applies(ctx: DrillContext, info: ClusterInfo) -> None:
    """A cluster the drill does not own is never deleted: teardown removes what the drill
    created there instead (GitOps objects with prune, then their namespaces and CRDs)."""
    api = new_api_client(kubeconfig=info.kubeconfig, context=info.context)
    try:
        baseline = take_baseline(api)
    finally:
        api.close()

    def undo() -> None:
        client = new_api_client(kubeconfig=info.kubeconfig, context=info.context)
        try:
            removal = remove_applied(
                client, baseline=baseline,
                deadline=Deadline.after(5 if stops_hurried() else 90),
                controller_wait=0 if stops_hurried() else 30)
        finally:
            client.close()
        if removal.problems:
            raise InfrastructureError("; ".join(removal.problems[:5]))

    ctx.cleanup.push("remove what the drill applied to the existing cluster", undo)


def _delete(ctx: DrillContext) -> None:
    # Read ctx.cluster at teardown time: later phases may have added processes to it.
    info = ctx.cluster
    provider_for_info(ctx, info).delete(info)
    if info.owned:
        forget_state(info.name)
