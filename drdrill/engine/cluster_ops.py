"""Cluster steps for an on-call engineer rehearsing by hand; state is kept between commands."""

from __future__ import annotations

import structlog

from drdrill.clusters.base import ClusterInfo
from drdrill.clusters.state import (
    forget_state,
    load_state,
    save_state,
    state_file,
    with_live_process_groups,
)
from drdrill.engine.context import DrillContext
from drdrill.engine.providers import provider_for, provider_for_info
from drdrill.engine.runner import phase_budget
from drdrill.engine.signals import interrupts_deferred, interrupts_raise, signals_received
from drdrill.errors import BadInputError, DrillInterrupted
from drdrill.kubeapi import new_api_client
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)


def saved_cluster(ctx: DrillContext) -> ClusterInfo:
    info = load_state(ctx.scenario.name)
    if info is None:
        raise BadInputError(
            f"no running cluster for drill {ctx.scenario.name!r} "
            f"({state_file(ctx.scenario.name)} absent); start one with `drdrill cluster up`"
        )
    return info


def cluster_up(ctx: DrillContext) -> ClusterInfo:
    if load_state(ctx.scenario.name) is not None:
        raise BadInputError(
            f"drill {ctx.scenario.name!r} already has a cluster up; `drdrill cluster down` first"
        )
    provider = provider_for(ctx)
    with interrupts_raise():
        # An interrupt during create unwinds through the provider, which stops what it began.
        info = provider.create(deadline=Deadline.after(phase_budget(ctx, "cluster")))
    if info.owned:
        save_state(info)
    return info


def cluster_down(ctx: DrillContext) -> str:
    """Stop what the saved state names. A signal meanwhile makes it hurry, not stop half-way;
    the command then still exits as interrupted."""
    info, dropped = with_live_process_groups(saved_cluster(ctx))
    if dropped:
        log.warning("saved process groups no longer run (or their pids were reused): left alone",
                    pgids=dropped)
    with interrupts_deferred():
        provider_for_info(ctx, info).delete(info)
        forget_state(info.name)
    received = signals_received()
    if received:
        raise DrillInterrupted(received[0])
    return f"cluster of drill {info.name!r} is down"


def cluster_status(ctx: DrillContext) -> str:
    info = load_state(ctx.scenario.name)
    if info is None:
        return f"drill {ctx.scenario.name!r}: no cluster up"
    api = new_api_client(kubeconfig=info.kubeconfig, context=info.context)
    try:
        from kubernetes import client

        nodes = client.CoreV1Api(api).list_node(_request_timeout=10).items
    except DrillInterrupted:
        raise
    except Exception as err:
        return f"drill {info.name!r}: {info.provider} cluster not reachable ({err})"
    finally:
        api.close()
    ready = sum(
        1 for n in nodes
        if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
    )
    return (f"drill {info.name!r}: {info.provider} cluster up at {info.server}, "
            f"{ready}/{len(nodes)} nodes Ready, kubeconfig {info.kubeconfig}")
