"""Request weights and rate limits, after Binance's published spot REST weights.

Weights (Binance spot REST docs, 2024-2025; approximate where Binance adjusts by parameters):
  GET  /api/v3/ping 1, /api/v3/time 1, /api/v3/exchangeInfo 20
  GET  /api/v3/depth: limit 1-100 -> 5, 101-500 -> 25, 501-1000 -> 50, 1001-5000 -> 250
  POST /api/v3/order 1, POST /api/v3/order/test 1, DELETE /api/v3/order 1, GET /api/v3/order 4
  GET  /api/v3/openOrders 6 with a symbol, 80 without; DELETE /api/v3/openOrders 1
  GET  /api/v3/account 20; GET /api/v3/myTrades 20, or 5 with orderId
  POST/PUT/DELETE /api/v3/userDataStream 2
Request weight is counted per IP in fixed calendar-minute windows (X-MBX-USED-WEIGHT-1M); orders per
account in fixed 10-second and day windows (X-MBX-ORDER-COUNT-10S / -1D). Every accepted order counts;
Binance's decrement of the unfilled-order count on fills is not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping

from tradestack.venues.simulated import errors

_FIXED: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("POST", "/api/v3/order"): 1,
    ("POST", "/api/v3/order/test"): 1,
    ("DELETE", "/api/v3/order"): 1,
    ("GET", "/api/v3/order"): 4,
    ("DELETE", "/api/v3/openOrders"): 1,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/userDataStream"): 2,
    ("PUT", "/api/v3/userDataStream"): 2,
    ("DELETE", "/api/v3/userDataStream"): 2,
}

MINUTE_MS = 60_000
TEN_SECONDS_MS = 10_000
DAY_MS = 86_400_000


def request_weight(method: str, path: str, query: Mapping[str, str]) -> int:
    """The weight of one request; 1 for paths the sim does not know (they answer 404 anyway)."""
    fixed = _FIXED.get((method, path))
    if fixed is not None:
        return fixed
    if method == "GET" and path == "/api/v3/depth":
        return depth_weight(query.get("limit", "100"))
    if method == "GET" and path == "/api/v3/openOrders":
        return 6 if query.get("symbol") else 80
    if method == "GET" and path == "/api/v3/myTrades":
        return 5 if query.get("orderId") else 20
    return 1


def depth_weight(limit: str) -> int:
    try:
        value = int(limit)
    except ValueError:
        return 5
    if value <= 100:
        return 5
    if value <= 500:
        return 25
    if value <= 1000:
        return 50
    return 250


class RateLimiter:
    """Fixed-window counters: request weight per IP and minute; orders per 10 s and per day."""

    def __init__(self, weight_limit: int, orders_per_10s: int, orders_per_day: int) -> None:
        self.weight_limit = weight_limit
        self.orders_per_10s = orders_per_10s
        self.orders_per_day = orders_per_day
        self._weight: dict[str, tuple[int, int]] = {}  # ip -> (minute window, used)
        self._orders_10s = (0, 0)
        self._orders_day = (0, 0)

    def add_weight(self, ip: str, weight: int, now_ms: int) -> int:
        """Count a request; returns the weight used this minute. Raises -1003 (429) past the limit."""
        window = now_ms // MINUTE_MS
        start, used = self._weight.get(ip, (window, 0))
        if start != window:
            used = 0
        used += weight
        self._weight[ip] = (window, used)
        if used > self.weight_limit:
            retry_after = -(-((window + 1) * MINUTE_MS - now_ms) // 1000)
            error = errors.too_many_requests(self.weight_limit, retry_after)
            error.headers["X-MBX-USED-WEIGHT-1M"] = str(used)
            raise error
        return used

    def used_weight(self, ip: str, now_ms: int) -> int:
        window, used = self._weight.get(ip, (-1, 0))
        return used if window == now_ms // MINUTE_MS else 0

    def add_order(self, now_ms: int) -> tuple[int, int]:
        """Count a new order; returns (10 s count, day count). Raises -1015 (429) past a limit."""
        ten, day = self.order_counts(now_ms)
        if ten + 1 > self.orders_per_10s:
            raise errors.too_many_orders(self.orders_per_10s, "10 SECOND")
        if day + 1 > self.orders_per_day:
            raise errors.too_many_orders(self.orders_per_day, "1 DAY")
        self._orders_10s = (now_ms // TEN_SECONDS_MS, ten + 1)
        self._orders_day = (now_ms // DAY_MS, day + 1)
        return ten + 1, day + 1

    def order_counts(self, now_ms: int) -> tuple[int, int]:
        ten_window, ten = self._orders_10s
        day_window, day = self._orders_day
        return (
            ten if ten_window == now_ms // TEN_SECONDS_MS else 0,
            day if day_window == now_ms // DAY_MS else 0,
        )
