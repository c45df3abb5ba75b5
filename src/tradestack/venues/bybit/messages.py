"""Bybit public WebSocket wire shapes (msgspec), v5 and the older v2, and the typed book event.

v5 (`orderbook.<depth>.<symbol>`): `{"topic", "type": snapshot|delta, "ts", "cts", "data": {"s", "b", "a",
"u", "seq"}}`, levels `[price, size]` as strings, size "0" removes a level.
v2 (`orderBookL2_25.<symbol>`, recordings from 2021): rows `{"price", "symbol", "id", "side", "size"}` where
`size` (and inverse contracts' trade `price`) is a JSON *number*; it is kept as raw JSON text
(`msgspec.Raw`) so its exact decimal digits survive, never as a float.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from tradestack.domain.events import Level

WireLevel = list[str]


class Probe(msgspec.Struct, frozen=True):
    """Just enough of any frame (either protocol) to route it."""

    topic: str | None = None
    type: str | None = None
    op: str | None = None
    success: bool | None = None
    ret_msg: str | None = None


# -- v5 ------------------------------------------------------------------------------------------


class BookData(msgspec.Struct, frozen=True):
    s: str
    b: list[WireLevel]
    a: list[WireLevel]
    u: int
    seq: int | None = None


class BookMessage(msgspec.Struct, frozen=True):
    topic: str
    type: str
    ts: int
    data: BookData
    cts: int | None = None


class TradeData(msgspec.Struct, frozen=True):
    T: int
    s: str
    S: str
    v: str
    p: str
    i: str


class TradeMessage(msgspec.Struct, frozen=True):
    topic: str
    data: list[TradeData]
    ts: int | None = None


class TickerData(msgspec.Struct, frozen=True):
    symbol: str
    bid1Price: str | None = None
    bid1Size: str | None = None
    ask1Price: str | None = None
    ask1Size: str | None = None


class TickerMessage(msgspec.Struct, frozen=True):
    topic: str
    data: TickerData
    ts: int | None = None


# -- v2 ------------------------------------------------------------------------------------------


class V2Row(msgspec.Struct, frozen=True):
    price: str
    symbol: str
    side: str
    size: msgspec.Raw = msgspec.Raw(b"")  # absent on delete rows


class V2Delta(msgspec.Struct, frozen=True):
    delete: list[V2Row]
    update: list[V2Row]
    insert: list[V2Row]


class V2SnapshotLinear(msgspec.Struct, frozen=True):
    order_book: list[V2Row]


class V2BookMessage(msgspec.Struct, frozen=True):
    """`data` is a list (inverse snapshot), `{"order_book": [...]}` (linear snapshot) or a delta."""

    topic: str
    type: str
    data: msgspec.Raw
    cross_seq: int | str  # a string on linear contracts, a number on inverse ones
    timestamp_e6: int | str


class V2Trade(msgspec.Struct, frozen=True):
    symbol: str
    price: msgspec.Raw  # a string on linear contracts, a number on inverse ones
    size: msgspec.Raw
    side: str
    trade_id: str
    trade_time_ms: msgspec.Raw  # a string on linear contracts, a number on inverse ones


class V2TradeMessage(msgspec.Struct, frozen=True):
    topic: str
    data: list[V2Trade]


class V2PriceFilter(msgspec.Struct, frozen=True):
    tick_size: str


class V2LotFilter(msgspec.Struct, frozen=True):
    qty_step: msgspec.Raw
    min_trading_qty: msgspec.Raw = msgspec.Raw(b"0")


class V2Symbol(msgspec.Struct, frozen=True):
    name: str
    base_currency: str
    quote_currency: str
    price_filter: V2PriceFilter
    lot_size_filter: V2LotFilter


class V2SymbolsResponse(msgspec.Struct, frozen=True):
    ret_code: int
    result: list[V2Symbol]


class InstrumentInfo(msgspec.Struct, frozen=True):
    """v5 `GET /v5/market/instruments-info` item (the fields we use)."""

    symbol: str
    baseCoin: str
    quoteCoin: str
    priceFilter: dict[str, str]
    lotSizeFilter: dict[str, str]


class InstrumentsResult(msgspec.Struct, frozen=True):
    items: list[InstrumentInfo] = msgspec.field(name="list")


class InstrumentsResponse(msgspec.Struct, frozen=True):
    retCode: int
    result: InstrumentsResult


@dataclass(frozen=True, slots=True)
class BybitBookUpdate:
    """One book push for one symbol: a full snapshot or a delta (size 0 removes a level).

    `update_id` is v5's `u` (None on v2, which has none); `seq` is v5's `seq` (the matching engine's
    cross sequence) or v2's `cross_seq`; recorded, and on v2 the only order there is.
    """

    symbol: str
    snapshot: bool
    bids: list[Level]
    asks: list[Level]
    update_id: int | None
    seq: int | None
    ts_event: int
    ts_recv: int
