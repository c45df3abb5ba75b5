"""Kraken spot WebSocket wire shapes (msgspec) and the typed book event the parser emits.

WS v2 sends prices and quantities as JSON numbers; they are decoded as `msgspec.Raw` (the exact
number text) and converted to integer units at the pair's precision without float. WS v1 (the
cryptofeed recordings) sends arrays `[channelID, payload, channelName, pair]` with string numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgspec

from tradestack.domain.events import Level

# -- WS v2 ----------------------------------------------------------------------------------------


class Probe(msgspec.Struct, frozen=True):
    channel: str | None = None
    type: str | None = None
    method: str | None = None
    success: bool | None = None
    error: str | None = None
    event: str | None = None  # WS v1 events (heartbeat, systemStatus, subscriptionStatus)
    status: str | None = None
    errorMessage: str | None = None


class RawLevel(msgspec.Struct, frozen=True):
    price: msgspec.Raw
    qty: msgspec.Raw


class BookData(msgspec.Struct, frozen=True):
    symbol: str
    bids: list[RawLevel] = []
    asks: list[RawLevel] = []
    checksum: int | None = None
    timestamp: str | None = None


class BookMessage(msgspec.Struct, frozen=True):
    channel: str
    type: str
    data: list[BookData]


class TradeData(msgspec.Struct, frozen=True):
    symbol: str
    side: str
    price: msgspec.Raw
    qty: msgspec.Raw
    trade_id: Annotated[int, msgspec.Meta(ge=0)]
    timestamp: str


class TradeMessage(msgspec.Struct, frozen=True):
    channel: str
    data: list[TradeData]


class TickerData(msgspec.Struct, frozen=True):
    symbol: str
    bid: msgspec.Raw
    bid_qty: msgspec.Raw
    ask: msgspec.Raw
    ask_qty: msgspec.Raw


class TickerMessage(msgspec.Struct, frozen=True):
    channel: str
    data: list[TickerData]


# -- WS v1 ----------------------------------------------------------------------------------------

V1Trade = tuple[
    int, list[list[str]], str, str
]  # [channelID, [[price, volume, time, side, type, misc]], "trade", pair]


class V1TickerBody(msgspec.Struct, frozen=True):
    a: tuple[str, int | str, str]  # ask: price, whole lot volume, lot volume
    b: tuple[str, int | str, str]  # bid


V1Ticker = tuple[int, V1TickerBody, str, str]

# -- REST -----------------------------------------------------------------------------------------


class AssetPair(msgspec.Struct, frozen=True):
    altname: str
    pair_decimals: Annotated[int, msgspec.Meta(ge=0, le=30)]  # a scale: 0..30 decimals
    lot_decimals: Annotated[int, msgspec.Meta(ge=0, le=30)]
    wsname: str = ""
    base: str = ""
    quote: str = ""


class AssetPairsResponse(msgspec.Struct, frozen=True):
    error: list[str]
    result: dict[str, AssetPair] = {}


@dataclass(frozen=True, slots=True)
class KrakenBookUpdate:
    """One v2 `book` push for one pair: a snapshot or an update (qty 0 removes a level)."""

    symbol: str
    snapshot: bool
    bids: list[Level]
    asks: list[Level]
    checksum: int | None  # CRC32 of the top 10 after applying; None when not sent
    ts_event: int
    ts_recv: int
