"""TtlCache (the authorizer's, and the webhook ingress's workspaces): hits within the age bound,
reloads at it, evicts the least recently used entry beyond its size, and keeps what a reload
returned."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from railguard.core.ttl_cache import TtlCache
from tests.support.fake_time import START, FakeClock

MAX_AGE = 30.0


class Loader:
    """A load function that counts its calls and returns the value it is told to."""

    def __init__(self, value: str):
        self.value = value
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.value


def _cache(clock: FakeClock, max_entries: int = 8) -> TtlCache[str, str]:
    return TtlCache(clock, max_age_seconds=MAX_AGE, max_entries=max_entries)


def _failing_load() -> Callable[[], str]:
    def load() -> str:
        raise AssertionError("the cache reloaded an entry it should have served")

    return load


@pytest.mark.parametrize("age", [0.0, 0.001, MAX_AGE / 2, MAX_AGE - 0.001])
def test_a_hit_within_the_max_age_does_not_reload(age: float) -> None:
    # Given an entry loaded at START
    clock = FakeClock()
    cache = _cache(clock)
    load = Loader("v1")
    assert cache.get_or_load("k", load) == "v1"
    # When it is read again before it is MAX_AGE old
    clock.current = START + age
    value = cache.get_or_load("k", _failing_load())
    # Then the cached value is served and the loader ran only once
    assert value == "v1"
    assert load.calls == 1


@pytest.mark.parametrize("age", [MAX_AGE, MAX_AGE + 0.001, MAX_AGE * 10])
def test_an_entry_at_or_past_the_max_age_is_reloaded(age: float) -> None:
    # Given an entry loaded at START
    clock = FakeClock()
    cache = _cache(clock)
    load = Loader("v1")
    cache.get_or_load("k", load)
    # When it is read once it is MAX_AGE old or older
    clock.current = START + age
    load.value = "v2"
    value = cache.get_or_load("k", load)
    # Then it is loaded again
    assert value == "v2"
    assert load.calls == 2


def test_a_reload_replaces_the_value_and_restarts_its_age() -> None:
    # Given an entry reloaded with a new value once it expired
    clock = FakeClock()
    cache = _cache(clock)
    cache.get_or_load("k", Loader("old"))
    clock.current = START + MAX_AGE
    assert cache.get_or_load("k", Loader("new")) == "new"
    # When it is read shortly after the reload (past the first load's age bound)
    clock.current = START + MAX_AGE + MAX_AGE / 2
    # Then the new value is served without another load
    assert cache.get_or_load("k", _failing_load()) == "new"
    # And it expires MAX_AGE after the reload, not after the first load
    clock.current = START + 2 * MAX_AGE
    assert cache.get_or_load("k", Loader("newer")) == "newer"


def test_distinct_keys_are_cached_separately() -> None:
    clock = FakeClock()
    cache = _cache(clock)
    cache.get_or_load("a", Loader("A"))
    cache.get_or_load("b", Loader("B"))
    assert cache.get_or_load("a", _failing_load()) == "A"
    assert cache.get_or_load("b", _failing_load()) == "B"


def test_the_least_recently_used_entry_is_evicted_beyond_max_entries() -> None:
    # Given a cache of two entries holding a and b, where a was then read (so b is the LRU)
    clock = FakeClock()
    cache = _cache(clock, max_entries=2)
    cache.get_or_load("a", Loader("A"))
    cache.get_or_load("b", Loader("B"))
    assert cache.get_or_load("a", _failing_load()) == "A"
    # When a third key is loaded
    cache.get_or_load("c", Loader("C"))
    # Then a and c are still cached, and b was evicted (reading it loads it again)
    assert cache.get_or_load("a", _failing_load()) == "A"
    assert cache.get_or_load("c", _failing_load()) == "C"
    reload_b = Loader("B2")
    assert cache.get_or_load("b", reload_b) == "B2"
    assert reload_b.calls == 1


def test_without_reads_the_oldest_insertion_is_evicted_first() -> None:
    # Given a cache of three entries filled with k0..k2
    clock = FakeClock()
    cache = _cache(clock, max_entries=3)
    for index in range(3):
        cache.get_or_load(f"k{index}", Loader(f"v{index}"))
    # When k3 is added
    cache.get_or_load("k3", Loader("v3"))
    # Then k0 is gone and k1..k3 remain
    for index in (3, 2, 1):
        assert cache.get_or_load(f"k{index}", _failing_load()) == f"v{index}"
    reload_k0 = Loader("v0-again")
    assert cache.get_or_load("k0", reload_k0) == "v0-again"
    assert reload_k0.calls == 1


def test_a_failed_load_caches_nothing() -> None:
    # Given a load that fails
    clock = FakeClock()
    cache = _cache(clock)
    with pytest.raises(RuntimeError):
        cache.get_or_load("k", _raise_runtime_error)
    # When the key is read again / Then the loader runs again (the failure was not remembered)
    load = Loader("v")
    assert cache.get_or_load("k", load) == "v"
    assert load.calls == 1


def _raise_runtime_error() -> str:
    raise RuntimeError("the store is unavailable")
