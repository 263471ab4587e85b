"""Choose which objects of a set to restore when the scenario asks for a sample.

The choice must be reproducible from the seed recorded in the report, on any machine and any
Python version, so it does not use `random`: each key is ranked by sha256(seed, key) and the
lowest ranks win. Adding objects to a set leaves the choice among the old ones stable.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterable


def new_seed() -> int:
    return secrets.randbelow(2**31)


def sample_size(total: int, *, count: int | None, percent: float | None) -> int:
    """How many of `total` objects to pick: at least one when there are any."""
    if total == 0:
        return 0
    if count is not None:
        return min(count, total)
    if percent is None:
        return total
    return max(1, min(total, math.ceil(total * percent / 100)))


def choose_sample(keys: Iterable[str], *, size: int, seed: int) -> list[str]:
    """`size` keys chosen by seed, returned in key order."""

    def rank(key: str) -> bytes:
        return hashlib.sha256(f"{seed}\0{key}".encode("utf-8", "surrogatepass")).digest()

    chosen = sorted(set(keys), key=rank)[:size]
    return sorted(chosen)
