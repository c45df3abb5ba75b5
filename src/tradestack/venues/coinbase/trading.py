"""Coinbase Exchange spot order entry as a TradingVenue: the REST gateway's answers in domain values.

Same contract as BinanceTrading and OkxTrading: order entry is never retried (NotExecuted vs
OutcomeUnknown decide), an order the venue does not know is None, balances are totals at
ASSET_SCALE. Orders are limit GTC orders. Client ids are the engine's, written as client_oid UUIDs
(client_ids.py); an id that cannot be written so is refused here, synchronously, before anything
is sent. Queries and cancels go by client_oid (`/orders/client:{client_oid}`).

Order ids are UUIDs; the domain's `venue_order_id` is their 63-bit handle (client_ids.order_handle),
and `query_by_venue_id` finds the UUID again through the OrderDirectory this instance (and the user
stream, when given the same one) fills from every order it sees. GET /fills names no client_oid: the
client id of each fill's order is asked once (GET /orders/{id}) and remembered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, NotRepresentable, parse_fixed
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE, Fill
from tradestack.venues._shared.errors import VenueRejected
from tradestack.venues.coinbase import rest_gateway as wire
from tradestack.venues.coinbase.client_ids import (
    InvalidClientId,
    OrderDirectory,
    from_coinbase,
    order_handle,
    to_coinbase,
)
from tradestack.venues.coinbase.parse import iso_nanos

NOT_FOUND = 404
BAD_REQUEST = 400
INVALID_CLIENT_OID = "Invalid client_oid"


def order_status(order: wire.CoinbaseOrder, filled: int) -> OrderStatus:
    status = order.status
    if status in ("pending", "open", "active", "received"):
        return OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.NEW
    if status == "done":
        if order.done_reason == "filled":
            return OrderStatus.FILLED
        return OrderStatus.CANCELED
    if status == "rejected":
        return OrderStatus.REJECTED
    return OrderStatus.UNKNOWN


def fee_amount(text: str) -> int:
    """A fee string (Coinbase writes 16 decimals) at ASSET_SCALE: exact, or rounded up past 8
    decimals (a charged fee is never understated)."""
    try:
        return parse_fixed(text, ASSET_SCALE)
    except NotRepresentable:
        point = text.find(".")
        return parse_fixed(text[: point + 1 + ASSET_SCALE], ASSET_SCALE) + 1


class CoinbaseTrading:
    name = "coinbase"

    def __init__(
        self,
        gateway: wire.CoinbaseRestGateway,
        instruments: Mapping[str, Instrument],
        directory: OrderDirectory | None = None,
    ) -> None:
        self.gateway = gateway
        self.instruments = instruments
        self.directory = directory if directory is not None else OrderDirectory()

    def submit_now(self, order: Order) -> Awaitable[OrderReport]:
        """Checks the client id now (VenueRejected 400, nothing sent); the request goes from a task."""
        client_oid = self._client_oid(order.client_id)
        return asyncio.ensure_future(self._submit(order, client_oid))

    async def submit(self, order: Order) -> OrderReport:
        return await self._submit(order, self._client_oid(order.client_id))

    async def _submit(self, order: Order, client_oid: str) -> OrderReport:
        instrument = self.instruments[order.symbol]
        placed = await self.gateway.place_order(
            order.symbol,
            order.side,
            instrument.size_text(order.size),
            instrument.price_text(order.price),
            client_oid,
        )
        handle = self.directory.learn(placed.id, order.client_id)
        return OrderReport(
            client_id=order.client_id,
            symbol=order.symbol,
            status=OrderStatus.NEW,  # "pending": the matching engine has not seen it yet
            venue_order_id=handle,
            filled_total=0,
            fill=None,
            reason="",
            ts_event=iso_nanos(placed.created_at) if placed.created_at else 0,
        )

    async def cancel(self, order: Order) -> OrderReport:
        """DELETE /orders/client:{client_oid}. Success means canceled; 400 "Order already done" and 404
        are raised as VenueRejected for the caller to query, as with any venue."""
        order_id = await self.gateway.cancel_order(order.symbol, client_oid=self._client_oid(order.client_id))
        return OrderReport(
            client_id=order.client_id,
            symbol=order.symbol,
            status=OrderStatus.CANCELED,
            venue_order_id=self.directory.learn(order_id, order.client_id),
            filled_total=order.filled,
            fill=None,
            reason="",
            ts_event=0,
        )

    async def cancel_all(self, symbol: str) -> None:
        """DELETE /orders?product_id=: one request, whatever the number of open orders."""
        await self.gateway.cancel_all(symbol)

    async def query(self, symbol: str, client_id: str) -> Order | None:
        try:
            client_oid = to_coinbase(client_id)
        except InvalidClientId:
            return None  # never sent: it cannot exist at the venue
        return await self._existing(self.gateway.order(client_oid=client_oid), symbol)

    async def query_by_venue_id(self, symbol: str, venue_order_id: int) -> Order | None:
        order_id = self.directory.order_id(venue_order_id)
        if order_id is None:
            await self.open_orders(symbol)  # learns every open order's handle
            order_id = self.directory.order_id(venue_order_id)
        if order_id is None:
            return None
        return await self._existing(self.gateway.order(order_id=order_id), symbol)

    async def _existing(self, request: Awaitable[wire.CoinbaseOrder], symbol: str) -> Order | None:
        try:
            seen = await request
        except VenueRejected as rejected:
            if rejected.code == NOT_FOUND:
                return None
            raise
        if seen.product_id != symbol:
            return None
        return self._order(seen)

    async def open_orders(self, symbol: str) -> list[Order]:
        result: list[Order] = []
        after: str | None = None
        while True:
            page, cursor = await self.gateway.orders(symbol, "open", after)
            result.extend(self._order(seen) for seen in page)
            if len(page) < wire.PAGE or cursor is None:
                return result
            after = cursor

    async def fills(self, symbol: str, since: Fill | None) -> list[tuple[Fill, int]]:
        """Our fills from `since`'s trade id on (Coinbase numbers trades in order per product), oldest
        first, with each order's handle."""
        instrument = self.instruments[symbol]
        from_trade_id = None if since is None else int(since.trade_id)
        rows: list[wire.CoinbaseFill] = []
        after: str | None = None
        while True:
            page, cursor = await self.gateway.fills(symbol, after)
            reached = False
            for row in page:
                if from_trade_id is not None and row.trade_id < from_trade_id:
                    reached = True
                    continue
                rows.append(row)
            if len(page) < wire.PAGE or cursor is None or reached:
                break
            after = cursor
        result: list[tuple[Fill, int]] = []
        for row in reversed(rows):
            client_id = await self._client_id_of(row.order_id)
            fill = Fill(
                symbol=symbol,
                trade_id=str(row.trade_id),
                client_id=client_id,
                side=Side.BUY if row.side == "buy" else Side.SELL,
                price=instrument.price(row.price),
                size=instrument.size(row.size),
                fee=fee_amount(row.fee),
                fee_asset=instrument.quote,
                ts_event=iso_nanos(row.created_at),
            )
            result.append((fill, self.directory.learn(row.order_id, client_id)))
        return result

    async def _client_id_of(self, order_id: str) -> str:
        known = self.directory.client_id(order_id)
        if known is not None:
            return known
        try:
            seen = await self.gateway.order(order_id=order_id)
        except VenueRejected as rejected:
            if rejected.code == NOT_FOUND:
                return ""
            raise
        return from_coinbase(seen.client_oid)

    async def balances(self) -> dict[str, int]:
        """Total (`balance` = available + hold) per currency at ASSET_SCALE."""
        return {row.currency: parse_fixed(row.balance, ASSET_SCALE) for row in await self.gateway.accounts()}

    async def account_id(self) -> int:
        """The profile id (a UUID) of the key's accounts, as a 63-bit handle."""
        accounts = await self.gateway.accounts()
        profiles = {row.profile_id for row in accounts if row.profile_id}
        if len(profiles) != 1:
            raise VenueRejected(0, f"expected one profile behind the key, saw {len(profiles)}", 200)
        return order_handle(profiles.pop())

    def _client_oid(self, client_id: str) -> str:
        try:
            return to_coinbase(client_id)
        except InvalidClientId as error:
            raise VenueRejected(BAD_REQUEST, f"{INVALID_CLIENT_OID}: {error}", 0) from None

    def _order(self, seen: wire.CoinbaseOrder) -> Order:
        instrument = self.instruments[seen.product_id]
        client_id = from_coinbase(seen.client_oid) if seen.client_oid else self.directory.client_id(seen.id)
        filled = instrument.size(seen.filled_size) if seen.filled_size else 0
        return Order(
            client_id=client_id or "",
            symbol=seen.product_id,
            side=Side.BUY if seen.side == "buy" else Side.SELL,
            price=instrument.price(seen.price) if seen.price else 0,
            size=instrument.size(seen.size) if seen.size else 0,
            status=order_status(seen, filled),
            venue_order_id=self.directory.learn(seen.id, client_id),
            filled=filled,
            created_ns=iso_nanos(seen.created_at) if seen.created_at else 0,
        )
