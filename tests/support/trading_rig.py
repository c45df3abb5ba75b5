"""Pieces the in-process trading rigs of tests/reliability share: a strategy that never trades,
connecting a gateway to a venue the way the runtime does, and percentiles for the figures."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import TradePrint
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.state import Order
from tradestack.domain.positions import Fill
from tradestack.engine.strategy import Context
from tradestack.venues._shared.rate_limit import RateLimiter
from tradestack.venues.binance.rest_gateway import BinanceRestGateway, limits_from_exchange_info


class Idle:
    """A strategy that places nothing: the test drives every order itself."""

    def on_book(self, ctx: Context, symbol: str, book: OrderBook) -> None:
        pass

    def on_trade(self, ctx: Context, trade: TradePrint) -> None:
        pass

    def on_order(self, ctx: Context, order: Order) -> None:
        pass

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        pass


async def connect(gateway: BinanceRestGateway, symbols: Sequence[str]) -> dict[str, Instrument]:
    """Start the gateway as TradingRuntime.start does: clock offset, the venue's own rate limits, and
    the instruments of `symbols`."""
    await asyncio.wait_for(gateway.start(), 10)
    await asyncio.wait_for(gateway.sync_time(), 10)
    info = await asyncio.wait_for(gateway.exchange_info(list(symbols)), 10)
    gateway.limiter = RateLimiter(limits_from_exchange_info(info.rate_limits))
    return {s.symbol: s.instrument("binance") for s in info.symbols if s.symbol in symbols}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile by rank (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
