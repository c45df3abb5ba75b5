"""Binance spot order entry as a TradingVenue: the REST gateway's answers in domain values.

Orders and cancels take the gateway's fast path (signed and written before `submit_now` returns, on a
warm HTTP/1.1 connection). When no warm connection is idle the gateway says NotSent before counting
or writing anything, so the same request goes by the aiohttp route instead: never a double send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order
from tradestack.domain.positions import ASSET_SCALE, Fill
from tradestack.venues._shared.errors import NotSent, VenueRejected
from tradestack.venues.binance import rest_gateway as wire
from tradestack.venues.binance.user_messages import STATUS

# -2013 "Order does not exist." (query) and -2011 "Unknown order sent." (cancel)
ORDER_DOES_NOT_EXIST = -2013


class BinanceTrading:
    name = "binance"
    # False: every order and cancel through aiohttp (the route before the fast path; benchmarks).
    fast_path = True

    def __init__(self, gateway: wire.BinanceRestGateway, instruments: Mapping[str, Instrument]) -> None:
        self.gateway = gateway
        self.instruments = instruments
        self.fallbacks = 0  # fast-path requests that went by aiohttp for want of an idle connection

    def submit_now(self, order: Order) -> Awaitable[OrderReport]:
        if self.fast_path:
            instrument = self.instruments[order.symbol]
            try:
                ack = self.gateway.new_order_now(
                    order.symbol,
                    order.side,
                    "LIMIT",
                    instrument.size_text(order.size),
                    instrument.price_text(order.price),
                    "GTC",
                    order.client_id,
                    response_type="ACK",  # fills arrive on the user stream; keep the ack small and fast
                )
            except NotSent:
                self.fallbacks += 1  # nothing was written or counted: the aiohttp route is as safe
            else:
                return self._when_acked(order, ack)
        # aiohttp writes from a task: the bytes leave one loop turn later
        return asyncio.ensure_future(self.submit(order))

    def _when_acked(self, order: Order, ack: asyncio.Future[wire.OrderAck]) -> asyncio.Future[OrderReport]:
        # A future chained by callback, not a coroutine: a caller may wait without a task of its own.
        report: asyncio.Future[OrderReport] = ack.get_loop().create_future()

        def answered(done: asyncio.Future[wire.OrderAck]) -> None:
            if report.done():  # the caller stopped waiting
                return
            if done.cancelled():
                report.cancel()
                return
            error = done.exception()
            if error is not None:
                report.set_exception(error)
                return
            try:
                report.set_result(self._acked(order, done.result()))
            except Exception as failure:  # as the awaiting caller would have seen it
                report.set_exception(failure)

        ack.add_done_callback(answered)
        return report

    async def submit(self, order: Order) -> OrderReport:
        instrument = self.instruments[order.symbol]
        ack = await self.gateway.new_order(
            order.symbol,
            order.side,
            "LIMIT",
            instrument.size_text(order.size),
            instrument.price_text(order.price),
            "GTC",
            order.client_id,
            response_type="ACK",
        )
        return self._acked(order, ack)

    def _acked(self, order: Order, ack: wire.OrderAck) -> OrderReport:
        instrument = self.instruments[order.symbol]
        return OrderReport(
            client_id=order.client_id,
            symbol=order.symbol,
            status=STATUS.get(ack.status, order.status) if ack.status else _ACKED,
            venue_order_id=ack.order_id,
            filled_total=instrument.size(ack.executed_qty) if ack.executed_qty else 0,
            fill=None,
            reason="",
            ts_event=ack.transact_time * 1_000_000,
        )

    async def cancel(self, order: Order) -> OrderReport:
        canceled: wire.CanceledOrder | None = None
        if self.fast_path:
            try:
                pending = self.gateway.cancel_order_now(order.symbol, order.client_id)
            except NotSent:
                self.fallbacks += 1
            else:
                canceled = await pending
        if canceled is None:
            canceled = await self.gateway.cancel_order(order.symbol, order.client_id)
        instrument = self.instruments[order.symbol]
        return OrderReport(
            client_id=order.client_id,
            symbol=order.symbol,
            status=STATUS[canceled.status] if canceled.status else STATUS["CANCELED"],
            venue_order_id=canceled.order_id if canceled.order_id >= 0 else order.venue_order_id,
            filled_total=instrument.size(canceled.executed_qty) if canceled.executed_qty else order.filled,
            fill=None,
            reason="",
            ts_event=canceled.transact_time * 1_000_000,
        )

    async def cancel_all(self, symbol: str) -> None:
        try:
            await self.gateway.cancel_all(symbol)
        except VenueRejected as rejected:
            if rejected.code != -2011:  # "Unknown order sent.": nothing was open
                raise

    async def query(self, symbol: str, client_id: str) -> Order | None:
        return await self._existing(self.gateway.query_order(symbol, client_id))

    async def query_by_venue_id(self, symbol: str, venue_order_id: int) -> Order | None:
        return await self._existing(self.gateway.query_order_by_id(symbol, venue_order_id))

    async def _existing(self, request: Awaitable[wire.Order]) -> Order | None:
        """The venue's view of an order; None when the venue says it does not exist (-2013)."""
        try:
            seen = await request
        except VenueRejected as rejected:
            if rejected.code == ORDER_DOES_NOT_EXIST:
                return None
            raise
        return self._order(seen)

    async def open_orders(self, symbol: str) -> list[Order]:
        return [self._order(seen) for seen in await self.gateway.open_orders(symbol)]

    async def fills(self, symbol: str, since: Fill | None) -> list[tuple[Fill, int]]:
        """Binance numbers trades in order per symbol: from `since`'s id on (fromId)."""
        instrument = self.instruments[symbol]
        result: list[tuple[Fill, int]] = []
        from_trade_id = None if since is None else int(since.trade_id)
        while True:
            page = await self.gateway.my_trades(symbol, from_id=from_trade_id, limit=1000)
            for trade in page:
                fill = Fill(
                    symbol=symbol,
                    trade_id=str(trade.id),
                    client_id="",
                    side=Side.BUY if trade.is_buyer else Side.SELL,
                    price=instrument.price(trade.price),
                    size=instrument.size(trade.qty),
                    fee=parse_fixed(trade.commission, ASSET_SCALE),
                    fee_asset=trade.commission_asset,
                    ts_event=trade.time * 1_000_000,
                )
                result.append((fill, trade.order_id))
            if len(page) < 1000 or from_trade_id is None:
                return result
            from_trade_id = page[-1].id + 1

    async def balances(self) -> dict[str, int]:
        account = await self.gateway.account()
        return {
            b.asset: parse_fixed(b.free, ASSET_SCALE) + parse_fixed(b.locked, ASSET_SCALE)
            for b in account.balances
        }

    async def account_id(self) -> int:
        return (await self.gateway.account()).uid

    def _order(self, seen: wire.Order) -> Order:
        instrument = self.instruments[seen.symbol]
        return Order(
            client_id=seen.client_order_id,
            symbol=seen.symbol,
            side=Side(seen.side),
            price=instrument.price(seen.price),
            size=instrument.size(seen.orig_qty),
            status=STATUS[seen.status],
            venue_order_id=seen.order_id,
            filled=instrument.size(seen.executed_qty),
            created_ns=seen.time * 1_000_000,
        )


_ACKED = STATUS["NEW"]
