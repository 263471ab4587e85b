from __future__ import annotations

from drdrill.backups.sampling import choose_sample, sample_size

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
