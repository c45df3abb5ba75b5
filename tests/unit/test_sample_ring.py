"""SampleRing keeps the last N samples, oldest first, in a buffer allocated once."""

import sys

import pytest

from tradestack.app.view import percentiles_ms
from tradestack.observability.sample_ring import SampleRing


def test_keeps_the_last_samples_oldest_first() -> None:
    ring = SampleRing(4)
    assert len(ring) == 0 and list(ring) == []
    for sample in range(1, 4):
        ring.append(sample)
    assert list(ring) == [1, 2, 3]
    for sample in range(4, 11):
        ring.append(sample)
    assert list(ring) == [7, 8, 9, 10] and len(ring) == 4
    assert 8 in ring and 6 not in ring


def test_memory_is_fixed_from_the_start() -> None:
    ring = SampleRing(10_000)
    empty = sys.getsizeof(ring._buffer)
    for sample in range(25_000):
        ring.append(sample * 1_000_003)  # large ints: a deque would hold an object each
    assert sys.getsizeof(ring._buffer) == empty and len(ring) == 10_000
    assert next(iter(ring)) == 15_000 * 1_000_003


def test_feeds_the_views_percentiles() -> None:
    ring = SampleRing(100)
    for ns in range(1, 201):
        ring.append(ns * 1_000_000)  # 1..200 ms; the ring keeps 101..200
    assert percentiles_ms(ring) == {"p50": 151.0, "p95": 196.0, "p99": 200.0}


def test_refuses_an_empty_ring() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SampleRing(0)
