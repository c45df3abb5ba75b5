"""Coinbase Exchange's published REST rate limits as lazy-fill token buckets. Pure: times are passed in.

Coinbase (docs "REST Rate Limits"): "a lazy-fill token bucket": a bucket of `burst` tokens that
refills at `rate` tokens a second and starts full; each request takes one.
  public endpoints (by IP)           10/s, bursts up to 15
  private endpoints (by profile)     15/s, bursts up to 30
  private /fills (by profile)        10/s, bursts up to 20
Past a limit: HTTP 429 {"message": "... rate limit exceeded"}. Coinbase reports no usage back (no
headers), so our own bucket, kept a safety margin below the venue's, is what keeps us under; a 429
empties our bucket so nothing more is sent until a token has refilled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class BucketSpec:
    rate_per_s: int
    burst: int


PUBLIC: Final = "public"
PRIVATE: Final = "private"
FILLS: Final = "fills"
PUBLISHED: Final[dict[str, BucketSpec]] = {
    PUBLIC: BucketSpec(10, 15),
    PRIVATE: BucketSpec(15, 30),
    FILLS: BucketSpec(10, 20),
}


class TokenBucket:
    """Tokens are kept in nano-tokens (integers): `rate` tokens/s is `rate` nano-tokens per ns."""

    __slots__ = ("_at_ns", "_level", "burst", "rate")

    def __init__(self, rate_per_s: int, burst: int) -> None:
        if rate_per_s <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate_per_s
        self.burst = burst
        self._level = burst * _NS
        self._at_ns: int | None = None

    def _refill(self, now_ns: int) -> None:
        if self._at_ns is not None and now_ns > self._at_ns:
            self._level = min(self.burst * _NS, self._level + (now_ns - self._at_ns) * self.rate)
        if self._at_ns is None or now_ns > self._at_ns:
            self._at_ns = now_ns

    def take(self, now_ns: int) -> int:
        """0 when a token was taken, else the nanoseconds until one is available (nothing taken)."""
        self._refill(now_ns)
        if self._level >= _NS:
            self._level -= _NS
            return 0
        return -(-(_NS - self._level) // self.rate)

    def empty(self, now_ns: int) -> int:
        """The venue said 429: no token left; returns the nanoseconds until the next one."""
        self._refill(now_ns)
        self._level = 0
        return -(-_NS // self.rate)

    def usage_ratio(self, now_ns: int) -> float:
        """The used fraction of the burst (1.0: empty)."""
        self._refill(now_ns)
        return 1.0 - self._level / (self.burst * _NS)


class CoinbaseRateLimits:
    """Our buckets, `safety_ratio` of the published rate and burst (at least 1 each)."""

    def __init__(self, specs: dict[str, BucketSpec] | None = None, safety_ratio: float = 0.9) -> None:
        self.specs = dict(PUBLISHED if specs is None else specs)
        self.buckets = {
            name: TokenBucket(
                max(1, int(spec.rate_per_s * safety_ratio)), max(1, int(spec.burst * safety_ratio))
            )
            for name, spec in self.specs.items()
        }

    def take(self, bucket: str, now_ns: int) -> int:
        found = self.buckets.get(bucket)
        return 0 if found is None else found.take(now_ns)

    def refused(self, bucket: str, now_ns: int) -> float:
        """After a 429: empty the bucket; the seconds until a request may go again."""
        found = self.buckets.get(bucket)
        return 1.0 if found is None else found.empty(now_ns) / _NS

    def usage_ratio(self, now_ns: int) -> float:
        """The highest used fraction over the buckets: the venue's usage ratio for metrics."""
        return max((bucket.usage_ratio(now_ns) for bucket in self.buckets.values()), default=0.0)


def bucket_of(method: str, path: str, signed: bool) -> str:
    """Which budget a request spends: /fills has its own, other private ones share one."""
    if not signed:
        return PUBLIC
    return FILLS if path == "/fills" else PRIVATE
