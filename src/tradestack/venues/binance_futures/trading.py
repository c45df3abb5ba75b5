"""USD-M (and COIN-M) futures order entry as a TradingVenue: the gateway's answers in domain values.

As on spot, orders and cancels take the warm-connection fast path and fall back to aiohttp only when
nothing was written (NotSent). Orders are LIMIT GTC, or GTX (post-only: the venue refuses one that
would take, -5022) when `post_only` is set. Balances are the wallet per margin asset plus, per traded
contract, the signed position under its position asset (instrument.base), at ASSET_SCALE. On COIN-M
sizes are contracts and the wallet is the coin; nothing else differs here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, parse_fixed, pow10
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order
from tradestack.domain.positions import ASSET_SCALE, Fill
from tradestack.venues._shared.errors import NotSent, VenueRejected
from tradestack.venues.binance.user_messages import STATUS
from tradestack.venues.binance_futures.rest_gateway import (
    COINM,
    BinanceFuturesRestGateway,
    FuturesOrder,
    FuturesTimeInForce,
)

ORDER_DOES_NOT_EXIST = -2013  # GET /fapi/v1/order
GTX_WOULD_TAKE = -5022  # a post-only order that would have taken
PAGE = 1000  # userTrades' largest page


class BinanceFuturesTrading:
    fast_path = True

    def __init__(
        self,
        gateway: BinanceFuturesRestGateway,
        instruments: Mapping[str, Instrument],
        post_only: bool = False,
    ) -> None:
        self.gateway = gateway
        self.instruments = instruments
        self.name = "binance-coinm" if gateway.api is COINM else "binance-futures"
        self.time_in_force: FuturesTimeInForce = "GTX" if post_only else "GTC"
        self.fallbacks = 0  # fast-path requests that went by aiohttp for want of an idle connection

    def submit_now(self, order: Order) -> Awaitable[OrderReport]:
        if self.fast_path:
            instrument = self.instruments[order.symbol]
            try:
                ack = self.gateway.place_order_now(
                    order.symbol,
                    order.side,
                    "LIMIT",
                    instrument.size_text(order.size),
                    instrument.price_text(order.price),
                    self.time_in_force,
                    order.client_id,
                )
            except NotSent:
                self.fallbacks += 1  # nothing written or counted: the aiohttp route is as safe
            else:
                return self._when_acked(order, ack)
        return asyncio.ensure_future(self.submit(order))

    def _when_acked(self, order: Order, ack: asyncio.Future[FuturesOrder]) -> asyncio.Future[OrderReport]:
        report: asyncio.Future[OrderReport] = ack.get_loop().create_future()

        def answered(done: asyncio.Future[FuturesOrder]) -> None:
            if report.done():
                return
            if done.cancelled():
                report.cancel()
                return
            error = done.exception()
            if error is not None:
                report.set_exception(error)
                return
            try:
                report.set_result(self._report(done.result()))
            except Exception as failure:  # as an awaiting caller would have seen it
                report.set_exception(failure)

        ack.add_done_callback(answered)
        return report

    async def submit(self, order: Order) -> OrderReport:
        instrument = self.instruments[order.symbol]
        placed = await self.gateway.place_order(
            order.symbol,
            order.side,
            "LIMIT",
            instrument.size_text(order.size),
            instrument.price_text(order.price),
            self.time_in_force,
            order.client_id,
        )
        return self._report(placed)

    async def cancel(self, order: Order) -> OrderReport:
        canceled: FuturesOrder | None = None
        if self.fast_path:
            try:
                pending = self.gateway.cancel_by_client_id_now(order.symbol, order.client_id)
            except NotSent:
                self.fallbacks += 1
            else:
                canceled = await pending
        if canceled is None:
            canceled = await self.gateway.cancel_by_client_id(order.symbol, order.client_id)
        return self._report(canceled)

    async def cancel_all(self, symbol: str) -> None:
        await self.gateway.cancel_all_orders(symbol)  # code 200 even when nothing was open

    async def query(self, symbol: str, client_id: str) -> Order | None:
        return await self._existing(self.gateway.order_by_client_id(symbol, client_id))

    async def query_by_venue_id(self, symbol: str, venue_order_id: int) -> Order | None:
        return await self._existing(self.gateway.order_by_id(symbol, venue_order_id))

    async def _existing(self, request: Awaitable[FuturesOrder]) -> Order | None:
        try:
            seen = await request
        except VenueRejected as rejected:
            if rejected.code == ORDER_DOES_NOT_EXIST:
                return None
            raise
        return self._order(seen)

    async def open_orders(self, symbol: str) -> list[Order]:
        return [self._order(seen) for seen in await self.gateway.open_orders_of(symbol)]

    async def fills(self, symbol: str, since: Fill | None) -> list[tuple[Fill, int]]:
        """Futures number trades in order per symbol: from `since`'s id on (fromId), page by page."""
        instrument = self.instruments[symbol]
        result: list[tuple[Fill, int]] = []
        from_id = None if since is None else int(since.trade_id)
        while True:
            page = await self.gateway.user_trades(symbol, from_id=from_id, limit=PAGE)
            for trade in page:
                fill = Fill(
                    symbol=symbol,
                    trade_id=str(trade.id),
                    client_id="",
                    side=Side(trade.side),
                    price=instrument.price(trade.price),
                    size=instrument.size(trade.qty),
                    fee=parse_fixed(trade.commission, ASSET_SCALE),
                    fee_asset=trade.commission_asset,
                    ts_event=trade.time * 1_000_000,
                )
                result.append((fill, trade.order_id))
            if len(page) < PAGE or from_id is None:
                return result
            from_id = page[-1].id + 1

    async def balances(self) -> dict[str, int]:
        """Wallet balance per asset, and each traded contract's signed position (0 when flat)."""
        totals = {b.asset: parse_fixed(b.balance, ASSET_SCALE) for b in await self.gateway.futures_balances()}
        for instrument in self.instruments.values():
            totals[instrument.base] = 0
        for risk in await self.gateway.position_risk():
            traded = self.instruments.get(risk.symbol)
            if traded is None or risk.position_side != "BOTH":
                continue  # another contract, or a hedge-mode leg: not traded here
            size = parse_fixed(risk.position_amt, traded.size_scale)
            totals[traded.base] = size * pow10(ASSET_SCALE - traded.size_scale)
        return totals

    async def account_id(self) -> int:
        """USD-M names no account id: the key's fingerprint stands for it, so a new key starts a new
        journal (docs/venues/binance.md)."""
        return int(self.gateway.api_key_fingerprint, 16)

    def _report(self, seen: FuturesOrder) -> OrderReport:
        instrument = self.instruments[seen.symbol]
        return OrderReport(
            client_id=seen.client_order_id,
            symbol=seen.symbol,
            status=STATUS[seen.status],
            venue_order_id=seen.order_id,
            filled_total=instrument.size(seen.executed_qty),
            fill=None,  # fills arrive on the user stream (and by userTrades when reconciling)
            reason="",
            ts_event=seen.update_time * 1_000_000,
        )

    def _order(self, seen: FuturesOrder) -> Order:
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
