"""Bybit v5 spot order entry as a TradingVenue: the REST gateway's answers in domain values.

Same contract as OkxTrading: order entry is never retried (NotExecuted vs OutcomeUnknown decide),
an order the venue does not know is None, balances are totals at ASSET_SCALE. Orders are spot limit
orders (GTC). Client ids travel as orderLinkIds (client_ids.py); one Bybit would refuse is refused
here, synchronously, before anything is sent. Bybit's text order ids become integer handles.

Fills: Bybit does not number executions in order (execId is a UUID), so `fills(since)` starts at
since's venue time (execution/list `startTime`, trades at that very millisecond included) and pages
its 7-day ranges forward to now, oldest first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping

from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE, Fill
from tradestack.venues._shared.errors import VenueRejected
from tradestack.venues.bybit import rest_gateway as wire
from tradestack.venues.bybit.client_ids import InvalidClientId, OrderDirectory, from_bybit, to_bybit
from tradestack.venues.bybit.user_messages import STATUS, fee_coin, side_of, signed_fee, time_ns

PARAMETER_ERROR = 10001
_MS = 1_000_000
RANGE_MS = 7 * 24 * 3600 * 1000  # execution/list answers at most 7 days from startTime


class BybitTrading:
    name = "bybit"

    def __init__(
        self,
        gateway: wire.BybitRestGateway,
        instruments: Mapping[str, Instrument],
        directory: OrderDirectory | None = None,
    ) -> None:
        self.gateway = gateway
        self.instruments = instruments
        self.directory = directory if directory is not None else OrderDirectory()

    def submit_now(self, order: Order) -> Awaitable[OrderReport]:
        """Checks the client id now (VenueRejected 10001, nothing sent); the request goes from a task."""
        link_id = self._link_id(order.client_id)
        return asyncio.ensure_future(self._submit(order, link_id))

    async def submit(self, order: Order) -> OrderReport:
        return await self._submit(order, self._link_id(order.client_id))

    async def _submit(self, order: Order, link_id: str) -> OrderReport:
        instrument = self.instruments[order.symbol]
        ack = await self.gateway.place_order(
            order.symbol,
            order.side,
            instrument.size_text(order.size),
            instrument.price_text(order.price),
            link_id,
        )
        return OrderReport(
            client_id=order.client_id,
            symbol=order.symbol,
            status=OrderStatus.NEW,  # the ack carries no state; fills arrive on the private stream
            venue_order_id=self.directory.learn(ack.orderId),
            filled_total=0,
            fill=None,
            reason="",
            ts_event=0,
        )

    async def cancel(self, order: Order) -> OrderReport:
        """POST cancel by orderLinkId. Success means canceled; 110001 (not open or unknown) is raised as
        VenueRejected for the caller to query, as with any venue."""
        ack = await self.gateway.cancel_order(order.symbol, order_link_id=self._link_id(order.client_id))
        return OrderReport(
            client_id=order.client_id,
            symbol=order.symbol,
            status=OrderStatus.CANCELED,
            venue_order_id=self.directory.learn(ack.orderId) if ack.orderId else order.venue_order_id,
            filled_total=order.filled,
            fill=None,
            reason="",
            ts_event=0,
        )

    async def cancel_all(self, symbol: str) -> None:
        """POST /v5/order/cancel-all: one request; nothing open is not an error."""
        await self.gateway.cancel_all(symbol)

    async def query(self, symbol: str, client_id: str) -> Order | None:
        try:
            link_id = to_bybit(client_id)
        except InvalidClientId:
            return None  # never sent: it cannot exist at the venue
        seen = await self.gateway.order(symbol, order_link_id=link_id)
        return None if seen is None else self._order(seen)

    async def query_by_venue_id(self, symbol: str, venue_order_id: int) -> Order | None:
        order_id = self.directory.order_id(venue_order_id)
        if order_id is None:
            return None
        seen = await self.gateway.order(symbol, order_id=order_id)
        return None if seen is None else self._order(seen)

    async def open_orders(self, symbol: str) -> list[Order]:
        result: list[Order] = []
        cursor = ""
        while True:
            page = await self.gateway.open_orders(symbol, cursor)
            result.extend(self._order(seen) for seen in page.items)
            if not page.nextPageCursor or len(page.items) < wire.PAGE:
                return result
            cursor = page.nextPageCursor

    async def fills(self, symbol: str, since: Fill | None) -> list[tuple[Fill, int]]:
        """Our trades from `since`'s venue time on (it included), oldest first; the last 7 days when
        None. Ranges of 7 days are walked forward from `since` to now."""
        instrument = self.instruments[symbol]
        now_ms = self.gateway.venue_time_ns() // _MS
        start_ms = None if since is None else since.ts_event // _MS
        seen: dict[str, tuple[Fill, int]] = {}
        while True:
            cursor = ""
            while True:
                page = await self.gateway.executions(symbol, start_ms, cursor)
                for row in page.items:
                    if row.execType != "Trade" or row.execId in seen:
                        continue
                    seen[row.execId] = (self._fill(instrument, row), self.directory.learn(row.orderId))
                if not page.nextPageCursor or not page.items:
                    break
                cursor = page.nextPageCursor
            if start_ms is None or start_ms + RANGE_MS >= now_ms:
                break
            start_ms += RANGE_MS
        # newest first per page: order by venue time, then by arrival among equal times (stable)
        rows = list(seen.values())
        rows.reverse()
        rows.sort(key=lambda pair: pair[0].ts_event)
        return rows

    async def balances(self) -> dict[str, int]:
        """walletBalance (available + locked) per coin at ASSET_SCALE."""
        account = await self.gateway.wallet()
        return {coin.coin: parse_fixed(coin.walletBalance or "0", ASSET_SCALE) for coin in account.coin}

    async def account_id(self) -> int:
        return (await self.gateway.key_info()).userID

    def _link_id(self, client_id: str) -> str:
        try:
            return to_bybit(client_id)
        except InvalidClientId as error:
            raise VenueRejected(PARAMETER_ERROR, f"orderLinkId: {error}", 0) from None

    def _fill(self, instrument: Instrument, row: wire.Execution) -> Fill:
        side = side_of(row.side)
        return Fill(
            symbol=row.symbol,
            trade_id=row.execId,
            client_id=from_bybit(row.orderLinkId),
            side=side,
            price=instrument.price(row.execPrice),
            size=instrument.size(row.execQty),
            fee=signed_fee(row.execFee),
            fee_asset=fee_coin(row.feeCurrency, side, instrument),
            ts_event=time_ns(row.execTime),
        )

    def _order(self, seen: wire.BybitOrder) -> Order:
        instrument = self.instruments[seen.symbol]
        return Order(
            client_id=from_bybit(seen.orderLinkId),
            symbol=seen.symbol,
            side=side_of(seen.side),
            price=instrument.price(seen.price) if seen.price else 0,
            size=instrument.size(seen.qty),
            status=STATUS.get(seen.orderStatus, OrderStatus.UNKNOWN),
            venue_order_id=self.directory.learn(seen.orderId),
            filled=instrument.size(seen.cumExecQty) if seen.cumExecQty else 0,
            created_ns=int(seen.createdTime) * _MS,
        )
