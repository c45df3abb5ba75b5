"""Capped exponential backoff with full jitter: bounds, determinism, and reset after healthy uptime."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradestack.venues._shared.backoff import Backoff

SECOND = 1_000_000_000


@given(
    base=st.floats(min_value=0.001, max_value=5.0),
    cap=st.floats(min_value=5.0, max_value=600.0),
    seed=st.integers(min_value=0, max_value=2**32),
    attempts=st.integers(min_value=1, max_value=200),
)
def test_delays_are_never_negative_and_never_above_the_cap(
    base: float, cap: float, seed: int, attempts: int
) -> None:
    backoff = Backoff(base_s=base, cap_s=cap, rng=random.Random(seed))
    for attempt in range(attempts):
        delay = backoff.next_delay()
        assert 0.0 <= delay <= cap
        assert delay <= base * 2.0 ** min(attempt, 62)


@given(seed=st.integers(min_value=0, max_value=2**32))
def test_the_same_seed_gives_the_same_delays(seed: int) -> None:
    first = Backoff(rng=random.Random(seed))
    second = Backoff(rng=random.Random(seed))
    assert [first.next_delay() for _ in range(20)] == [second.next_delay() for _ in range(20)]


def test_the_jitter_window_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base_s=0.5, cap_s=10.0)
    assert [backoff.ceiling(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.ceiling(10_000) == 10.0  # no overflow for absurd attempt counts


class MaxRandom:
    """The top of the jitter window, to observe the ceiling through next_delay."""

    def random(self) -> float:
        return 1.0


def test_a_connection_that_stayed_up_resets_the_attempts() -> None:
    backoff = Backoff(base_s=1.0, cap_s=60.0, reset_after_s=30.0, rng=MaxRandom())
    assert [backoff.next_delay() for _ in range(4)] == [1.0, 2.0, 4.0, 8.0]

    backoff.connection_ended(healthy_for_ns=5 * SECOND)  # accepted, then dropped quickly: keep backing off
    assert backoff.next_delay() == 16.0

    backoff.connection_ended(healthy_for_ns=30 * SECOND)
    assert backoff.attempt == 0
    assert backoff.next_delay() == 1.0


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        Backoff(base_s=0, cap_s=1)
    with pytest.raises(ValueError, match="exceed"):
        Backoff(base_s=2, cap_s=1)
