"""Coinbase Exchange's published REST rate limits, enforced as lazy-fill token buckets.

From the docs ("REST Rate Limits"): public endpoints 10 requests/s per IP, bursts up to 15; private
endpoints 15/s per profile, bursts up to 30; private `/fills` 10/s per profile, bursts up to 20. A
bucket holds `burst` tokens, refills at `rate` a second and starts full. Past a limit: HTTP 429.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from tradestack.venues.simulated_coinbase import errors

_NS = 1_000_000_000
PUBLISHED: Final[Mapping[str, tuple[int, int]]] = {
    "public": (10, 15),
    "private": (15, 30),
    "fills": (10, 20),
}


class TokenBuckets:
    """One bucket per (budget, key); `overrides` replace published (rate, burst) pairs (tests)."""

    def __init__(self, overrides: Mapping[str, tuple[int, int]] | None = None) -> None:
        self.limits = {**PUBLISHED, **(overrides or {})}
        self._buckets: dict[tuple[str, str], tuple[int, int]] = {}  # -> (nano-tokens, at_ns)
        self.refused = 0

    def take(self, budget: str, key: str, now_ns: int) -> None:
        """Take one token; 429 when the bucket is empty."""
        rate, burst = self.limits[budget]
        level, at = self._buckets.get((budget, key), (burst * _NS, now_ns))
        if now_ns > at:
            level = min(burst * _NS, level + (now_ns - at) * rate)
            at = now_ns
        if level < _NS:
            self._buckets[(budget, key)] = (level, at)
            self.refused += 1
            raise errors.rate_limited(budget != "public")
        self._buckets[(budget, key)] = (level - _NS, at)
