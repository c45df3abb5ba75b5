"""Whether a REST request was written, as aiohttp's trace reports it, and which order it places; and
the session every order-entry gateway uses to find out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import aiohttp

from tradestack.ports import Clock

# aiohttp's on_request_headers_sent signature
HeadersSent = Callable[
    [aiohttp.ClientSession, SimpleNamespace, aiohttp.TraceRequestHeadersSentParams], Awaitable[None]
]


class Written(list[bool]):
    """Passed as `trace_request_ctx`: the headers-sent trace appends True. Empty after a failure means
    the request never left (NotSent); non-empty means the venue may have acted (OutcomeUnknown).
    `order`: the venue client order id a new-order request places (for tick-to-order), else None."""

    def __init__(self, order: str | None = None) -> None:
        super().__init__()
        self.order = order


def mark_written(clock: Clock, on_order_written: Callable[[str, int], None] | None) -> HeadersSent:
    """The headers-sent trace for requests carrying a `Written`: marks it, and reports when a new
    order's request was written (client id, monotonic ns) to `on_order_written`."""

    async def headers_sent(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestHeadersSentParams,
    ) -> None:
        sent = context.trace_request_ctx
        if isinstance(sent, Written):
            sent.append(True)
            if sent.order is not None and on_order_written is not None:
                on_order_written(sent.order, clock.monotonic_ns())

    return headers_sent


def order_entry_session(
    timeout: aiohttp.ClientTimeout, keepalive_timeout_s: float, on_headers_sent: HeadersSent
) -> aiohttp.ClientSession:
    """A venue REST session on warm keep-alive connections whose trace tells a request that left from
    one that never did, and that never re-sends a request by itself."""
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(on_headers_sent)
    connector = aiohttp.TCPConnector(keepalive_timeout=keepalive_timeout_s, ttl_dns_cache=300)
    session = aiohttp.ClientSession(
        connector=connector, timeout=timeout, trace_configs=[trace], headers={"User-Agent": "tradestack"}
    )
    # a cancel that reached the venue must not be sent twice by aiohttp's idempotent-retry
    session._retry_connection = False
    return session
