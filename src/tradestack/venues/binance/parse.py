"""Binance market data: frame bytes -> domain events, exactly. Pure: no awaits, no clock, never raises.

Prices and sizes become integers in units of 10**-scale without Decimal or float. The hot path
relies on Binance padding every string of a symbol to the same number of decimals: when a string
has its point exactly `scale` places from the end, `int(text.replace(".", ""))` is its exact value.
That shape is checked, never assumed: the point's position per string, one point per string (the
frame holds exactly as many points as there are numbers) and, frame-wide, none of the characters
`int()` would tolerate but a decimal string may not carry (sign, `_`, space, escapes, non-ASCII).
Anything else takes the strict path (`instruments.parse_fixed` after a digits-only check), which
accepts fewer decimals and raises on significant digits beyond the scale: a frame that cannot be
represented exactly becomes one `Malformed`, it is never truncated.

Scales come from a `Mapping[str, Instrument]` (exchangeInfo) or, for recordings without it, are
inferred per symbol from the first strings seen (`BinanceMarketParser.inferring()`): the number of
decimals Binance pads to, which is exact even when wider than the tick.

With the C extension built (`tradestack._native`), depth diffs and REST snapshots take a third, faster
path: each side's level array stays raw JSON (decoding ~36 levels into string tuples costs more than
the C conversion) and `levels_from_json` converts it in C: plain decimals (unpadded ones too) that fit
int64, exactly, with the same scale rule. A side it declines (escapes, significant decimals beyond the
scale, values beyond int64, odd shapes) is decoded and converted by the Python paths above; a frame the
raw path fails on in any way is parsed again by the Python path alone, which decides and words the
error. So the events, Malformed reasons included, are the same with or without the extension
(tests/venues/binance/test_parse_native.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import NoReturn

import msgspec

from tradestack import _native
from tradestack._native import LevelsFromJson
from tradestack.domain.events import (
    BestBidAsk,
    BookDelta,
    BookSnapshot,
    Level,
    Malformed,
    MarketEvent,
    Side,
    TradePrint,
)
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.venues.binance.messages import (
    AggregateTrade,
    AggregateTradeEnvelope,
    BookTicker,
    BookTickerEnvelope,
    DepthEnvelope,
    DepthSnapshot,
    DepthUpdate,
    FrameProbe,
    RawDepthEnvelope,
    RawDepthSnapshot,
    RawDepthUpdate,
    Trade,
    TradeEnvelope,
    WireLevel,
)

NANOS_PER_MILLI = 1_000_000
MAX_INFERRED_SCALE = 30  # decimals; beyond this a "price" is not a price
SAMPLE_BYTES = 200  # how much of a bad frame a Malformed keeps

_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # no sign, no exponent, no separators
_ENVELOPE_PREFIX = b'{"stream":"'
_ENVELOPE_PREFIX_LENGTH = len(_ENVELOPE_PREFIX)
_RAW_DEPTH_PREFIX = b'{"e":"depthUpdate"'
_RAW_DEPTH_PREFIX_LENGTH = len(_RAW_DEPTH_PREFIX)

LevelConverter = Callable[[list[WireLevel]], list[Level]]


class MalformedMessage(ValueError):
    """A REST body that is not a Binance depth snapshot we can represent exactly."""


class _NotPadded(ValueError):
    """A string whose point is not where the symbol's scale puts it: take the strict path."""


def _not_padded() -> NoReturn:
    raise _NotPadded


def exact_units(text: str, scale: int) -> int:
    """Strict exact conversion: ASCII digits with at most one point; extra significant decimals raise."""
    if _DECIMAL.fullmatch(text) is None:
        raise ValueError(f"not an unsigned decimal: {text[:40]!r}")
    return parse_fixed(text, scale)


def decimals_of(text: str) -> int:
    """Number of decimals written (padding included): "61737.63000000" -> 8, "2" -> 0."""
    point = text.find(".")
    return 0 if point < 0 else len(text) - point - 1


def _padded_converter(price_scale: int, size_scale: int) -> LevelConverter:
    """The fast conversion for strings padded to exactly the scales; raises ValueError/IndexError if not.

    A size equal to the padded zero (about half of all diff entries: level removals) is 0 at once.
    """
    price_point = -price_scale - 1
    size_point = -size_scale - 1
    zero = "0." + "0" * size_scale if size_scale else "0"
    if price_scale and size_scale:

        def convert(levels: list[WireLevel]) -> list[Level]:
            return [
                (
                    int(price.replace(".", "")) if price[price_point] == "." else _not_padded(),
                    0
                    if size == zero
                    else (int(size.replace(".", "")) if size[size_point] == "." else _not_padded()),
                )
                for price, size in levels
            ]

    elif price_scale:

        def convert(levels: list[WireLevel]) -> list[Level]:
            return [
                (int(price.replace(".", "")) if price[price_point] == "." else _not_padded(), int(size))
                for price, size in levels
            ]

    elif size_scale:

        def convert(levels: list[WireLevel]) -> list[Level]:
            return [
                (
                    int(price),
                    0
                    if size == zero
                    else (int(size.replace(".", "")) if size[size_point] == "." else _not_padded()),
                )
                for price, size in levels
            ]

    else:

        def convert(levels: list[WireLevel]) -> list[Level]:
            return [(int(price), int(size)) for price, size in levels]

    return convert


class SymbolScales:
    """Exact conversion of one symbol's level strings, fast when they carry the padding we expect."""

    __slots__ = ("_fast", "_points_per_level", "price_scale", "size_scale")

    def __init__(self, price_scale: int, size_scale: int) -> None:
        self.price_scale = price_scale
        self.size_scale = size_scale
        self._fast = _padded_converter(price_scale, size_scale)
        self._points_per_level = (price_scale > 0) + (size_scale > 0)

    def levels(
        self, frame: bytes, bids: list[WireLevel], asks: list[WireLevel]
    ) -> tuple[list[Level], list[Level]]:
        """Convert both sides; `frame` holds the bytes the strings were decoded from, to vet them."""
        # One point per number in the whole frame, and none of what int() tolerates but a decimal string
        # may not carry (a sign, "_", a space; an escape can hide any of them).
        if (
            frame.count(b".") == self._points_per_level * (len(bids) + len(asks))
            and frame.isascii()
            and b"-" not in frame
            and b"+" not in frame
            and b"_" not in frame
            and b" " not in frame
            and b"\\" not in frame
        ):
            fast = self._fast
            try:
                return fast(bids), fast(asks)
            except (ValueError, IndexError):
                pass  # not padded as expected: the strict path decides, exactly
        return self.strict(bids), self.strict(asks)

    def from_json(self, raw: msgspec.Raw, native: LevelsFromJson | None) -> list[Level]:
        """One side's raw JSON level array -> levels: by `native` when it takes it, else in Python."""
        if native is not None:
            converted = native(raw, self.price_scale, self.size_scale)
            if converted is not None:
                return converted
        data = bytes(raw)  # declined (see tradestack._native): decode, then the paths above decide
        return self.levels(data, _WIRE_LEVELS(data), [])[0]

    def strict(self, levels: list[WireLevel]) -> list[Level]:
        price_scale = self.price_scale
        size_scale = self.size_scale
        return [(exact_units(price, price_scale), exact_units(size, size_scale)) for price, size in levels]


def _malformed(reason: str, frame: bytes, ts_recv: int) -> Malformed:
    return Malformed(reason=reason, sample=bytes(frame[:SAMPLE_BYTES]), ts_recv=ts_recv)


class BinanceMarketParser:
    """Binance spot and futures market streams -> BookDelta, BestBidAsk, TradePrint (or Malformed).

    `parse` accepts combined-stream envelopes and raw payloads. Subscription acks, channels we do not
    map (kline, partial depth, mark price...) give []; bytes that are not a message we understand,
    and venue error replies, give one `Malformed`. Symbols are the venue's, upper case ("BTCUSDT").
    """

    __slots__ = ("_channels", "_infer", "_instruments", "_scales")

    def __init__(self, instruments: Mapping[str, Instrument] | None = None, *, infer_scales: bool = False):
        if instruments is None and not infer_scales:
            raise ValueError("give instruments, or infer_scales=True for recordings without exchangeInfo")
        self._instruments: Mapping[str, Instrument] = instruments if instruments is not None else {}
        self._infer = infer_scales
        self._scales: dict[str, SymbolScales] = {}
        depth = self._depth_frame
        # "<symbol>@<channel>" -> the one-pass decode for that channel's envelope
        self._channels: dict[bytes, Callable[[bytes, int], MarketEvent]] = {
            b"depth": depth,
            b"depth@0ms": depth,
            b"depth@100ms": depth,
            b"depth@250ms": depth,
            b"depth@500ms": depth,
            b"depth@1000ms": depth,
            b"bookTicker": self._book_ticker_frame,
            b"trade": self._trade_frame,
            b"aggTrade": self._aggregate_trade_frame,
        }

    @classmethod
    def inferring(cls) -> BinanceMarketParser:
        """A parser for recordings without exchangeInfo: each symbol's scales come from its strings."""
        return cls(None, infer_scales=True)

    def scales(self, symbol: str) -> tuple[int, int] | None:
        """(price_scale, size_scale) in use for `symbol`, or None before anything was seen."""
        known = self._scales.get(symbol)
        if known is None:
            instrument = self._instruments.get(symbol)
            return None if instrument is None else (instrument.price_scale, instrument.size_scale)
        return known.price_scale, known.size_scale

    # -- the hot path -------------------------------------------------------------------------------

    def parse(self, frame: bytes, ts_recv: int) -> list[MarketEvent]:
        """One WebSocket frame -> its events. Never raises: failures become one `Malformed`."""
        try:
            if frame[:_ENVELOPE_PREFIX_LENGTH] == _ENVELOPE_PREFIX:
                end = frame.find(b'"', _ENVELOPE_PREFIX_LENGTH)
                at = frame.find(b"@", _ENVELOPE_PREFIX_LENGTH, end)
                route = self._channels.get(frame[at + 1 : end]) if at > 0 else None
                if route is not None:
                    try:
                        return [route(frame, ts_recv)]
                    except msgspec.ValidationError:
                        pass  # not the shape its stream name promised: the general path says why
            elif frame[:_RAW_DEPTH_PREFIX_LENGTH] == _RAW_DEPTH_PREFIX:  # the /ws/<symbol>@depth stream
                try:
                    native = _native.levels_from_json
                    if native is not None:
                        try:
                            return [self._raw_depth(_RAW_DEPTH(frame), ts_recv, native)]
                        except Exception:  # the Python path decides, and words any error
                            pass
                    return [self._depth(_DEPTH(frame), frame, ts_recv)]
                except msgspec.ValidationError:
                    pass
            return self._parse_any(frame, ts_recv)
        except Exception as error:  # the contract: bad input is counted, never raised
            return [_malformed(f"{type(error).__name__}: {error}", frame, ts_recv)]

    def _depth_frame(self, frame: bytes, ts_recv: int) -> BookDelta:
        native = _native.levels_from_json
        if native is not None:
            try:
                return self._raw_depth(_RAW_DEPTH_ENVELOPE(frame).data, ts_recv, native)
            except Exception:  # the Python path decides, and words any error
                pass
        return self._depth(_DEPTH_ENVELOPE(frame).data, frame, ts_recv)

    def _book_ticker_frame(self, frame: bytes, ts_recv: int) -> BestBidAsk:
        return self._book_ticker(_BOOK_TICKER_ENVELOPE(frame).data, frame, ts_recv)

    def _trade_frame(self, frame: bytes, ts_recv: int) -> TradePrint:
        return self._trade(_TRADE_ENVELOPE(frame).data, frame, ts_recv)

    def _aggregate_trade_frame(self, frame: bytes, ts_recv: int) -> TradePrint:
        return self._aggregate_trade(_AGGREGATE_TRADE_ENVELOPE(frame).data, frame, ts_recv)

    def _depth(self, update: DepthUpdate, frame: bytes, ts_recv: int) -> BookDelta:
        if update.first_update_id > update.final_update_id:
            raise ValueError(f"first update id {update.first_update_id} > final {update.final_update_id}")
        scales = self._scales_for(update.symbol, update.bids, update.asks)
        bids, asks = scales.levels(frame, update.bids, update.asks)
        return BookDelta(
            symbol=update.symbol,
            first_update_id=update.first_update_id,
            final_update_id=update.final_update_id,
            bids=bids,
            asks=asks,
            ts_event=update.event_time_ms * NANOS_PER_MILLI,
            ts_recv=ts_recv,
            prev_final_update_id=update.previous_final_update_id,
        )

    def _raw_depth(self, update: RawDepthUpdate, ts_recv: int, native: LevelsFromJson) -> BookDelta:
        if update.first_update_id > update.final_update_id:
            raise ValueError("first update id > final")  # the Python path words it
        symbol = update.symbol
        scales = self._scales.get(symbol) or self._scales_for_raw(symbol, update.bids, update.asks)
        price_scale = scales.price_scale
        size_scale = scales.size_scale
        bids = native(update.bids, price_scale, size_scale)
        if bids is None:
            bids = scales.from_json(update.bids, None)
        asks = native(update.asks, price_scale, size_scale)
        if asks is None:
            asks = scales.from_json(update.asks, None)
        return BookDelta(  # positional: measurably cheaper than keywords for a frozen dataclass
            symbol,
            update.first_update_id,
            update.final_update_id,
            bids,
            asks,
            update.event_time_ms * NANOS_PER_MILLI,
            ts_recv,
            update.previous_final_update_id,
        )

    def _book_ticker(self, ticker: BookTicker, frame: bytes, ts_recv: int) -> BestBidAsk:
        wire = [(ticker.bid_price, ticker.bid_size), (ticker.ask_price, ticker.ask_size)]
        bid, ask = self._scales_for(ticker.symbol, wire).levels(frame, wire, [])[0]
        return BestBidAsk(
            symbol=ticker.symbol,
            update_id=ticker.update_id,
            bid_price=bid[0],
            bid_size=bid[1],
            ask_price=ask[0],
            ask_size=ask[1],
            ts_recv=ts_recv,
        )

    def _trade(self, trade: Trade, frame: bytes, ts_recv: int) -> TradePrint:
        return self._trade_print(
            trade.symbol, trade.trade_id, trade.price, trade.size, trade.buyer_is_maker, trade.trade_time_ms,
            frame, ts_recv,
        )  # fmt: skip

    def _aggregate_trade(self, trade: AggregateTrade, frame: bytes, ts_recv: int) -> TradePrint:
        return self._trade_print(
            trade.symbol, trade.aggregate_id, trade.price, trade.size, trade.buyer_is_maker,
            trade.trade_time_ms, frame, ts_recv,
        )  # fmt: skip

    def _trade_print(
        self,
        symbol: str,
        trade_id: int,
        price_text: str,
        size_text: str,
        buyer_is_maker: bool,
        trade_time_ms: int,
        frame: bytes,
        ts_recv: int,
    ) -> TradePrint:
        wire = [(price_text, size_text)]
        ((price, size),) = self._scales_for(symbol, wire).levels(frame, wire, [])[0]
        if price <= 0 or size <= 0:
            raise ValueError(f"a trade of {size_text[:40]!r} at {price_text[:40]!r}")
        return TradePrint(
            symbol=symbol,
            trade_id=trade_id,
            price=price,
            size=size,
            # the buyer was the resting order, so the taker sold
            aggressor=Side.SELL if buyer_is_maker else Side.BUY,
            ts_event=trade_time_ms * NANOS_PER_MILLI,
            ts_recv=ts_recv,
        )

    # -- everything that is not a well-formed combined-stream frame ---------------------------------

    def _parse_any(self, frame: bytes, ts_recv: int) -> list[MarketEvent]:
        probe = _PROBE(frame)
        payload = frame
        if probe.data:
            payload = bytes(probe.data)
            inner = _PROBE(payload)
        else:
            if probe.code is not None or probe.error:
                detail = probe.msg or bytes(probe.error).decode(errors="replace")
                return [_malformed(f"venue error {probe.code}: {detail}", frame, ts_recv)]
            if probe.request_id is not None:
                return []  # subscription ack: {"result": null, "id": 1}
            inner = probe
        kind = inner.event_type
        if kind is None and inner.update_id is not None and inner.best_ask_size is not None:
            kind = "bookTicker"  # spot bookTicker carries no "e"
        if kind == "depthUpdate":
            return [self._depth(_DEPTH(payload), payload, ts_recv)]
        if kind == "bookTicker":
            return [self._book_ticker(_BOOK_TICKER(payload), payload, ts_recv)]
        if kind == "trade":
            return [self._trade(_TRADE(payload), payload, ts_recv)]
        if kind == "aggTrade":
            return [self._aggregate_trade(_AGGREGATE_TRADE(payload), payload, ts_recv)]
        return []  # a channel we do not map (kline, partial depth, markPrice...): not an error

    # -- REST ---------------------------------------------------------------------------------------

    def parse_depth_snapshot(self, body: bytes, symbol: str, ts_recv: int) -> BookSnapshot:
        """REST depth body -> BookSnapshot. Raises MalformedMessage (the caller fetches again)."""
        native = _native.levels_from_json
        if native is not None:
            try:
                raw = _RAW_SNAPSHOT(body)
                scales = self._scales.get(symbol) or self._scales_for_raw(symbol, raw.bids, raw.asks)
                bids, asks = scales.from_json(raw.bids, native), scales.from_json(raw.asks, native)
                return self._snapshot(symbol, raw.last_update_id, bids, asks, raw.event_time_ms, ts_recv)
            except Exception:  # the Python path decides, and words any error
                pass
        try:
            snapshot = _SNAPSHOT(body)
            scales = self._scales_for(symbol, snapshot.bids, snapshot.asks)
            bids, asks = scales.levels(body, snapshot.bids, snapshot.asks)
        except (msgspec.DecodeError, ValueError, IndexError) as error:
            raise MalformedMessage(f"{symbol} depth snapshot: {type(error).__name__}: {error}") from error
        return self._snapshot(symbol, snapshot.last_update_id, bids, asks, snapshot.event_time_ms, ts_recv)

    @staticmethod
    def _snapshot(
        symbol: str,
        last_update_id: int,
        bids: list[Level],
        asks: list[Level],
        event_time_ms: int,
        ts_recv: int,
    ) -> BookSnapshot:
        return BookSnapshot(
            symbol=symbol,
            last_update_id=last_update_id,
            bids=bids,
            asks=asks,
            ts_event=event_time_ms * NANOS_PER_MILLI,  # 0 on spot: the REST body has no time
            ts_recv=ts_recv,
        )

    # -- scales -------------------------------------------------------------------------------------

    def _scales_for(self, symbol: str, *sides: list[WireLevel]) -> SymbolScales:
        known = self._scales.get(symbol)
        if known is not None:
            return known
        instrument = self._instruments.get(symbol)
        if instrument is not None:
            known = SymbolScales(instrument.price_scale, instrument.size_scale)
        elif not self._infer:
            raise ValueError(f"no instrument for symbol {symbol!r}")
        else:
            known = self._infer_scales(symbol, sides)
            if known is None:  # nothing to infer from yet (an empty diff): convert nothing
                return _NO_LEVELS
        self._scales[symbol] = known
        return known

    def _scales_for_raw(self, symbol: str, *sides: msgspec.Raw) -> SymbolScales:
        """`_scales_for` when the levels are still raw JSON: decoded only to infer a symbol's scales."""
        if symbol in self._instruments or not self._infer:
            return self._scales_for(symbol)
        return self._scales_for(symbol, *(_WIRE_LEVELS(bytes(side)) for side in sides))

    @staticmethod
    def _infer_scales(symbol: str, sides: tuple[list[WireLevel], ...]) -> SymbolScales | None:
        prices = [price for side in sides for price, _ in side]
        sizes = [size for side in sides for _, size in side]
        if not prices:
            return None
        for text in (*prices, *sizes):
            if _DECIMAL.fullmatch(text) is None:
                raise ValueError(f"{symbol}: not an unsigned decimal: {text[:40]!r}")
        price_scale = max(map(decimals_of, prices))
        size_scale = max(map(decimals_of, sizes))
        if max(price_scale, size_scale) > MAX_INFERRED_SCALE:
            raise ValueError(f"{symbol}: {max(price_scale, size_scale)} decimals is not a price or a size")
        return SymbolScales(price_scale, size_scale)


_NO_LEVELS = SymbolScales(0, 0)  # only ever asked to convert empty sides
_PROBE = msgspec.json.Decoder(FrameProbe).decode
_DEPTH = msgspec.json.Decoder(DepthUpdate).decode
_BOOK_TICKER = msgspec.json.Decoder(BookTicker).decode
_TRADE = msgspec.json.Decoder(Trade).decode
_AGGREGATE_TRADE = msgspec.json.Decoder(AggregateTrade).decode
_SNAPSHOT = msgspec.json.Decoder(DepthSnapshot).decode
_DEPTH_ENVELOPE = msgspec.json.Decoder(DepthEnvelope).decode
_RAW_DEPTH = msgspec.json.Decoder(RawDepthUpdate).decode
_RAW_DEPTH_ENVELOPE = msgspec.json.Decoder(RawDepthEnvelope).decode
_RAW_SNAPSHOT = msgspec.json.Decoder(RawDepthSnapshot).decode
_WIRE_LEVELS = msgspec.json.Decoder(list[WireLevel]).decode
_BOOK_TICKER_ENVELOPE = msgspec.json.Decoder(BookTickerEnvelope).decode
_TRADE_ENVELOPE = msgspec.json.Decoder(TradeEnvelope).decode
_AGGREGATE_TRADE_ENVELOPE = msgspec.json.Decoder(AggregateTradeEnvelope).decode
