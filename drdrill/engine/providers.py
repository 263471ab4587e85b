"""Which cluster provider a drill uses, built from the scenario and the command-line options."""

from __future__ import annotations

from drdrill.clusters.base import ClusterInfo, ClusterProvider
from drdrill.clusters.existing import ExistingCluster
from drdrill.clusters.kind import KindCluster
from drdrill.clusters.kwok import KwokCluster, kwok_from_environment
from drdrill.engine.context import DrillContext
from drdrill.errors import BadInputError
from drdrill.scenario.models import Provider


def provider_for(ctx: DrillContext, *, kind_of: Provider | None = None) -> ClusterProvider:
    spec = ctx.scenario.spec.cluster
    chosen = kind_of or ctx.provider
    if chosen is Provider.KWOK:
        return KwokCluster(drill=ctx.scenario.name, settings=spec.kwok, pools=spec.node_pools,
                           apiserver_port=kwok_from_environment())
    if chosen is Provider.KIND:
        config = ctx.scenario.resolve_path(spec.kind.config) if spec.kind.config else None
        return KindCluster(drill=ctx.scenario.name, pools=spec.node_pools,
                           kubernetes_version=spec.kubernetes_version, image=spec.kind.image,
                           config_file=config, load_images=spec.kind.load_images)
    if spec.existing is None:
        raise BadInputError(
            "--provider existing needs spec.cluster.existing.context in the scenario: a drill "
            "never picks a cluster implicitly"
        )
    return ExistingCluster(
        drill=ctx.scenario.name,
        context=spec.existing.context,
        kubeconfig_flag=ctx.options.kubeconfig,
        kubeconfig_in_scenario=(ctx.scenario.resolve_path(spec.existing.kubeconfig)
                                if spec.existing.kubeconfig else None),
        allow_non_empty=ctx.options.allow_non_empty,
        namespaces=tuple(s.namespace for s in ctx.scenario.spec.workloads.include if s.namespace),
    )


def provider_for_info(ctx: DrillContext, info: ClusterInfo) -> ClusterProvider:
    return provider_for(ctx, kind_of=Provider(info.provider))

