"""OKX v5 public market data: frame bytes -> typed events, exactly. Pure: no awaits, no clock, never raises.

`books` (and books5, books50-l2-tbt, books-l2-tbt, bbo-tbt) -> `OkxBookUpdate`, which keeps each
level's exact price and size strings beside their integer units (the checksum is over the strings);
`trades` -> `TradePrint`; `tickers` -> `BestBidAsk` (update_id 0: OKX tickers carry no book id).
Subscription acks, the text `pong`, and channels we do not map (candles...) give []; anything
else, venue error events included, gives one `Malformed`. Prices and sizes convert at the
instrument's scales (tickSz, lotSz): OKX strings are not padded, and a string with significant
digits beyond the scale is refused (`Malformed`), never truncated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from tradestack.domain.events import BestBidAsk, Malformed, Side, TradePrint
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.venues.okx.messages import (
    BookLevel,
    BookMessage,
    InstrumentsResponse,
    OkxBookUpdate,
    Probe,
    TickerMessage,
    TradeMessage,
    WireLevel,
)

NANOS_PER_MILLI = 1_000_000
SAMPLE_BYTES = 200
BOOK_CHANNELS = frozenset({"books", "books5", "books50-l2-tbt", "books-l2-tbt", "bbo-tbt"})
IGNORED_EVENTS = frozenset({"subscribe", "unsubscribe", "login", "channel-conn-count", "notice"})

_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_DIGITS = re.compile(r"[0-9]+")

OkxEvent = OkxBookUpdate | TradePrint | BestBidAsk | Malformed


class OkxParseError(ValueError):
    """A frame that is not an OKX message we can represent exactly."""


def instruments_from_rest(body: bytes, venue: str = "okx") -> dict[str, Instrument]:
    """`GET /api/v5/public/instruments` body -> {instId: Instrument} (tickSz, lotSz, minSz)."""
    try:
        return _instruments_from_rest(body, venue)
    except OkxParseError:
        raise
    except (msgspec.DecodeError, ValueError) as error:  # one typed error for any bad body
        raise OkxParseError(f"instruments: {type(error).__name__}: {error}") from error


def _instruments_from_rest(body: bytes, venue: str = "okx") -> dict[str, Instrument]:
    response = _INSTRUMENTS(body)
    if response.code != "0":
        raise OkxParseError(f"instruments request failed: code {response.code}")
    return {
        item.instId: Instrument.from_steps(
            venue, item.instId, item.baseCcy, item.quoteCcy, item.tickSz, item.lotSz, item.minSz or "0"
        )
        for item in response.data
    }


def _units(text: str, scale: int) -> int:
    if _DECIMAL.fullmatch(text) is None:
        raise OkxParseError(f"not an unsigned decimal: {text[:40]!r}")
    return parse_fixed(text, scale)


def _millis(text: str) -> int:
    if _DIGITS.fullmatch(text) is None:
        raise OkxParseError(f"not a millisecond time: {text[:40]!r}")
    return int(text) * NANOS_PER_MILLI


class OkxMarketParser:
    """OKX v5 public channels -> OkxBookUpdate, TradePrint, BestBidAsk (or Malformed)."""

    __slots__ = ("_instruments",)

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = instruments

    def parse(self, frame: bytes, ts_recv: int) -> list[OkxEvent]:
        """One WebSocket frame -> its events. Never raises: failures become one `Malformed`."""
        try:
            return self._parse(frame, ts_recv)
        except Exception as error:  # the contract: bad input is counted, never raised
            return [Malformed(f"{type(error).__name__}: {error}", bytes(frame[:SAMPLE_BYTES]), ts_recv)]

    def _parse(self, frame: bytes, ts_recv: int) -> list[OkxEvent]:
        if frame == b"pong":
            return []
        probe = _PROBE(frame)
        if probe.event is not None:
            if probe.event in IGNORED_EVENTS:
                return []
            raise OkxParseError(f"venue event {probe.event!r}: code {probe.code} {probe.msg}")
        if probe.arg is None:
            raise OkxParseError("neither an event nor a channel push")
        channel = probe.arg.channel
        if channel in BOOK_CHANNELS:
            message = _BOOK(frame)
            symbol = _symbol(message.arg.instId)
            instrument = self._instrument(symbol)
            if message.action not in ("snapshot", "update"):
                raise OkxParseError(f"unknown book action {message.action!r}")
            snapshot = message.action == "snapshot"
            return [
                OkxBookUpdate(
                    symbol=symbol,
                    snapshot=snapshot,
                    bids=_levels(data.bids, instrument),
                    asks=_levels(data.asks, instrument),
                    checksum=data.checksum,
                    seq_id=data.seqId,
                    prev_seq_id=data.prevSeqId,
                    ts_event=_millis(data.ts),
                    ts_recv=ts_recv,
                )
                for data in message.data
            ]
        if channel == "trades":
            trades = _TRADES(frame)
            events: list[OkxEvent] = []
            for trade in trades.data:
                instrument = self._instrument(trade.instId)
                if _DIGITS.fullmatch(trade.tradeId) is None:
                    raise OkxParseError(f"trade id {trade.tradeId[:40]!r}")
                if trade.side not in ("buy", "sell"):
                    raise OkxParseError(f"trade side {trade.side[:40]!r}")
                price = _units(trade.px, instrument.price_scale)
                size = _units(trade.sz, instrument.size_scale)
                if price <= 0 or size <= 0:  # a trade happened: both are positive
                    raise OkxParseError(f"trade px {trade.px[:40]!r} sz {trade.sz[:40]!r}")
                events.append(
                    TradePrint(
                        symbol=trade.instId,
                        trade_id=int(trade.tradeId),
                        price=price,
                        size=size,
                        aggressor=Side.BUY if trade.side == "buy" else Side.SELL,
                        ts_event=_millis(trade.ts),
                        ts_recv=ts_recv,
                    )
                )
            return events
        if channel == "tickers":
            tickers = _TICKERS(frame)
            quotes: list[OkxEvent] = []
            for ticker in tickers.data:
                instrument = self._instrument(ticker.instId)
                _millis(ticker.ts)
                if not (ticker.bidPx and ticker.askPx):
                    continue  # one side empty: no best bid/ask to report
                quotes.append(
                    BestBidAsk(
                        symbol=ticker.instId,
                        update_id=0,
                        bid_price=_units(ticker.bidPx, instrument.price_scale),
                        bid_size=_units(ticker.bidSz, instrument.size_scale),
                        ask_price=_units(ticker.askPx, instrument.price_scale),
                        ask_size=_units(ticker.askSz, instrument.size_scale),
                        ts_recv=ts_recv,
                    )
                )
            return quotes
        return []  # candles, mark prices...: deliberately not mapped

    def _instrument(self, symbol: str) -> Instrument:
        instrument = self._instruments.get(symbol)
        if instrument is None:
            raise OkxParseError(f"no instrument for {symbol[:40]!r}")
        return instrument


def _symbol(inst_id: str | None) -> str:
    if not inst_id:
        raise OkxParseError("book push without instId")
    return inst_id


def _levels(wire: list[WireLevel], instrument: Instrument) -> list[BookLevel]:
    price_scale = instrument.price_scale
    size_scale = instrument.size_scale
    levels: list[BookLevel] = []
    for level in wire:
        if len(level) < 2:
            raise OkxParseError(f"book level {level[:4]!r}")
        price, size = level[0], level[1]
        levels.append((_units(price, price_scale), _units(size, size_scale), price, size))
    return levels


_PROBE = msgspec.json.Decoder(Probe).decode
_BOOK = msgspec.json.Decoder(BookMessage).decode
_TRADES = msgspec.json.Decoder(TradeMessage).decode
_TICKERS = msgspec.json.Decoder(TickerMessage).decode
_INSTRUMENTS = msgspec.json.Decoder(InstrumentsResponse).decode
