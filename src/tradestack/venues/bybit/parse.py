"""Bybit v5 public market data: frame bytes -> typed events, exactly. Pure: no awaits, no clock, never raises.

`orderbook.<depth>.<symbol>` -> `BybitBookUpdate`; `publicTrade.<symbol>` -> `TradePrint` (Bybit trade
ids are UUIDs: `trade_id` is the UUID's 128-bit integer; a numeric id stays itself); `tickers.<symbol>` ->
`BestBidAsk` when the push carries all four of bid1Price/bid1Size/ask1Price/ask1Size (linear and inverse
snapshots; spot tickers and most deltas do not), with update_id 0 (tickers carry no book id).
Subscription acks and pongs (`success: true`) and topics we do not map (kline, liquidation...) give
[]; a failed op and anything else give one `Malformed`.

Prices and sizes convert to integers at the instrument's scales (`instruments_from_rest`, tickSize and
qtyStep), or, without instrument info, at scales inferred per symbol from the first strings seen:
the most decimals among them, as Binance's inferring parser does. A later string with significant
digits beyond the scale is refused (`Malformed`), never truncated.

With the C extension built, a book frame whose scales are known keeps its level arrays as raw JSON and
converts them in C (`levels_from_json`, the rule Binance's parser uses); whatever C declines, and any
frame that fails on that path, is parsed again by the Python path alone, which decides and words the
error: the events are the same either way (tests/venues/bybit/test_bybit_parse_native.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping

import msgspec

from tradestack import _native
from tradestack._native import LevelsFromJson
from tradestack.domain.events import BestBidAsk, Level, Malformed, Side, TradePrint
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.venues.bybit.messages import (
    BookMessage,
    BybitBookUpdate,
    InstrumentsResponse,
    Probe,
    TickerMessage,
    TradeMessage,
    WireLevel,
)

NANOS_PER_MILLI = 1_000_000
SAMPLE_BYTES = 200
MAX_INFERRED_SCALE = 18
BOOK_TYPES = frozenset({"snapshot", "delta"})
UNMAPPED_TOPICS = frozenset({"kline", "liquidation", "allLiquidation", "lt", "insurance"})

_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_BOOK_PREFIX = b'{"topic":"orderbook.'  # Bybit writes `topic` first: a book frame, without the probe


class _RawBookData(msgspec.Struct, frozen=True):
    s: str
    b: msgspec.Raw
    a: msgspec.Raw
    u: int
    seq: int | None = None


class _RawBookMessage(msgspec.Struct, frozen=True):
    topic: str
    type: str
    ts: int
    data: _RawBookData
    cts: int | None = None
    # the probe's fields, typed as the probe types them, so a frame the Python path refuses fails here too
    op: str | None = None
    success: bool | None = None
    ret_msg: str | None = None


_RAW_BOOK = msgspec.json.Decoder(_RawBookMessage).decode
_DIGITS = re.compile(r"[0-9]+")

BybitEvent = BybitBookUpdate | TradePrint | BestBidAsk | Malformed


class BybitParseError(ValueError):
    """A frame that is not a Bybit message we can represent exactly."""


def instruments_from_rest(body: bytes, venue: str = "bybit") -> dict[str, Instrument]:
    """`GET /v5/market/instruments-info` body -> {symbol: Instrument} (tickSize, qtyStep or basePrecision)."""
    try:
        return _instruments_from_rest(body, venue)
    except BybitParseError:
        raise
    except (msgspec.DecodeError, ValueError) as error:  # one typed error for any bad body
        raise BybitParseError(f"instruments: {type(error).__name__}: {error}") from error


def _instruments_from_rest(body: bytes, venue: str = "bybit") -> dict[str, Instrument]:
    response = _INSTRUMENTS(body)
    if response.retCode != 0:
        raise BybitParseError(f"instruments request failed: retCode {response.retCode}")
    instruments: dict[str, Instrument] = {}
    for item in response.result.items:
        step = item.lotSizeFilter.get("qtyStep") or item.lotSizeFilter.get("basePrecision")
        tick = item.priceFilter.get("tickSize")
        if not step or not tick:
            raise BybitParseError(f"{item.symbol}: no tickSize or qtyStep")
        instruments[item.symbol] = Instrument.from_steps(
            venue,
            item.symbol,
            item.baseCoin,
            item.quoteCoin,
            tick,
            step,
            item.lotSizeFilter.get("minOrderQty", "0"),
        )
    return instruments


MAX_NANOS = 2**63 - 1  # every ts_event fits int64 nanoseconds


def decimals_of(text: str) -> int:
    point = text.find(".")
    return 0 if point < 0 else len(text) - point - 1


def units(text: str, scale: int) -> int:
    """An unsigned plain decimal string -> integer units of 10**-scale, exactly (or BybitParseError)."""
    if _DECIMAL.fullmatch(text) is None:
        raise BybitParseError(f"not an unsigned decimal: {text[:40]!r}")
    return parse_fixed(text, scale)


def millis(value: int) -> int:
    if not 0 <= value <= MAX_NANOS // NANOS_PER_MILLI:
        raise BybitParseError(f"time {value} is negative or beyond int64 nanoseconds")
    return value * NANOS_PER_MILLI


def trade_id(text: str) -> int:
    """Bybit trade ids: a UUID (its 128-bit integer) or, on some products, decimal digits."""
    if _DIGITS.fullmatch(text) is not None:
        return int(text)
    try:
        return uuid.UUID(text).int
    except ValueError as error:
        raise BybitParseError(f"trade id {text[:40]!r}") from error


def aggressor(side: str) -> Side:
    if side == "Buy":
        return Side.BUY
    if side == "Sell":
        return Side.SELL
    raise BybitParseError(f"side {side[:40]!r}")


class Scales:
    """Per-symbol (price scale, size scale): from instruments, or inferred once from the first strings."""

    __slots__ = ("_inferred", "_instruments")

    def __init__(self, instruments: Mapping[str, Instrument] | None) -> None:
        self._instruments: Mapping[str, Instrument] = instruments or {}
        self._inferred: dict[str, tuple[int, int]] | None = None if instruments is not None else {}

    def known(self, symbol: str) -> tuple[int, int] | None:
        """The symbol's scales when already known (from instruments or inferred), without inferring."""
        instrument = self._instruments.get(symbol)
        if instrument is not None:
            return instrument.price_scale, instrument.size_scale
        return None if self._inferred is None else self._inferred.get(symbol)

    def of(self, symbol: str, prices: Iterable[str], sizes: Iterable[str]) -> tuple[int, int] | None:
        """The symbol's scales; None when inferring and there is nothing to infer from yet."""
        instrument = self._instruments.get(symbol)
        if instrument is not None:
            return instrument.price_scale, instrument.size_scale
        if self._inferred is None:
            raise BybitParseError(f"no instrument for {symbol[:40]!r}")
        known = self._inferred.get(symbol)
        if known is not None:
            return known
        price_texts = list(prices)
        size_texts = list(sizes)
        if not price_texts:
            return None
        for text in (*price_texts, *size_texts):
            if _DECIMAL.fullmatch(text) is None:
                raise BybitParseError(f"{symbol[:40]}: not an unsigned decimal: {text[:40]!r}")
        known = (max(map(decimals_of, price_texts)), max(map(decimals_of, size_texts), default=0))
        if max(known) > MAX_INFERRED_SCALE:
            raise BybitParseError(f"{symbol[:40]}: {max(known)} decimals is not a price or a size")
        self._inferred[symbol] = known
        return known


def levels(wire: list[WireLevel], scales: tuple[int, int]) -> list[Level]:
    price_scale, size_scale = scales
    out: list[Level] = []
    for level in wire:
        if len(level) != 2:
            raise BybitParseError(f"book level {level[:3]!r}")
        out.append((units(level[0], price_scale), units(level[1], size_scale)))
    return out


class BybitMarketParser:
    """Bybit v5 public channels -> BybitBookUpdate, TradePrint, BestBidAsk (or Malformed)."""

    __slots__ = ("_scales",)

    def __init__(self, instruments: Mapping[str, Instrument] | None = None) -> None:
        self._scales = Scales(instruments)

    @classmethod
    def inferring(cls) -> BybitMarketParser:
        """A parser for recordings without instrument info: scales inferred per symbol."""
        return cls(None)

    def parse(self, frame: bytes, ts_recv: int) -> list[BybitEvent]:
        """One WebSocket frame -> its events. Never raises: failures become one `Malformed`."""
        try:
            return self._parse(frame, ts_recv)
        except Exception as error:  # the contract: bad input is counted, never raised
            return [Malformed(f"{type(error).__name__}: {error}", bytes(frame[:SAMPLE_BYTES]), ts_recv)]

    def _parse(self, frame: bytes, ts_recv: int) -> list[BybitEvent]:
        native = _native.levels_from_json
        if native is not None and frame[: len(_BOOK_PREFIX)] == _BOOK_PREFIX:
            try:
                fast = self._raw_book(_RAW_BOOK(frame), ts_recv, native)
                if fast is not None:
                    return fast
            except Exception:  # the Python path decides, and words any error
                pass
        probe = _PROBE(frame)
        if probe.topic is None:
            if probe.success is True or probe.op == "pong":
                return []  # subscription ack, pong
            raise BybitParseError(f"op {probe.op!r} failed: {(probe.ret_msg or '')[:80]}")
        head, _, _ = probe.topic.partition(".")
        if head == "orderbook":
            return self._book(_BOOK(frame), ts_recv)
        if head in ("publicTrade", "trade"):
            return self._trades(_TRADES(frame), ts_recv)
        if head == "tickers":
            return self._ticker(_TICKER(frame), ts_recv)
        if head in UNMAPPED_TOPICS:
            return []
        raise BybitParseError(f"unknown topic {probe.topic[:60]!r}")

    def _raw_book(
        self, message: _RawBookMessage, ts_recv: int, native: LevelsFromJson
    ) -> list[BybitEvent] | None:
        """The book frame with its levels converted in C; None when C declines or scales are unknown."""
        data = message.data
        scales = self._scales.known(data.s)
        if (
            scales is None
            or message.type not in BOOK_TYPES
            or not message.topic.endswith("." + data.s)
            or data.u < 0
            or (data.seq is not None and data.seq < 0)
        ):
            return None
        bids = native(data.b, *scales)
        asks = native(data.a, *scales) if bids is not None else None
        if bids is None or asks is None:
            return None
        return [
            BybitBookUpdate(
                symbol=data.s,
                snapshot=message.type == "snapshot",
                bids=bids,
                asks=asks,
                update_id=data.u,
                seq=data.seq,
                ts_event=millis(message.ts),
                ts_recv=ts_recv,
            )
        ]

    def _book(self, message: BookMessage, ts_recv: int) -> list[BybitEvent]:
        if message.type not in BOOK_TYPES:
            raise BybitParseError(f"unknown book type {message.type[:20]!r}")
        data = message.data
        if not message.topic.endswith("." + data.s):
            raise BybitParseError(f"topic {message.topic[:60]!r} is not symbol {data.s[:40]!r}")
        if data.u < 0 or (data.seq is not None and data.seq < 0):
            raise BybitParseError("negative u or seq")
        scales = self._scales.of(
            data.s,
            (level[0] for side in (data.b, data.a) for level in side if level),
            (level[1] for side in (data.b, data.a) for level in side if len(level) > 1),
        )
        if scales is None:  # inferring, and an empty delta: nothing to convert
            scales = (0, 0)
        return [
            BybitBookUpdate(
                symbol=data.s,
                snapshot=message.type == "snapshot",
                bids=levels(data.b, scales),
                asks=levels(data.a, scales),
                update_id=data.u,
                seq=data.seq,
                ts_event=millis(message.ts),
                ts_recv=ts_recv,
            )
        ]

    def _trades(self, message: TradeMessage, ts_recv: int) -> list[BybitEvent]:
        events: list[BybitEvent] = []
        for trade in message.data:
            scales = self._scales.of(trade.s, [trade.p], [trade.v])
            assert scales is not None  # one price was given
            events.append(
                TradePrint(
                    symbol=trade.s,
                    trade_id=trade_id(trade.i),
                    price=units(trade.p, scales[0]),
                    size=units(trade.v, scales[1]),
                    aggressor=aggressor(trade.S),
                    ts_event=millis(trade.T),
                    ts_recv=ts_recv,
                )
            )
        return events

    def _ticker(self, message: TickerMessage, ts_recv: int) -> list[BybitEvent]:
        data = message.data
        fields = (data.bid1Price, data.bid1Size, data.ask1Price, data.ask1Size)
        if any(not value for value in fields):
            return []  # this push does not carry the whole top of book
        bid_price, bid_size, ask_price, ask_size = (value or "" for value in fields)
        scales = self._scales.of(data.symbol, [bid_price, ask_price], [bid_size, ask_size])
        assert scales is not None
        return [
            BestBidAsk(
                symbol=data.symbol,
                update_id=0,
                bid_price=units(bid_price, scales[0]),
                bid_size=units(bid_size, scales[1]),
                ask_price=units(ask_price, scales[0]),
                ask_size=units(ask_size, scales[1]),
                ts_recv=ts_recv,
            )
        ]


_PROBE = msgspec.json.Decoder(Probe).decode
_BOOK = msgspec.json.Decoder(BookMessage).decode
_TRADES = msgspec.json.Decoder(TradeMessage).decode
_TICKER = msgspec.json.Decoder(TickerMessage).decode
_INSTRUMENTS = msgspec.json.Decoder(InstrumentsResponse).decode
