"""OKX's published REST rate limits for the endpoints we call, as limiter windows per rule key.

OKX counts fixed 2-second windows, each budget shared by a rule key (docs, "Rate Limit" of each
endpoint): User ID + Instrument ID for placing, cancelling and querying one order; User ID for
pending orders, fills and balances; IP for public endpoints. Past a limit it answers HTTP 429 with
code 50011. OKX reports no usage back on REST responses, so our own count (with a safety margin) is
what keeps us under, and a 50011 blocks the key's window until it rolls over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tradestack.venues._shared.rate_limit import SECOND_NS, LimitKind, RateLimiter, UsageLimit

WINDOW_NS: Final = 2 * SECOND_NS


@dataclass(frozen=True, slots=True)
class EndpointLimit:
    limit: int  # per 2 s
    per_instrument: bool  # the budget is per instrument (else shared by every instrument)
    counts_orders: bool = False  # cancel-batch-orders: the limit counts orders, not requests


PUBLISHED: Final[dict[str, EndpointLimit]] = {
    "POST /api/v5/trade/order": EndpointLimit(60, per_instrument=True),
    "POST /api/v5/trade/cancel-order": EndpointLimit(60, per_instrument=True),
    "POST /api/v5/trade/cancel-batch-orders": EndpointLimit(300, per_instrument=True, counts_orders=True),
    "GET /api/v5/trade/order": EndpointLimit(60, per_instrument=True),
    "GET /api/v5/trade/orders-pending": EndpointLimit(60, per_instrument=False),
    "GET /api/v5/trade/fills": EndpointLimit(60, per_instrument=False),
    "GET /api/v5/account/balance": EndpointLimit(10, per_instrument=False),
    "GET /api/v5/account/config": EndpointLimit(5, per_instrument=False),
    "GET /api/v5/public/instruments": EndpointLimit(20, per_instrument=False),
    "GET /api/v5/market/books": EndpointLimit(40, per_instrument=False),
    "GET /api/v5/public/time": EndpointLimit(10, per_instrument=False),
}


class OkxRateLimits:
    """One fixed-window limiter per (endpoint, instrument) budget, created on first use."""

    def __init__(self, limits: dict[str, EndpointLimit] | None = None, safety_ratio: float = 0.9) -> None:
        self.limits = dict(PUBLISHED if limits is None else limits)
        self.safety_ratio = safety_ratio
        self._limiters: dict[tuple[str, str], RateLimiter] = {}

    def limiter(self, endpoint: str, instrument: str) -> RateLimiter | None:
        spec = self.limits.get(endpoint)
        if spec is None:
            return None
        key = (endpoint, instrument if spec.per_instrument else "")
        limiter = self._limiters.get(key)
        if limiter is None:
            kind = LimitKind.REQUEST_WEIGHT if spec.counts_orders else LimitKind.RAW_REQUESTS
            limiter = RateLimiter([UsageLimit(kind, WINDOW_NS, spec.limit)], self.safety_ratio)
            self._limiters[key] = limiter
        return limiter

    def usage_ratio(self, now_ns: int) -> float:
        """The highest used/limit over every budget in use: the venue's usage ratio for metrics."""
        return max((limiter.usage_ratio(now_ns) for limiter in self._limiters.values()), default=0.0)
