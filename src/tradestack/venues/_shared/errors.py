"""What a venue request can end in, besides success. The split is what prevents double orders.

VenueError
├── NotExecuted       the venue certainly did not act on the request: safe to send again
│   ├── NotSent       nothing left this process (connection refused, DNS, connect timeout)
│   ├── RateLimited   refused for rate (HTTP 429/418) or held back by our own limiter
│   └── VenueRejected the venue answered with an error (Binance {"code", "msg"} and a 4xx)
└── OutcomeUnknown    the request may have been executed (timeout after sending, connection
                      dropped mid-request, 5xx, or an ambiguous venue code). Resolve it by
                      querying (for orders: by client order id), never by sending again blindly.

Gateways never retry order entry on their own; the caller decides with this information.
"""

from __future__ import annotations


class VenueError(Exception):
    """Base for every failed venue request."""


class NotExecuted(VenueError):
    """The venue did not execute the request."""


class NotSent(NotExecuted):
    """The request never left this process (no connection could be made)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RateLimited(NotExecuted):
    """Refused for rate. `http_status` is None when our own limiter held the request back."""

    def __init__(self, retry_after_seconds: float | None, http_status: int | None = None) -> None:
        source = f"HTTP {http_status}" if http_status is not None else "local limiter"
        super().__init__(f"rate limited ({source}); retry after {retry_after_seconds}s")
        self.retry_after_seconds = retry_after_seconds
        self.http_status = http_status


class VenueRejected(NotExecuted):
    """The venue refused the request with an error code (0 when the body carried none)."""

    def __init__(self, code: int, msg: str, http_status: int) -> None:
        super().__init__(f"rejected by venue: HTTP {http_status}, code {code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status


class OutcomeUnknown(VenueError):
    """The request may or may not have taken effect at the venue."""

    def __init__(self, reason: str, http_status: int | None = None) -> None:
        super().__init__(reason if http_status is None else f"{reason} (HTTP {http_status})")
        self.reason = reason
        self.http_status = http_status
