"""Binance market-data wire messages as msgspec Structs (spot and USD-M / COIN-M futures).

Field names are spelled out; `name=` keeps Binance's one-letter keys on the wire. Prices and sizes
stay the venue's decimal strings here: parse.py turns them into exact integers. Unknown keys are
ignored, so a field Binance adds later does not break decoding. `gc=False`: these hold no cycles.

The `Raw...` variants keep each side's level array as the undecoded JSON bytes (`msgspec.Raw`), for the
C conversion (`tradestack._native.levels_from_json`), which reads the array itself: decoding ~36 levels
into tuples of strings costs more than the whole C conversion.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

# One price level as sent: [price, size], both decimal strings.
WireLevel = tuple[str, str]
# Times in ms that fit int64 nanoseconds (to year 2262), and ids: never negative. A frame breaking
# these is rejected at decode (msgspec checks them in C), so it becomes one Malformed.
Millis = Annotated[int, msgspec.Meta(ge=0, le=(2**63 - 1) // 1_000_000)]
Id = Annotated[int, msgspec.Meta(ge=0)]


class DepthUpdate(msgspec.Struct, gc=False):
    """`<symbol>@depth` / `@depth@100ms` diff. Futures add `T` (transaction time) and `pu`."""

    event_type: str = msgspec.field(name="e")
    event_time_ms: Millis = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    first_update_id: Id = msgspec.field(name="U")
    final_update_id: Id = msgspec.field(name="u")
    bids: list[WireLevel] = msgspec.field(name="b")
    asks: list[WireLevel] = msgspec.field(name="a")
    # USD-M / COIN-M futures only: the previous event's final update id, -1 on spot
    previous_final_update_id: Annotated[int, msgspec.Meta(ge=-1)] = msgspec.field(default=-1, name="pu")
    transaction_time_ms: Millis = msgspec.field(default=0, name="T")


class RawDepthUpdate(msgspec.Struct, gc=False):
    """`DepthUpdate` with each side's level array left as JSON bytes."""

    event_type: str = msgspec.field(name="e")
    event_time_ms: Millis = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    first_update_id: Id = msgspec.field(name="U")
    final_update_id: Id = msgspec.field(name="u")
    bids: msgspec.Raw = msgspec.field(name="b")
    asks: msgspec.Raw = msgspec.field(name="a")
    previous_final_update_id: Annotated[int, msgspec.Meta(ge=-1)] = msgspec.field(default=-1, name="pu")
    transaction_time_ms: Millis = msgspec.field(default=0, name="T")


class BookTicker(msgspec.Struct, gc=False):
    """`<symbol>@bookTicker`. Spot sends no `e`/`E`/`T`; futures do."""

    update_id: Id = msgspec.field(name="u")
    symbol: str = msgspec.field(name="s")
    bid_price: str = msgspec.field(name="b")
    bid_size: str = msgspec.field(name="B")
    ask_price: str = msgspec.field(name="a")
    ask_size: str = msgspec.field(name="A")
    event_type: str = msgspec.field(default="bookTicker", name="e")
    event_time_ms: Millis = msgspec.field(default=0, name="E")
    transaction_time_ms: Millis = msgspec.field(default=0, name="T")


class Trade(msgspec.Struct, gc=False):
    """`<symbol>@trade`. `m` true: the buyer was the maker, so the aggressor sold."""

    event_type: str = msgspec.field(name="e")
    event_time_ms: Millis = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    trade_id: Id = msgspec.field(name="t")
    price: str = msgspec.field(name="p")
    size: str = msgspec.field(name="q")
    trade_time_ms: Millis = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")


class AggregateTrade(msgspec.Struct, gc=False):
    """`<symbol>@aggTrade`: trades at one price from one taker order, id `a`."""

    event_type: str = msgspec.field(name="e")
    event_time_ms: Millis = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    aggregate_id: Id = msgspec.field(name="a")
    price: str = msgspec.field(name="p")
    size: str = msgspec.field(name="q")
    first_trade_id: Id = msgspec.field(name="f")
    last_trade_id: Id = msgspec.field(name="l")
    trade_time_ms: Millis = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")


class DepthSnapshot(msgspec.Struct, gc=False):
    """REST `GET /api/v3/depth` (spot) or `/fapi/v1/depth` (futures, which adds `E` and `T`)."""

    last_update_id: Id = msgspec.field(name="lastUpdateId")
    bids: list[WireLevel]
    asks: list[WireLevel]
    event_time_ms: Millis = msgspec.field(default=0, name="E")
    transaction_time_ms: Millis = msgspec.field(default=0, name="T")


class RawDepthSnapshot(msgspec.Struct, gc=False):
    """`DepthSnapshot` with each side's level array left as JSON bytes."""

    last_update_id: Id = msgspec.field(name="lastUpdateId")
    bids: msgspec.Raw
    asks: msgspec.Raw
    event_time_ms: Millis = msgspec.field(default=0, name="E")
    transaction_time_ms: Millis = msgspec.field(default=0, name="T")


# Combined-stream envelopes `{"stream": "<symbol>@<channel>", "data": {...}}`, one per payload type, so
# the hot path decodes a frame in one pass once the channel is known from the stream name.
class DepthEnvelope(msgspec.Struct, gc=False):
    stream: str
    data: DepthUpdate


class RawDepthEnvelope(msgspec.Struct, gc=False):
    stream: str
    data: RawDepthUpdate


class BookTickerEnvelope(msgspec.Struct, gc=False):
    stream: str
    data: BookTicker


class TradeEnvelope(msgspec.Struct, gc=False):
    stream: str
    data: Trade


class AggregateTradeEnvelope(msgspec.Struct, gc=False):
    stream: str
    data: AggregateTrade


class FrameProbe(msgspec.Struct, gc=False):
    """Just enough of any frame to route it: envelope, event type, acks and errors."""

    stream: str | None = None
    data: msgspec.Raw = msgspec.Raw()  # empty when the frame has no envelope
    event_type: str | None = msgspec.field(default=None, name="e")
    update_id: int | None = msgspec.field(default=None, name="u")
    best_ask_size: str | None = msgspec.field(default=None, name="A")
    last_update_id: int | None = msgspec.field(default=None, name="lastUpdateId")
    request_id: int | str | None = msgspec.field(default=None, name="id")
    code: int | None = None
    msg: str | None = None
    error: msgspec.Raw = msgspec.Raw()
