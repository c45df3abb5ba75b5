"""Frozen value types that flow through the engine. Times are integer nanoseconds."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

Level = tuple[int, int]  # (price units, size units); size 0 removes the level


class Side(Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    symbol: str
    last_update_id: int
    bids: list[Level]
    asks: list[Level]
    ts_event: int
    ts_recv: int


@dataclass(frozen=True, slots=True)
class BookDelta:
    """One venue depth event. prev_final_update_id is Binance futures' `pu` (-1 when absent)."""

    symbol: str
    first_update_id: int
    final_update_id: int
    bids: list[Level]
    asks: list[Level]
    ts_event: int
    ts_recv: int
    prev_final_update_id: int = -1


@dataclass(frozen=True, slots=True)
class BestBidAsk:
    """The venue's own top of book (Binance bookTicker): an oracle for our rebuilt book."""

    symbol: str
    update_id: int
    bid_price: int
    bid_size: int
    ask_price: int
    ask_size: int
    ts_recv: int


@dataclass(frozen=True, slots=True)
class TradePrint:
    symbol: str
    trade_id: int
    price: int
    size: int
    aggressor: Side
    ts_event: int
    ts_recv: int


@dataclass(frozen=True, slots=True)
class Malformed:
    """A frame that could not be parsed: counted, logged once, dropped."""

    reason: str
    sample: bytes
    ts_recv: int


MarketEvent = BookSnapshot | BookDelta | BestBidAsk | TradePrint | Malformed
