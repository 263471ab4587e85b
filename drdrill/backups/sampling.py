"""Choose which objects of a set to restore when the scenario asks for a sample.

The choice must be reproducible from the seed recorded in the report, on any machine and any
Python version, so it does not use `random`: each key is ranked by sha256(seed, key) and the
lowest ranks win. Adding objects to a set leaves the choice among the old ones stable.
"""

from __future__ import annotations

import hashlib
import heapq
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


def sample_rank(seed: int, key: str) -> bytes:
    """A key's rank in the seeded order (the lowest ranks are chosen)."""
    return hashlib.sha256(f"{seed}\0{key}".encode("utf-8", "surrogatepass")).digest()


def choose_sample(keys: Iterable[str], *, size: int, seed: int) -> list[str]:
    """`size` keys chosen by seed, returned in key order."""
    chosen = sorted(set(keys), key=lambda key: sample_rank(seed, key))[:size]
    return sorted(chosen)


class SampleCandidates:
    """Decides, while a set's targets stream past, which could be in its sample, so a million
    targets need not be held to choose 1% of them.

    The sample is the `size` lowest ranks, and `size` depends on how many targets there are,
    known only at the end. With a count, the `count` lowest ranks so far are kept (a heap).
    With a percentage, every target ranked below a margin over that fraction of the rank space
    is kept; ranks are uniform, so that is about 1.25 times the sample. `enough(total)` says
    whether what was kept is sure to hold the exact sample; when it is not (small sets,
    bad luck), the caller goes through the targets again keeping them all.
    """

    def __init__(self, *, seed: int, count: int | None, percent: float | None) -> None:
        self.seed, self.count, self.percent = seed, count, percent
        fraction = 1.0 if percent is None else min(1.0, percent / 100 * 1.25)
        self._below = int(fraction * 2**256)
        self._kept: list[tuple[bytes, str]] = []  # count mode: (inverted rank, key), a heap

    def keep(self, key: str) -> bool:
        """True if `key` may be in the sample (and is to be kept); in count mode, a key kept
        earlier may be dropped later (see `dropped`)."""
        rank = sample_rank(self.seed, key)
        if self.count is None:
            return int.from_bytes(rank, "big") < self._below
        inverted = bytes(255 - b for b in rank)
        if len(self._kept) < self.count:
            heapq.heappush(self._kept, (inverted, key))
            return True
        if self.count and inverted > self._kept[0][0]:
            heapq.heapreplace(self._kept, (inverted, key))
            return True
        return False

    def still_kept(self) -> set[str] | None:
        """Count mode: the keys that are still among the lowest ranks; None otherwise."""
        return None if self.count is None else {key for _, key in self._kept}

    def enough(self, *, kept: int, total: int) -> bool:
        """Whether the `kept` candidates (of `total` targets) surely hold the whole sample."""
        if self.count is not None or kept >= total:
            return True
        return kept >= sample_size(total, count=None, percent=self.percent)
