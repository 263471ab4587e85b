from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drdrill.backups.sampling import SampleCandidates, choose_sample, sample_size

KEYS = [f"part-{i:05d}.parquet" for i in range(1000)]


def test_same_seed_same_choice_in_any_order() -> None:
    first = choose_sample(KEYS, size=25, seed=42)
    second = choose_sample(list(reversed(KEYS)), size=25, seed=42)
    assert first == second
    assert len(first) == 25
    assert first == sorted(first)


def test_different_seed_different_choice() -> None:
    assert choose_sample(KEYS, size=25, seed=1) != choose_sample(KEYS, size=25, seed=2)


def test_choice_is_fixed_across_versions() -> None:
    # The rank is sha256(seed, key): this must never change, or old reports cannot be replayed.
    assert choose_sample(["a", "b", "c", "d"], size=2, seed=7) == ["a", "c"]


def test_adding_keys_keeps_old_choices_stable() -> None:
    chosen = set(choose_sample(KEYS, size=50, seed=3))
    grown = set(choose_sample([*KEYS, *(f"new-{i}" for i in range(10))], size=60, seed=3))
    # At most 10 new keys can rank above an old choice, so all 50 stay within the 60.
    assert chosen <= grown


def test_sample_size() -> None:
    assert sample_size(0, count=5, percent=None) == 0
    assert sample_size(3, count=5, percent=None) == 3
    assert sample_size(1000, count=None, percent=1) == 10
    assert sample_size(10, count=None, percent=0.1) == 1
    assert sample_size(10, count=None, percent=100) == 10


@given(
    total=st.integers(0, 400),
    count=st.one_of(st.none(), st.integers(0, 50)),
    percent=st.floats(0.5, 100),
    seed=st.integers(0, 2**31 - 1),
)
def test_streamed_candidates_hold_the_exact_sample(
    total: int, count: int | None, percent: float, seed: int
) -> None:
    """Keeping only the candidates while the keys stream past gives the sample that choosing
    among all keys gives, or says it cannot be sure (and the caller keeps them all)."""
    keys = [f"k{i:04d}" for i in range(total)]
    pct = None if count is not None else percent
    size = sample_size(total, count=count, percent=pct)
    candidates = SampleCandidates(seed=seed, count=count, percent=pct)
    kept = [k for k in keys if candidates.keep(k)]
    still = candidates.still_kept()
    held = kept if still is None else [k for k in kept if k in still]
    if not candidates.enough(kept=len(held), total=total):
        return
    exact = choose_sample(keys, size=size, seed=seed)
    assert choose_sample(held, size=size, seed=seed) == exact
    assert choose_sample(kept, size=size, seed=seed) == exact


def test_a_percentage_keeps_about_its_share() -> None:
    candidates = SampleCandidates(seed=3, count=None, percent=1)
    kept = sum(candidates.keep(f"k{i:06d}") for i in range(100_000))
    assert 1_000 <= kept <= 1_500
    assert candidates.enough(kept=kept, total=100_000)
