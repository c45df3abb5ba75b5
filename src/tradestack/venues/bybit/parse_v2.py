"""Bybit v2 public market data (the 2021 protocol of cryptofeed's BYBIT recording). Pure, never raises.

`orderBookL2_25.<symbol>`: a snapshot (a list of rows on inverse contracts, `{"order_book": [...]}` on
linear ones) then deltas `{"delete", "update", "insert"}`; each becomes one `BybitBookUpdate` with
`update_id` None and `seq` = `cross_seq` (v2 has no `u`). A delete row becomes size 0.
`trade.<symbol>` -> `TradePrint`. Subscription acks and pongs give []; anything else one `Malformed`.

v2 sends sizes (and inverse contracts' trade prices and times) as JSON numbers: their raw JSON text is
kept and must be a plain decimal (no exponent, no sign). Scales come from `/v2/public/symbols`
(tick_size, qty_step), which the recording's header holds.

v2 linear contracts computed sizes in 32-bit floats: 69.3 arrives as `69.299995`, the shortest text
of the float32 one step below 69.3. Such a number (more decimals than the lot allows) is read as the
nearest value at the instrument's scale only when its float32 is within `FLOAT32_STEPS` float32 steps
(units in the last place) of that value's float32 (`float32_units`); anything further is refused
(`Malformed`). The integer comes from the decimal digits; the float32 only bounds the noise.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import msgspec

from tradestack.domain.events import Level, Malformed, TradePrint
from tradestack.domain.instruments import Instrument, NotRepresentable, format_fixed, pow10
from tradestack.venues.bybit.messages import (
    BybitBookUpdate,
    Probe,
    V2BookMessage,
    V2Delta,
    V2Row,
    V2SnapshotLinear,
    V2SymbolsResponse,
    V2TradeMessage,
)
from tradestack.venues.bybit.parse import (
    MAX_NANOS,
    SAMPLE_BYTES,
    BybitEvent,
    BybitParseError,
    aggressor,
    millis,
    trade_id,
    units,
)

NANOS_PER_MICRO = 1_000


def instruments_from_v2_symbols(body: bytes, venue: str = "bybit") -> dict[str, Instrument]:
    """`GET /v2/public/symbols` body -> {name: Instrument}."""
    try:
        return _instruments_from_v2_symbols(body, venue)
    except BybitParseError:
        raise
    except (msgspec.DecodeError, ValueError) as error:  # one typed error for any bad body
        raise BybitParseError(f"symbols: {type(error).__name__}: {error}") from error


def _instruments_from_v2_symbols(body: bytes, venue: str = "bybit") -> dict[str, Instrument]:
    response = _SYMBOLS(body)
    if response.ret_code != 0:
        raise BybitParseError(f"symbols request failed: ret_code {response.ret_code}")
    return {
        item.name: Instrument.from_steps(
            venue,
            item.name,
            item.base_currency,
            item.quote_currency,
            item.price_filter.tick_size,
            number_text(item.lot_size_filter.qty_step),
            number_text(item.lot_size_filter.min_trading_qty),
        )
        for item in response.result
    }


def number_text(raw: msgspec.Raw) -> str:
    """The exact text of a JSON number or string value (quotes removed)."""
    text = bytes(raw).decode()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return text


FLOAT32_DIGITS = 9  # a float32's shortest decimal text has at most 9 significant digits
FLOAT32_STEPS = 4  # float32 rounding noise tolerated, in units in the last place


def _float32_bits(text: str) -> int:
    """The float32 of a non-negative decimal text as its bit pattern (ordered like the values)."""
    value: int = struct.unpack("<I", struct.pack("<f", float(text)))[0]
    return value


def float32_units(text: str, scale: int) -> int:
    """A v2 number -> integer units of 10**-scale, exactly, reading float32 renderings (see above)."""
    try:
        return units(text, scale)
    except NotRepresentable:
        pass
    whole, _, fraction = text.partition(".")
    if len((whole + fraction).lstrip("0")) > FLOAT32_DIGITS:
        raise BybitParseError(f"{text[:40]!r}: too many digits for a float32 rendering")
    digits = len(fraction)
    exact = int(whole + fraction)  # units of 10**-digits, digits > scale here
    step = pow10(digits - scale)
    candidate = (exact + step // 2) // step  # nearest value at the scale
    if abs(_float32_bits(format_fixed(candidate, scale)) - _float32_bits(text)) > FLOAT32_STEPS:
        raise BybitParseError(f"{text[:40]!r} is not float32 noise around a {scale}-decimal value")
    return candidate


def whole_number(value: int | str, name: str) -> int:
    """A non-negative integer sent as a JSON number or as a string of ASCII digits."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()):
            raise BybitParseError(f"{name} {value[:40]!r}")
        return int(value)
    if value < 0:
        raise BybitParseError(f"negative {name}")
    return value


class BybitV2MarketParser:
    """Bybit v2 `orderBookL2_25` and `trade` -> BybitBookUpdate and TradePrint (or Malformed)."""

    __slots__ = ("_instruments",)

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = instruments

    def parse(self, frame: bytes, ts_recv: int) -> list[BybitEvent]:
        try:
            return self._parse(frame, ts_recv)
        except Exception as error:  # the contract: bad input is counted, never raised
            return [Malformed(f"{type(error).__name__}: {error}", bytes(frame[:SAMPLE_BYTES]), ts_recv)]

    def _parse(self, frame: bytes, ts_recv: int) -> list[BybitEvent]:
        probe = _PROBE(frame)
        if probe.topic is None:
            if probe.success is True or probe.ret_msg == "pong":
                return []
            raise BybitParseError(f"request failed: {(probe.ret_msg or '')[:80]}")
        head, _, symbol = probe.topic.partition(".")
        if head.startswith("orderBookL2_"):
            return [self._book(_BOOK(frame), symbol, ts_recv)]
        if head == "trade":
            return self._trades(_TRADES(frame), ts_recv)
        raise BybitParseError(f"unknown topic {probe.topic[:60]!r}")

    def _instrument(self, symbol: str) -> Instrument:
        instrument = self._instruments.get(symbol)
        if instrument is None:
            raise BybitParseError(f"no instrument for {symbol[:40]!r}")
        return instrument

    def _book(self, message: V2BookMessage, symbol: str, ts_recv: int) -> BybitBookUpdate:
        instrument = self._instrument(symbol)
        body = bytes(message.data)
        if message.type == "snapshot":
            rows = _ROWS(body) if body.lstrip()[:1] == b"[" else _LINEAR_SNAPSHOT(body).order_book
            bids, asks = self._sides(rows, symbol, instrument, deleting=False)
        elif message.type == "delta":
            delta = _DELTA(body)
            gone_bids, gone_asks = self._sides(delta.delete, symbol, instrument, deleting=True)
            bids, asks = self._sides([*delta.update, *delta.insert], symbol, instrument, deleting=False)
            bids = gone_bids + bids
            asks = gone_asks + asks
        else:
            raise BybitParseError(f"unknown book type {message.type[:20]!r}")
        cross_seq = whole_number(message.cross_seq, "cross_seq")
        timestamp_e6 = whole_number(message.timestamp_e6, "timestamp_e6")
        if timestamp_e6 > MAX_NANOS // NANOS_PER_MICRO:
            raise BybitParseError(f"timestamp_e6 {timestamp_e6} is beyond int64 nanoseconds")
        return BybitBookUpdate(
            symbol=symbol,
            snapshot=message.type == "snapshot",
            bids=bids,
            asks=asks,
            update_id=None,
            seq=cross_seq,
            ts_event=timestamp_e6 * NANOS_PER_MICRO,
            ts_recv=ts_recv,
        )

    @staticmethod
    def _sides(
        rows: list[V2Row], symbol: str, instrument: Instrument, *, deleting: bool
    ) -> tuple[list[Level], list[Level]]:
        bids: list[Level] = []
        asks: list[Level] = []
        for row in rows:
            if row.symbol != symbol:
                raise BybitParseError(f"row of {row.symbol[:40]!r} in {symbol[:40]!r}'s book")
            price = units(row.price, instrument.price_scale)
            if deleting:
                size = 0
            else:
                size = float32_units(number_text(row.size), instrument.size_scale) if bytes(row.size) else -1
                if size <= 0:
                    raise BybitParseError(f"{symbol[:40]}: a row without a positive size")
            side = aggressor(row.side)  # Buy: a bid, Sell: an ask
            (bids if side.name == "BUY" else asks).append((price, size))
        return bids, asks

    def _trades(self, message: V2TradeMessage, ts_recv: int) -> list[BybitEvent]:
        events: list[BybitEvent] = []
        for trade in message.data:
            instrument = self._instrument(trade.symbol)
            time_text = number_text(trade.trade_time_ms)
            if not time_text.isdigit() or not time_text.isascii():
                raise BybitParseError(f"trade time {time_text[:40]!r}")
            price = float32_units(number_text(trade.price), instrument.price_scale)
            size = float32_units(number_text(trade.size), instrument.size_scale)
            if price <= 0 or size <= 0:  # a trade happened: both are positive
                raise BybitParseError(f"trade price {price} size {size}")
            events.append(
                TradePrint(
                    symbol=trade.symbol,
                    trade_id=trade_id(trade.trade_id),
                    price=price,
                    size=size,
                    aggressor=aggressor(trade.side),
                    ts_event=millis(int(time_text)),
                    ts_recv=ts_recv,
                )
            )
        return events


_PROBE = msgspec.json.Decoder(Probe).decode
_BOOK = msgspec.json.Decoder(V2BookMessage).decode
_ROWS = msgspec.json.Decoder(list[V2Row]).decode
_LINEAR_SNAPSHOT = msgspec.json.Decoder(V2SnapshotLinear).decode
_DELTA = msgspec.json.Decoder(V2Delta).decode
_TRADES = msgspec.json.Decoder(V2TradeMessage).decode
_SYMBOLS = msgspec.json.Decoder(V2SymbolsResponse).decode
