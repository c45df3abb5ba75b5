"""OKX v5 public WebSocket wire shapes (msgspec), and the typed book event the parser emits.

A book level on the wire is `[price, size, "0" (deprecated), order count]`; only the first two count.
`seqId`/`prevSeqId` are absent from recordings made before OKX added them (e.g. cryptofeed's OKCOIN).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

WireLevel = list[str]


class Argument(msgspec.Struct, frozen=True):
    channel: str
    instId: str | None = None


class Probe(msgspec.Struct, frozen=True):
    """Just enough of any frame to route it."""

    event: str | None = None
    arg: Argument | None = None
    action: str | None = None
    code: str | None = None
    msg: str | None = None


class BookData(msgspec.Struct, frozen=True):
    asks: list[WireLevel]
    bids: list[WireLevel]
    ts: str
    checksum: int = 0
    seqId: int | None = None
    prevSeqId: int | None = None


class BookMessage(msgspec.Struct, frozen=True):
    arg: Argument
    data: list[BookData]
    action: str = "snapshot"  # bbo-tbt / books5 send full books without an action


class TradeData(msgspec.Struct, frozen=True):
    instId: str
    tradeId: str
    px: str
    sz: str
    side: str
    ts: str


class TradeMessage(msgspec.Struct, frozen=True):
    arg: Argument
    data: list[TradeData]


class TickerData(msgspec.Struct, frozen=True):
    instId: str
    ts: str
    askPx: str = ""
    askSz: str = ""
    bidPx: str = ""
    bidSz: str = ""


class TickerMessage(msgspec.Struct, frozen=True):
    arg: Argument
    data: list[TickerData]


class InstrumentData(msgspec.Struct, frozen=True):
    instId: str
    tickSz: str
    lotSz: str
    baseCcy: str = ""
    quoteCcy: str = ""
    minSz: str = "0"


class InstrumentsResponse(msgspec.Struct, frozen=True):
    code: str
    data: list[InstrumentData]


# (price units, size units, price text, size text): units for the book, texts for the checksum
BookLevel = tuple[int, int, str, str]


@dataclass(frozen=True, slots=True)
class OkxBookUpdate:
    """One `books` push for one instrument: a full snapshot or an update (size 0 removes a level)."""

    symbol: str
    snapshot: bool
    bids: list[BookLevel]
    asks: list[BookLevel]
    checksum: int  # 0: not given
    seq_id: int | None  # None on the protocol before seqId
    prev_seq_id: int | None  # -1 on a snapshot
    ts_event: int
    ts_recv: int
