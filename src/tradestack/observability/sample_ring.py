"""The last N integer samples (latencies in ns) in one preallocated buffer: the memory a long-running
process spends on them is fixed from its first sample, not a deque of int objects that fills over
hours."""

from __future__ import annotations

from array import array
from collections.abc import Iterator


class SampleRing:
    """>>> ring = SampleRing(3)
    >>> for ns in (5, 6, 7, 8):
    ...     ring.append(ns)
    >>> sorted(ring), len(ring)
    ([6, 7, 8], 3)
    """

    __slots__ = ("_buffer", "_count", "_next")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a sample ring holds at least one sample, not {capacity}")
        self._buffer = array("q", bytes(8 * capacity))  # int64, zeroed: allocated once, here
        self._next = 0
        self._count = 0

    def append(self, sample: int) -> None:
        self._buffer[self._next] = sample
        self._next = (self._next + 1) % len(self._buffer)
        self._count = min(self._count + 1, len(self._buffer))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        """Oldest first."""
        capacity = len(self._buffer)
        start = (self._next - self._count) % capacity
        for offset in range(self._count):
            yield self._buffer[(start + offset) % capacity]

    def __contains__(self, sample: object) -> bool:
        return any(value == sample for value in self)
