"""Kubernetes quantities and the one-node resource fit, table by table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from drdrill.capacity import (
    GPU,
    InvalidQuantity,
    container_requests,
    parse_quantity,
    pod_spec_requests,
    shortfall,
)
from drdrill.scenario.models import Autoscaling, NodePool

QUANTITIES: list[Any] = [
    ("500m", Decimal("0.5")),
    ("0.5", Decimal("0.5")),
    ("2", Decimal(2)),
    (2, Decimal(2)),
    (0.25, Decimal("0.25")),
    ("16Gi", Decimal(16 * 2**30)),
    ("1Ki", Decimal(1024)),
    ("1.5Gi", Decimal(3 * 2**29)),
    ("128974848", Decimal(128974848)),
    ("129M", Decimal(129 * 10**6)),
    ("1k", Decimal(1000)),
    ("1e3", Decimal(1000)),
    ("1E3", Decimal(1000)),
    ("12e-3", Decimal("0.012")),
    ("1E", Decimal(10**18)),  # the exa suffix, not an exponent
    ("100n", Decimal("1E-7")),
    ("5u", Decimal("0.000005")),
    ("1Ti", Decimal(2**40)),
    (" 4 ", Decimal(4)),
    ("+1", Decimal(1)),
]


@pytest.mark.parametrize(("text", "value"), QUANTITIES)
def test_parse_quantity(text: object, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Gi", "1.2.3", "1 Gi", "1GB", "one", "1e", "--1", True,
                                  None, "1Mi2"])
def test_invalid_quantities(text: object) -> None:
    with pytest.raises(InvalidQuantity):
        parse_quantity(text)


CONTAINERS: list[Any] = [
    pytest.param({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "4"}}},
                 {"cpu": Decimal(2)}, id="request-wins-over-limit"),
    pytest.param({"resources": {"limits": {GPU: "1", "memory": "1Gi"}}},
                 {GPU: Decimal(1), "memory": Decimal(2**30)}, id="limit-when-no-request"),
    pytest.param({"resources": {"requests": {"cpu": "lots"}}}, {}, id="invalid-is-skipped"),
    pytest.param({"resources": {"requests": {"ephemeral-storage": "1Gi"}}}, {},
                 id="other-resources-not-compared"),
    pytest.param({}, {}, id="no-resources"),
]


@pytest.mark.parametrize(("container", "requests"), CONTAINERS)
def test_container_requests(container: dict[str, Any], requests: dict[str, Decimal]) -> None:
    assert container_requests(container) == requests


def _c(**requests: str) -> dict[str, Any]:
    return {"resources": {"requests": requests}}


def test_pod_requests_sum_containers_and_take_the_largest_init_container() -> None:
    spec = {"containers": [_c(cpu="1", memory="1Gi"), _c(cpu="500m")],
            "initContainers": [_c(cpu="3"), _c(memory="512Mi")]}
    assert pod_spec_requests(spec) == {"cpu": Decimal(3), "memory": Decimal(2**30)}


GPU_POOL = NodePool(name="gpu", count=2, cpu="64", memory="512Gi", gpus=4)
CPU_POOL = NodePool(name="cpu", count=3, cpu="32", memory="128Gi")
SCALED = NodePool(name="h200", count=0, cpu="96", memory="1Ti", gpus=8,
                  autoscaling=Autoscaling(max_count=2))

# (requests, pools, None when it fits / (resource, asked, offered))
FITS: list[Any] = [
    pytest.param({}, (CPU_POOL,), None, id="nothing-asked"),
    pytest.param({GPU: Decimal(4)}, (GPU_POOL, CPU_POOL), None, id="exactly-the-largest"),
    pytest.param({GPU: Decimal(8)}, (GPU_POOL, CPU_POOL), (GPU, 8, 4), id="8-gpus-on-4"),
    pytest.param({GPU: Decimal(1)}, (CPU_POOL,), (GPU, 1, 0), id="gpu-on-a-cpu-only-cluster"),
    pytest.param({"cpu": Decimal("64.001")}, (GPU_POOL,), ("cpu", Decimal("64.001"), 64),
                 id="a-millicore-too-many"),
    pytest.param({"memory": Decimal(2**40)}, (GPU_POOL, CPU_POOL), ("memory", 2**40, 512 * 2**30),
                 id="memory"),
    pytest.param({GPU: Decimal(8)}, (GPU_POOL, SCALED), None, id="autoscaled-pool-at-zero"),
    pytest.param({GPU: Decimal(2), "cpu": Decimal(40)}, (GPU_POOL, CPU_POOL), None,
                 id="one-pool-has-both"),
]


@pytest.mark.parametrize(("requests", "pools", "short"), FITS)
def test_shortfall(requests: dict[str, Decimal], pools: tuple[NodePool, ...],
                   short: tuple[str, Any, Any] | None) -> None:
    found = shortfall(requests, pools)
    if short is None:
        assert found is None
    else:
        assert found is not None
        assert (found.resource, found.requested, found.offered) == (
            short[0], Decimal(short[1]), Decimal(short[2]))


def test_shortfall_names_what_is_asked_and_offered() -> None:
    found = shortfall({GPU: Decimal(8)}, (GPU_POOL, CPU_POOL))
    assert found is not None
    assert found.describe() == (
        "asks for 8 nvidia.com/gpu per pod; the largest node offers 4")
    memory = shortfall({"memory": Decimal(600 * 2**30)}, (GPU_POOL,))
    assert memory is not None and "600Gi memory" in memory.describe()
