"""OKX's published REST rate limits, enforced per rule key in fixed 2-second windows.

From the v5 docs (limits per 2 s; the rule says what one budget is shared by):
  POST /api/v5/trade/order                60   User ID + Instrument ID
  POST /api/v5/trade/cancel-order         60   User ID + Instrument ID
  POST /api/v5/trade/cancel-batch-orders  300 orders  User ID + Instrument ID (at most 20 per request)
  GET  /api/v5/trade/order                60   User ID + Instrument ID
  GET  /api/v5/trade/orders-pending       60   User ID
  GET  /api/v5/trade/fills                60   User ID
  GET  /api/v5/account/balance            10   User ID
  GET  /api/v5/account/config              5   User ID
  GET  /api/v5/public/instruments         20   IP + Instrument type
  GET  /api/v5/market/books               40   IP
  GET  /api/v5/public/time                10   IP
Past a limit OKX answers HTTP 429 with code 50011. OKX reports no usage back in REST headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from tradestack.venues.simulated_okx import errors

WINDOW_MS: Final = 2000

PUBLISHED: Final[Mapping[str, int]] = {
    "POST /api/v5/trade/order": 60,
    "POST /api/v5/trade/cancel-order": 60,
    "POST /api/v5/trade/cancel-batch-orders": 300,
    "GET /api/v5/trade/order": 60,
    "GET /api/v5/trade/orders-pending": 60,
    "GET /api/v5/trade/fills": 60,
    "GET /api/v5/account/balance": 10,
    "GET /api/v5/account/config": 5,
    "GET /api/v5/public/instruments": 20,
    "GET /api/v5/market/books": 40,
    "GET /api/v5/public/time": 10,
}


class EndpointLimits:
    """Fixed-window counters per (endpoint, rule key); `overrides` replace published limits (tests)."""

    def __init__(self, overrides: Mapping[str, int] | None = None) -> None:
        self.limits = {**PUBLISHED, **(overrides or {})}
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}
        self.refused = 0

    def count(self, endpoint: str, key: str, now_ms: int, cost: int = 1) -> None:
        """Count `cost` against the endpoint's budget for `key`; 50011 (HTTP 429) past the limit."""
        limit = self.limits.get(endpoint)
        if limit is None:
            return
        window = now_ms // WINDOW_MS
        start, used = self._windows.get((endpoint, key), (window, 0))
        if start != window:
            used = 0
        if used + cost > limit:
            self._windows[(endpoint, key)] = (window, used)
            self.refused += 1
            raise errors.rate_limited()
        self._windows[(endpoint, key)] = (window, used + cost)
