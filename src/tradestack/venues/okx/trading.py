"""OKX spot order entry as a TradingVenue: the REST gateway's answers in domain values.

Same contract as BinanceTrading: order entry is never retried (NotExecuted vs OutcomeUnknown decide),
an order the venue does not know is None, balances are totals at ASSET_SCALE. Orders are spot limit
orders in `cash` mode (GTC). Client ids are the engine's, written as OKX clOrdIds (client_ids.py); an
id OKX would refuse is refused here, synchronously, before anything is sent.

OKX has no spot "cancel all": `cancel_all` pages the open orders and cancels them by ordId in
batches of 20 (cancel-batch-orders); an order that filled or was canceled meanwhile (51400-51402) is
not a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE, Fill
from tradestack.venues._shared.errors import VenueRejected
from tradestack.venues.okx import rest_gateway as wire
from tradestack.venues.okx.client_ids import InvalidClientId, from_okx, to_okx
from tradestack.venues.okx.user_messages import STATE, signed_fee

ORDER_DOES_NOT_EXIST = 51603
# 51400 "cancellation failed as the order has been filled, canceled or does not exist",
# 51401 "already canceled", 51402 "already completed"
CANCEL_NOT_OPEN = frozenset({51400, 51401, 51402})
PARAMETER_ERROR = 51000
_MS = 1_000_000


class OkxTrading:
    name = "okx"

    def __init__(self, gateway: wire.OkxRestGateway, instruments: Mapping[str, Instrument]) -> None:
        self.gateway = gateway
        self.instruments = instruments

    def submit_now(self, order: Order) -> Awaitable[OrderReport]:
        """Checks the client id now (VenueRejected 51000, nothing sent); the request goes from a task."""
        venue_id = self._venue_id(order.client_id)
        return asyncio.ensure_future(self._submit(order, venue_id))

    async def submit(self, order: Order) -> OrderReport:
        return await self._submit(order, self._venue_id(order.client_id))

    async def _submit(self, order: Order, venue_id: str) -> OrderReport:
        instrument = self.instruments[order.symbol]
        ack = await self.gateway.place_order(
            order.symbol,
            order.side,
            "limit",
            instrument.size_text(order.size),
            instrument.price_text(order.price),
            venue_id,
        )
        return OrderReport(
            client_id=order.client_id,
            symbol=order.symbol,
            status=OrderStatus.NEW,  # the ack carries no state; fills arrive on the private stream
            venue_order_id=int(ack.ordId),
            filled_total=0,
            fill=None,
            reason="",
            ts_event=int(ack.ts) * _MS if ack.ts.isdigit() else 0,
        )

    async def cancel(self, order: Order) -> OrderReport:
        """POST cancel-order by clOrdId. Success means canceled; 51400 (not open) is raised as
        VenueRejected for the caller to query, as with any venue."""
        ack = await self.gateway.cancel_order(order.symbol, client_order_id=self._venue_id(order.client_id))
        return OrderReport(
            client_id=order.client_id,
            symbol=order.symbol,
            status=OrderStatus.CANCELED,
            venue_order_id=int(ack.ordId) if ack.ordId.isdigit() else order.venue_order_id,
            filled_total=order.filled,
            fill=None,
            reason="",
            ts_event=int(ack.ts) * _MS if ack.ts.isdigit() else 0,
        )

    async def cancel_all(self, symbol: str) -> None:
        open_ids = [str(order.venue_order_id) for order in await self.open_orders(symbol)]
        for start in range(0, len(open_ids), wire.MAX_BATCH):
            acks = await self.gateway.cancel_batch(symbol, open_ids[start : start + wire.MAX_BATCH])
            for ack in acks:
                code = int(ack.sCode) if ack.sCode.isdigit() else -1
                if code != 0 and code not in CANCEL_NOT_OPEN:
                    raise VenueRejected(code, f"ordId {ack.ordId}: {ack.sMsg}", 200)

    async def query(self, symbol: str, client_id: str) -> Order | None:
        return await self._existing(self.gateway.order(symbol, client_order_id=self._venue_id(client_id)))

    async def query_by_venue_id(self, symbol: str, venue_order_id: int) -> Order | None:
        return await self._existing(self.gateway.order(symbol, order_id=str(venue_order_id)))

    async def _existing(self, request: Awaitable[wire.OkxOrder]) -> Order | None:
        try:
            seen = await request
        except VenueRejected as rejected:
            if rejected.code == ORDER_DOES_NOT_EXIST:
                return None
            raise
        return self._order(seen)

    async def open_orders(self, symbol: str) -> list[Order]:
        result: list[Order] = []
        after: str | None = None
        while True:
            page = await self.gateway.orders_pending(symbol, after=after)
            result.extend(self._order(seen) for seen in page)
            if len(page) < wire.PAGE:
                return result
            after = page[-1].ordId

    async def fills(self, symbol: str, since: Fill | None) -> list[tuple[Fill, int]]:
        """Our fills of the last 3 days (OKX's /trade/fills window) from `since`'s trade id on (OKX
        numbers trades in order per instrument), oldest first."""
        instrument = self.instruments[symbol]
        from_trade_id = None if since is None else int(since.trade_id)
        newest_first: list[tuple[Fill, int]] = []
        after: str | None = None
        while True:
            page = await self.gateway.fills(symbol, after=after)
            reached = False
            for row in page:
                trade_id = int(row.tradeId)
                if from_trade_id is not None and trade_id < from_trade_id:
                    reached = True
                    continue
                fill = Fill(
                    symbol=symbol,
                    trade_id=str(trade_id),
                    client_id=from_okx(row.clOrdId),
                    side=Side.BUY if row.side == "buy" else Side.SELL,
                    price=instrument.price(row.fillPx),
                    size=instrument.size(row.fillSz),
                    fee=signed_fee(row.fee),
                    fee_asset=row.feeCcy,
                    ts_event=int(row.ts) * _MS,
                )
                newest_first.append((fill, int(row.ordId)))
            if len(page) < wire.PAGE or reached:
                newest_first.reverse()
                return newest_first
            after = page[-1].billId

    async def balances(self) -> dict[str, int]:
        """Total (cash balance: available + frozen) per currency at ASSET_SCALE."""
        account = await self.gateway.balance()
        return {detail.ccy: parse_fixed(detail.cashBal, ASSET_SCALE) for detail in account.details}

    async def account_id(self) -> int:
        return int(await self.gateway.account_uid())

    def _venue_id(self, client_id: str) -> str:
        try:
            return to_okx(client_id)
        except InvalidClientId as error:
            raise VenueRejected(PARAMETER_ERROR, f"Parameter clOrdId error: {error}", 0) from None

    def _order(self, seen: wire.OkxOrder) -> Order:
        instrument = self.instruments[seen.instId]
        return Order(
            client_id=from_okx(seen.clOrdId),
            symbol=seen.instId,
            side=Side.BUY if seen.side == "buy" else Side.SELL,
            price=instrument.price(seen.px) if seen.px else 0,
            size=instrument.size(seen.sz),
            status=STATE.get(seen.state, OrderStatus.UNKNOWN),
            venue_order_id=int(seen.ordId),
            filled=instrument.size(seen.accFillSz) if seen.accFillSz else 0,
            created_ns=int(seen.cTime) * _MS,
        )
