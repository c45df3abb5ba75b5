"""Coinbase Exchange ws-feed wire shapes (msgspec), and the typed events the parser emits.

Every frame is a JSON object routed by its `type`. Prices and sizes are decimal strings. `level2`
(`snapshot`, `l2update`) carries no `sequence`; `ticker`, `match` and `last_match` carry the
product's full-feed `sequence` and a per-product `trade_id`. The 2021 recording (Coinbase Pro
naming, ws-feed.pro.coinbase.com) is the same protocol as today's ws-feed for these channels;
today's ticker adds `best_bid_size`/`best_ask_size`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgspec

from tradestack.domain.events import BestBidAsk, TradePrint

Count = Annotated[int, msgspec.Meta(ge=0)]  # sequences and trade ids are never negative


class Probe(msgspec.Struct, frozen=True):
    """Just enough of any frame to route it."""

    type: str
    product_id: str | None = None
    message: str | None = None
    reason: str | None = None


class SnapshotMessage(msgspec.Struct, frozen=True):
    product_id: str
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    time: str | None = None


class L2UpdateMessage(msgspec.Struct, frozen=True):
    product_id: str
    changes: list[tuple[str, str, str]]  # [side ("buy"|"sell"), price, absolute size ("0" removes)]
    time: str


class TickerMessage(msgspec.Struct, frozen=True):
    product_id: str
    sequence: Count
    time: str | None = None  # absent on the ticker sent before the first trade
    trade_id: Count | None = None
    best_bid: str | None = None
    best_ask: str | None = None
    best_bid_size: str | None = None  # today's feed; absent in the 2021 recording
    best_ask_size: str | None = None


class MatchMessage(msgspec.Struct, frozen=True):
    type: str
    product_id: str
    trade_id: Count
    sequence: Count
    side: str  # the MAKER's side: "sell" means the taker bought
    price: str
    size: str
    time: str


class Product(msgspec.Struct, frozen=True):
    id: str
    base_currency: str
    quote_currency: str
    quote_increment: str
    base_increment: str
    base_min_size: str = "0"


@dataclass(frozen=True, slots=True)
class CoinbaseBookUpdate:
    """One level2 message for one product: a full `snapshot`, or an `l2update` of absolute sizes."""

    symbol: str
    snapshot: bool
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]
    ts_event: int  # the message's `time` in ns; 0 when it has none (the 2021 snapshot)
    ts_recv: int


@dataclass(frozen=True, slots=True)
class CoinbaseBestBidAsk(BestBidAsk):
    """A `ticker`: `update_id` is the full-feed `sequence`. Sizes are 0 where the feed gives none."""

    ts_event: int = 0  # the trade's `time` in ns (0: none)
    trade_id: int = 0  # 0: none
    sizes_known: bool = False


@dataclass(frozen=True, slots=True)
class CoinbaseTradePrint(TradePrint):
    """A `match` (or `last_match`, the trade before the subscription, sent once on subscribe)."""

    sequence: int = 0
    last_match: bool = False
