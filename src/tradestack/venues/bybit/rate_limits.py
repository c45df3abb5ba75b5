"""Bybit's REST rate limits for the endpoints we call: our own count, raised to what Bybit reports.

Bybit counts per UID and endpoint in a rolling one-second window (docs "Rate Limit Rules"); past a
limit it answers retCode 10006 "Too many visits". Every answer carries the endpoint's budget in three
headers: X-Bapi-Limit (the limit), X-Bapi-Limit-Status (requests remaining) and
X-Bapi-Limit-Reset-Timestamp (ms, when the window is whole again). We keep our own count against the
published limits (with a safety margin; the venue's reported limit for an endpoint we have none for),
raise it to the venue's report after every answer, and report the highest used/limit over both as
the usage ratio.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from tradestack.venues._shared.rate_limit import SECOND_NS, LimitKind, RateLimiter, UsageLimit

WINDOW_NS: Final = SECOND_NS
LIMIT_HEADER: Final = "X-Bapi-Limit"
REMAINING_HEADER: Final = "X-Bapi-Limit-Status"
RESET_HEADER: Final = "X-Bapi-Limit-Reset-Timestamp"

# per UID per second, spot, default (non-PRO) accounts
PUBLISHED: Final[Mapping[str, int]] = {
    "POST /v5/order/create": 20,
    "POST /v5/order/cancel": 20,
    "POST /v5/order/cancel-all": 20,
    "GET /v5/order/realtime": 50,
    "GET /v5/order/history": 50,
    "GET /v5/execution/list": 50,
    "GET /v5/account/wallet-balance": 50,
    "GET /v5/user/query-api": 10,
}


@dataclass(frozen=True, slots=True)
class Reported:
    """The venue's last word on one endpoint's budget."""

    used: int
    limit: int
    reset_ns: int  # venue time


class BybitRateLimits:
    """One rolling-second limiter per endpoint (created on first use), and the venue's reports."""

    def __init__(self, limits: Mapping[str, int] | None = None, safety_ratio: float = 0.9) -> None:
        self.limits = dict(PUBLISHED if limits is None else limits)
        self.safety_ratio = safety_ratio
        self.reported: dict[str, Reported] = {}
        self._limiters: dict[str, RateLimiter] = {}

    def limiter(self, endpoint: str) -> RateLimiter | None:
        limit = self.limits.get(endpoint)
        if limit is None:
            return None
        limiter = self._limiters.get(endpoint)
        if limiter is None:
            limiter = RateLimiter([UsageLimit(LimitKind.RAW_REQUESTS, WINDOW_NS, limit)], self.safety_ratio)
            self._limiters[endpoint] = limiter
        return limiter

    def observe(self, endpoint: str, headers: Mapping[str, str], now_ns: int) -> None:
        """Read the three headers of an answer (ignored when absent or garbled)."""
        try:
            limit = int(headers[LIMIT_HEADER])
            remaining = int(headers[REMAINING_HEADER])
            reset_ms = int(headers.get(RESET_HEADER, "0"))
        except (KeyError, ValueError):
            return
        if limit <= 0:
            return
        used = max(0, limit - remaining)
        self.reported[endpoint] = Reported(used, limit, reset_ms * 1_000_000)
        self.limits.setdefault(endpoint, limit)  # an endpoint we had no published limit for
        limiter = self.limiter(endpoint)
        own = self.limits.get(endpoint)
        if limiter is not None and own is not None:
            # the venue's count in our limiter's units (its limit may differ from the published one)
            limiter.observe_used(LimitKind.RAW_REQUESTS, WINDOW_NS, -(-used * own // limit), now_ns)

    def usage_ratio(self, now_ns: int) -> float:
        """The highest used/limit over our counts and the venue's unexpired reports."""
        ratio = max((limiter.usage_ratio(now_ns) for limiter in self._limiters.values()), default=0.0)
        for report in self.reported.values():
            if now_ns < report.reset_ns:
                ratio = max(ratio, report.used / report.limit)
        return ratio
