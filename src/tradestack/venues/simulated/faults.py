"""Seeded order-entry faults of the simulated exchange: the ambiguous outcomes a real venue produces.

Each POST /api/v3/order (and DELETE /api/v3/order) draws at most one fault from a seeded generator,
with the probability set per mode:

    exchange = SimulatedExchange(SimConfig(order_faults=OrderFaults(seed=7, drop_ack=0.2)))
    exchange.set_order_faults(OrderFaults(seed=8, error_after_accept=0.05, slow_ack=0.05))

| mode                 | the venue ...                                                                     |
|----------------------|-----------------------------------------------------------------------------------|
| `drop_ack`           | accepts the request, then closes the connection without an answer                 |
| `error_after_accept` | accepts it, then answers HTTP 503 (Binance's "unknown error ... execution status") |
| `error_before_accept`| answers HTTP 503 without acting on it (the client cannot tell which of the two)   |
| `slow_ack`           | accepts it, then holds the answer `slow_ack_s` (past the client's timeout)         |
| `late_accept`        | holds the request `late_accept_s` before acting on it (inside its recvWindow)      |
| `reorder_ack`        | accepts it, then delays the answer up to `reorder_max_s` (answers out of order)   |
| `fill_on_cancel`     | (DELETE) fills the order just before the cancel reaches it: the cancel gets -2011 |

A duplicate client order id of an open order is rejected with -2010 by the venue itself, always.
Cancels draw from `drop_ack`, `error_after_accept` and `slow_ack` too when `faults_on_cancel` is set.
`counts` says how many of each were injected.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from aiohttp import web

from tradestack.domain.events import Side

if TYPE_CHECKING:  # venue.py imports config.py, which imports this module
    from tradestack.venues.simulated.venue import SimVenue

ORDER_MODES = (
    "drop_ack",
    "error_after_accept",
    "error_before_accept",
    "slow_ack",
    "late_accept",
    "reorder_ack",
)
CANCEL_MODES = ("fill_on_cancel", "drop_ack", "error_after_accept", "slow_ack")
# Modes that act before the venue does anything with the request.
BEFORE_ACCEPT = frozenset({"error_before_accept", "late_accept"})


@dataclass(frozen=True, slots=True)
class OrderFaults:
    """Probabilities (0..1) per mode; their sum for one request kind must not exceed 1."""

    seed: int = 0
    drop_ack: float = 0.0
    error_after_accept: float = 0.0
    error_before_accept: float = 0.0
    slow_ack: float = 0.0
    late_accept: float = 0.0
    reorder_ack: float = 0.0
    fill_on_cancel: float = 0.0
    slow_ack_s: float = 2.0  # longer than the client's request timeout
    late_accept_s: float = 0.3  # keep it inside the client's recvWindow, or the venue rejects it
    reorder_max_s: float = 0.05
    faults_on_cancel: bool = True

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in ORDER_MODES + CANCEL_MODES and not 0.0 <= value <= 1.0:
                raise ValueError(f"OrderFaults.{item.name} = {value}: a probability in 0..1")
        for kind, modes in (("order", ORDER_MODES), ("cancel", CANCEL_MODES)):
            total = sum(getattr(self, mode) for mode in modes)
            if total > 1.0 + 1e-9:
                raise ValueError(f"OrderFaults: {kind} probabilities sum to {total:.3f} > 1")

    @property
    def active(self) -> bool:
        return any(getattr(self, mode) > 0 for mode in ORDER_MODES + CANCEL_MODES)


class OrderFaultInjector:
    """Draws the fault of each order-entry request and carries it out around the handler."""

    def __init__(self, faults: OrderFaults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self.counts: Counter[str] = Counter()

    def draw(self, kind: str) -> str | None:
        """The fault for one request of `kind` ("order" or "cancel"), or None."""
        faults = self.faults
        modes: tuple[str, ...]
        if kind == "cancel":
            modes = CANCEL_MODES if faults.faults_on_cancel else ("fill_on_cancel",)
        else:
            modes = ORDER_MODES
        roll = self._rng.random()
        edge = 0.0
        for mode in modes:
            edge += getattr(faults, mode)
            if roll < edge:
                self.counts[f"{kind}:{mode}"] += 1
                return mode
        return None

    async def before(self, mode: str | None) -> None:
        """Run before the venue acts: 503 without acting, or hold the request."""
        if mode == "error_before_accept":
            raise web.HTTPServiceUnavailable(
                text='{"code":-1001,"msg":"Internal error; unable to process your request."}',
                content_type="application/json",
            )
        if mode == "late_accept":
            await asyncio.sleep(self.faults.late_accept_s)

    async def after(self, request: web.Request, mode: str | None, response: web.Response) -> web.Response:
        """Run after the venue accepted: drop, 5xx, hold or delay the answer."""
        if mode == "drop_ack":
            transport = request.transport
            if transport is not None:
                transport.close()  # the answer is never written; aiohttp ignores the closed socket
            return response
        if mode == "error_after_accept":
            return web.Response(
                status=503,
                text='{"code":-1007,"msg":"Timeout waiting for response from backend server. '
                'Send status unknown; execution status unknown."}',
                content_type="application/json",
            )
        if mode == "slow_ack":
            await asyncio.sleep(self.faults.slow_ack_s)
        elif mode == "reorder_ack":
            await asyncio.sleep(self._rng.uniform(0.0, self.faults.reorder_max_s))
        return response

    @staticmethod
    def fill_now(venue: SimVenue, symbol: str, client_order_id: str | None, order_id: int | None) -> bool:
        """Fill the account's open order completely, as if a taker reached it just before the cancel.

        The taker takes everything up to and including the order's price level (price-time priority
        puts the order behind the better levels and, possibly, others at its price)."""
        view = venue.find(symbol, order_id, client_order_id)
        if view is None or not view.is_open:
            return False
        engine = venue.engines[symbol]
        taker = Side.SELL if view.side is Side.BUY else Side.BUY
        size = engine.available(taker, view.price)
        if size <= 0:
            return False
        venue.flow_limit(symbol, taker, view.price, size)
        return True
