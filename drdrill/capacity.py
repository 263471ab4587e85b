"""Would a pod fit on a node of a pool? Kubernetes quantities, pod requests, taints, selectors.

Two verdicts depend on it: an unschedulable pod is not a failure while an autoscaled pool could
still add a node that fits it, and a simulated custom resource must not turn Ready when no node
of any pool could ever run it. Both compare one pod's requests with one node's allocatable, as
the scheduler's resource fit does; nothing here talks to a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from drdrill.scenario.models import NodePool

GPU = "nvidia.com/gpu"
RESOURCES = ("cpu", "memory", GPU)

_SUFFIXES = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$")


class InvalidQuantity(ValueError):
    """Not a Kubernetes resource quantity."""


def parse_quantity(value: object) -> Decimal:
    """`500m` -> 0.5, `16Gi` -> 17179869184, `1e3` -> 1000, `2` (int) -> 2."""
    if isinstance(value, bool):
        raise InvalidQuantity(f"{value!r} is not a quantity")
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip())
    if match is None:
        raise InvalidQuantity(f"{value!r} is not a quantity")
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]
    except InvalidOperation as err:
        raise InvalidQuantity(f"{value!r} is not a quantity") from err


def container_requests(container: Mapping[str, Any]) -> dict[str, Decimal]:
    """What one container asks for: its requests, or its limits where it sets no request."""
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    found: dict[str, Decimal] = {}
    for name in RESOURCES:
        raw = requests.get(name, limits.get(name))
        if raw is None:
            continue
        try:
            found[name] = parse_quantity(raw)
        except InvalidQuantity:
            continue  # the API server would have refused it; nothing to compare
    return found


def pod_requests(
    containers: Iterable[Mapping[str, Any]], init_containers: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Decimal]:
    """A pod's effective requests: the containers' sum, or the largest init container if more."""
    total: dict[str, Decimal] = {}
    for container in containers:
        for name, amount in container_requests(container).items():
            total[name] = total.get(name, Decimal(0)) + amount
    for container in init_containers:
        for name, amount in container_requests(container).items():
            total[name] = max(total.get(name, Decimal(0)), amount)
    return total


def pod_spec_requests(spec: Mapping[str, Any]) -> dict[str, Decimal]:
    """`pod_requests` of a PodSpec dict."""
    containers = spec.get("containers") or []
    inits = spec.get("initContainers") or []
    return pod_requests(
        [c for c in containers if isinstance(c, Mapping)],
        [c for c in inits if isinstance(c, Mapping)],
    )


def node_allocatable(pool: NodePool) -> dict[str, Decimal]:
    allocatable = {"cpu": parse_quantity(pool.cpu), "memory": parse_quantity(pool.memory)}
    allocatable[GPU] = Decimal(pool.gpus)
    return allocatable


@dataclass(frozen=True)
class Shortfall:
    """The first resource a pod asks more of than the largest node offers; or, when each
    resource fits somewhere but no single node has all of them, the whole ask (`combined`)."""

    resource: str
    requested: Decimal
    offered: Decimal
    combined: str = ""

    def describe(self) -> str:
        if self.combined:
            return (f"asks for {self.combined} per pod; no single node of any pool offers all "
                    "of it")
        return (f"asks for {format_amount(self.resource, self.requested)} {self.resource} per "
                f"pod; the largest node offers {format_amount(self.resource, self.offered)}")


def format_amount(resource: str, amount: Decimal) -> str:
    if resource == "memory" and amount >= 2**30:
        return f"{(amount / 2**30).normalize():f}Gi"
    return f"{amount.normalize():f}"


def shortfall(requests: Mapping[str, Decimal], pools: Sequence[NodePool]) -> Shortfall | None:
    """None when one node of some pool can hold the pod; else what the best node lacks.

    A pool that autoscales counts even while it has no node: its nodes would look the same.
    """
    candidates = [node_allocatable(p) for p in pools if p.count > 0 or p.autoscaling]
    if not candidates:
        return Shortfall("nodes", Decimal(1), Decimal(0))
    for allocatable in candidates:
        if all(requests.get(r, Decimal(0)) <= allocatable[r] for r in RESOURCES):
            return None
    for resource in (GPU, "cpu", "memory"):
        wanted = requests.get(resource, Decimal(0))
        best = max(allocatable[resource] for allocatable in candidates)
        if wanted > best:
            return Shortfall(resource, wanted, best)
    # Each resource fits somewhere, but no single pool has room for all of them together.
    asked = ", ".join(f"{format_amount(r, requests[r])} {r}" for r in RESOURCES if requests.get(r))
    return Shortfall("", Decimal(0), Decimal(0), combined=asked)


def _tolerates(tolerations: Sequence[Mapping[str, Any]], pool: NodePool) -> bool:
    for taint in pool.taints:
        if taint.effect == "PreferNoSchedule":
            continue
        if not any(_tolerates_one(t, taint.key, taint.value, taint.effect) for t in tolerations):
            return False
    return True


def _tolerates_one(toleration: Mapping[str, Any], key: str, value: str, effect: str) -> bool:
    if toleration.get("effect") and toleration.get("effect") != effect:
        return False
    operator = toleration.get("operator") or "Equal"
    if not toleration.get("key"):
        return operator == "Exists"
    if toleration.get("key") != key:
        return False
    return operator == "Exists" or str(toleration.get("value") or "") == value


def pools_that_could_run(pod: Mapping[str, Any], pools: Sequence[NodePool]) -> list[NodePool]:
    """The autoscaled pools one more node of which could run this pod.

    It checks what the scenario can tell: resources against one node's allocatable, taints
    against the pod's tolerations, and the pod's nodeSelector against the pool's labels
    (affinity and topology spread are not evaluated: such a pod is given the benefit of the
    doubt, and the wait's deadline still bounds it).
    """
    spec = pod.get("spec") or {}
    requests = pod_spec_requests(spec)
    tolerations = [t for t in spec.get("tolerations") or [] if isinstance(t, Mapping)]
    selector = spec.get("nodeSelector") or {}
    fitting = []
    for pool in pools:
        if pool.autoscaling is None:
            continue
        labels = {"drdrill.dev/pool": pool.name, **pool.labels}
        if any(labels.get(k) != v for k, v in selector.items()
               if not k.startswith("kubernetes.io/")):
            continue
        if not _tolerates(tolerations, pool):
            continue
        if shortfall(requests, [pool]) is None:
            fitting.append(pool)
    return fitting
