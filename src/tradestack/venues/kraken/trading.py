"""Kraken spot order entry as a TradingVenue: the REST gateway's answers in domain values.

Same contract as OkxTrading and CoinbaseTrading: order entry is never retried (NotExecuted vs
OutcomeUnknown decide), an order the venue does not know is None, balances are totals at ASSET_SCALE.
Orders are limit GTC orders. Client ids are the engine's, sent as `cl_ord_id` (client_ids.py); an id
Kraken would refuse is refused here, synchronously, before anything is sent.

Txids are strings; the domain's `venue_order_id` is their 63-bit handle, and `query_by_venue_id`
finds the txid again through the OrderDirectory this instance (and the user stream) fills.

Kraken's CancelAll cancels every pair: `cancel_all(symbol)` cancels that symbol's open orders one by
one instead, waiting for the pair's rate counter where it must (it is the way out, not the hot path);
an order that filled or was canceled meanwhile (`EOrder:Unknown order`) is not a failure.

Fills: TradesHistory does not number trades in order, so `fills(symbol, since)` starts at since's
venue time. Its `start` is exclusive and in whole seconds: we ask from one second before and drop
what is older than `since`, so trades at that very time are included.
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
from tradestack.venues.kraken import rest_gateway as wire
from tradestack.venues.kraken.client_ids import InvalidClientId, OrderDirectory, order_handle, to_kraken
from tradestack.venues.kraken.parse import unix_nanos

MAX_PAGES = 40  # 2000 trades: what one reconciliation reads back at most
QUERY_BATCH = 50  # QueryOrders takes at most 50 txids
_NS = 1_000_000_000


def order_status(status: str, filled: int) -> OrderStatus:
    """Kraken's order status (pending, open, closed, canceled, expired) as ours."""
    if status in ("pending", "open"):
        return OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.NEW
    if status == "closed":
        return OrderStatus.FILLED
    if status == "canceled":
        return OrderStatus.CANCELED
    if status == "expired":
        return OrderStatus.EXPIRED
    return OrderStatus.UNKNOWN


def fee_amount(text: str) -> int:
    """A fee string at ASSET_SCALE: exact, or rounded up past it (a fee is never understated)."""
    point = text.find(".")
    if point < 0 or len(text) - point - 1 <= ASSET_SCALE:
        return _fixed(text)
    kept = _fixed(text[: point + 1 + ASSET_SCALE])
    return kept + 1 if text[point + 1 + ASSET_SCALE :].strip("0") else kept


def _fixed(text: str) -> int:
    return parse_fixed(text, ASSET_SCALE)


def seconds_text(raw: bytes) -> int:
    """A Kraken time (JSON number of seconds, "1688667796.8802") -> nanoseconds, exactly."""
    return unix_nanos(raw.decode("ascii"))


class KrakenTrading:
    name = "kraken"

    def __init__(
        self,
        gateway: wire.KrakenRestGateway,
        instruments: Mapping[str, Instrument],
        directory: OrderDirectory | None = None,
    ) -> None:
        self.gateway = gateway
        self.instruments = instruments
        self.directory = directory if directory is not None else OrderDirectory()

    def submit_now(self, order: Order) -> Awaitable[OrderReport]:
        """Checks the client id now (VenueRejected, nothing sent); the request goes from a task."""
        cl_ord_id = self._cl_ord_id(order.client_id)
        return asyncio.ensure_future(self._submit(order, cl_ord_id))

    async def submit(self, order: Order) -> OrderReport:
        return await self._submit(order, self._cl_ord_id(order.client_id))

    async def _submit(self, order: Order, cl_ord_id: str) -> OrderReport:
        instrument = self.instruments[order.symbol]
        txid = await self.gateway.add_order(
            order.symbol,
            order.side,
            instrument.size_text(order.size),
            instrument.price_text(order.price),
            cl_ord_id,
        )
        return OrderReport(
            client_id=order.client_id,
            symbol=order.symbol,
            status=OrderStatus.NEW,  # AddOrder answers the txid only; fills come on `executions`
            venue_order_id=self.directory.learn(txid, order.client_id),
            filled_total=0,
            fill=None,
            reason="",
            ts_event=0,
        )

    async def cancel(self, order: Order) -> OrderReport:
        """CancelOrder by cl_ord_id. Success means canceled; `EOrder:Unknown order` (not open) is
        raised as VenueRejected for the caller to query, as with any venue."""
        age = self.gateway.venue_time_ns() - order.created_ns if order.created_ns else None
        await self.gateway.cancel_order(order.symbol, cl_ord_id=self._cl_ord_id(order.client_id), age_ns=age)
        return OrderReport(
            client_id=order.client_id,
            symbol=order.symbol,
            status=OrderStatus.CANCELED,
            venue_order_id=order.venue_order_id,
            filled_total=order.filled,
            fill=None,
            reason="",
            ts_event=0,
        )

    async def cancel_all(self, symbol: str) -> None:
        for txid, seen in (await self.gateway.open_orders()).items():
            if self.gateway.symbol_of(seen.descr.pair) != symbol:
                continue
            try:
                age = self.gateway.venue_time_ns() - seconds_text(bytes(seen.opentm))
                await self.gateway.cancel_order(symbol, txid=txid, age_ns=age, wait=True)
            except VenueRejected as rejected:
                if rejected.code != wire.UNKNOWN_ORDER:
                    raise

    async def query(self, symbol: str, client_id: str) -> Order | None:
        try:
            cl_ord_id = to_kraken(client_id)
        except InvalidClientId:
            return None  # never sent: it cannot exist at the venue
        return self._only(await self._existing(self.gateway.query_orders(cl_ord_id=cl_ord_id)), symbol)

    async def query_by_venue_id(self, symbol: str, venue_order_id: int) -> Order | None:
        txid = self.directory.txid(venue_order_id)
        if txid is None:
            await self.open_orders(symbol)  # learns every open order's handle
            txid = self.directory.txid(venue_order_id)
        if txid is None:
            return None
        return self._only(await self._existing(self.gateway.query_orders(txids=[txid])), symbol)

    async def _existing(self, request: Awaitable[dict[str, wire.KrakenOrder]]) -> dict[str, wire.KrakenOrder]:
        try:
            return await request
        except VenueRejected as rejected:
            if rejected.code in (wire.UNKNOWN_ORDER, wire.INVALID_ORDER):
                return {}
            raise

    def _only(self, seen: dict[str, wire.KrakenOrder], symbol: str) -> Order | None:
        # a cl_ord_id is unique among open orders only: the newest of ours on this symbol wins
        found = [
            self._order(txid, order)
            for txid, order in seen.items()
            if self.gateway.symbol_of(order.descr.pair) == symbol
        ]
        return max(found, key=lambda order: order.created_ns) if found else None

    async def open_orders(self, symbol: str) -> list[Order]:
        return [
            self._order(txid, seen)
            for txid, seen in (await self.gateway.open_orders()).items()
            if self.gateway.symbol_of(seen.descr.pair) == symbol
        ]

    async def fills(self, symbol: str, since: Fill | None) -> list[tuple[Fill, int]]:
        """Our trades of `symbol` from `since` on (it included), oldest first, with order handles."""
        instrument = self.instruments[symbol]
        start = None if since is None else since.ts_event // _NS - 1  # `start` is exclusive
        rows: list[tuple[int, int, str, wire.KrakenTrade]] = []
        ofs = 0
        for _ in range(MAX_PAGES):
            page = await self.gateway.trades_history(start, ofs)
            for trade_id, row in page.trades.items():
                if self.gateway.symbol_of(row.pair) != symbol:
                    continue
                ts = seconds_text(bytes(row.time))
                if since is not None and ts < since.ts_event:
                    continue
                rows.append((ts, row.trade_id or 0, trade_id, row))
            ofs += len(page.trades)
            if not page.trades or ofs >= page.count:
                break
        rows.sort(key=lambda entry: entry[:3])
        await self._learn_client_ids({row.ordertxid for *_, row in rows})
        result: list[tuple[Fill, int]] = []
        for ts, _, trade_id, row in rows:
            client_id = self.directory.client_id(row.ordertxid) or ""
            fill = Fill(
                symbol=symbol,
                trade_id=trade_id,
                client_id=client_id,
                side=Side.BUY if row.type == "buy" else Side.SELL,
                price=instrument.price(row.price),
                size=instrument.size(row.vol),
                fee=fee_amount(row.fee),
                fee_asset=instrument.quote,  # Kraken charges spot fees in the quote by default
                ts_event=ts,
            )
            result.append((fill, self.directory.learn(row.ordertxid, client_id)))
        return result

    async def _learn_client_ids(self, txids: set[str]) -> None:
        """TradesHistory names no cl_ord_id: ask the orders we do not know yet, 50 a call."""
        unknown = sorted(txid for txid in txids if self.directory.client_id(txid) is None)
        for start in range(0, len(unknown), QUERY_BATCH):
            seen = await self._existing(self.gateway.query_orders(txids=unknown[start : start + QUERY_BATCH]))
            for txid, order in seen.items():
                self.directory.learn(txid, order.cl_ord_id or None)

    async def balances(self) -> dict[str, int]:
        """Total (available + held) per asset, common names (BTC, not XXBT), at ASSET_SCALE."""
        return await self.gateway.balance()

    async def account_id(self) -> int:
        """Kraken's spot API names no account: the key's handle stands for it (a new key starts a new
        journal; docs/venues/kraken.md)."""
        return order_handle(self.gateway.api_key_fingerprint)

    def _cl_ord_id(self, client_id: str) -> str:
        try:
            return to_kraken(client_id)
        except InvalidClientId as error:
            raise VenueRejected(
                wire.INVALID_ARGUMENTS, f"EGeneral:Invalid arguments:cl_ord_id: {error}", 0
            ) from None

    def _order(self, txid: str, seen: wire.KrakenOrder) -> Order:
        symbol = self.gateway.symbol_of(seen.descr.pair) or seen.descr.pair
        instrument = self.instruments[symbol]
        filled = instrument.size(seen.vol_exec) if seen.vol_exec else 0
        client_id = seen.cl_ord_id or self.directory.client_id(txid) or ""
        return Order(
            client_id=client_id,
            symbol=symbol,
            side=Side.BUY if seen.descr.type == "buy" else Side.SELL,
            price=instrument.price(seen.descr.price) if seen.descr.price else 0,
            size=instrument.size(seen.vol),
            status=order_status(seen.status, filled),
            venue_order_id=self.directory.learn(txid, client_id),
            filled=filled,
            created_ns=seconds_text(bytes(seen.opentm)),
        )
