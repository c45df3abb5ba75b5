"""Kraken spot WebSocket: frame bytes -> typed events, exactly. Pure: no awaits, no clock, never raises.

WS v2: `book` -> `KrakenBookUpdate` (integer units at the pair's precision, from the exact JSON
number text), `trade` -> `TradePrint`, `ticker` -> `BestBidAsk`; `heartbeat`, `status` and
successful method replies -> []. WS v1 (older recordings): `trade` -> `TradePrint` (v1 trades carry
no id: trade_id 0), `ticker` -> `BestBidAsk`; heartbeat, systemStatus and subscriptionStatus -> [];
v1 `book-N` is not supported (one `Malformed`, so it is never silently dropped). Tickers carry no
book id: `update_id` is 0. Error replies and anything not understood give one `Malformed`.

Numbers convert at the pair's precision (`Instrument.price_scale` = price_precision/pair_decimals,
`size_scale` = qty_precision/lot_decimals); a number with significant digits beyond it is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

import msgspec

from tradestack.domain.events import BestBidAsk, Level, Malformed, Side, TradePrint
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.venues.kraken.messages import (
    AssetPairsResponse,
    BookMessage,
    KrakenBookUpdate,
    Probe,
    RawLevel,
    TickerMessage,
    TradeMessage,
    V1Ticker,
    V1Trade,
)

NANOS_PER_SECOND = 1_000_000_000
SAMPLE_BYTES = 200
MAX_EXPONENT = 40
IGNORED_CHANNELS = frozenset({"heartbeat", "status", "instrument", "ohlc", "level3"})
IGNORED_V1_EVENTS = frozenset({"heartbeat", "systemStatus", "pong"})
IGNORED_V1_CHANNELS = frozenset({"spread", "ohlc"})

_NUMBER = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?(?:[eE](?P<exponent>[+-]?[0-9]+))?")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_UNIX = re.compile(r"(?P<seconds>[0-9]+)(?:\.(?P<fraction>[0-9]+))?")
_RFC3339 = re.compile(
    r"(?P<seconds>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?Z"
)

KrakenEvent = KrakenBookUpdate | TradePrint | BestBidAsk | Malformed


class KrakenParseError(ValueError):
    """A frame that is not a Kraken message we can represent exactly."""


def instruments_from_asset_pairs(body: bytes) -> dict[str, Instrument]:
    """REST `GET /0/public/AssetPairs` body -> {wsname: Instrument} at pair_decimals / lot_decimals."""
    try:
        return _instruments_from_asset_pairs(body)
    except KrakenParseError:
        raise
    except (msgspec.DecodeError, ValueError) as error:  # one typed error for any bad body
        raise KrakenParseError(f"AssetPairs: {type(error).__name__}: {error}") from error


def _instruments_from_asset_pairs(body: bytes) -> dict[str, Instrument]:
    response = _ASSET_PAIRS(body)
    if response.error:
        raise KrakenParseError(f"AssetPairs failed: {response.error[:3]}")
    instruments: dict[str, Instrument] = {}
    for pair in response.result.values():
        if not pair.wsname:
            continue  # dark-pool ".d" pairs have no WebSocket name
        base, _, quote = pair.wsname.partition("/")
        instruments[pair.wsname] = Instrument(
            venue="kraken",
            symbol=pair.wsname,
            base=base,
            quote=quote,
            price_scale=pair.pair_decimals,
            size_scale=pair.lot_decimals,
        )
    return instruments


def number_units(raw: bytes | str, scale: int) -> int:
    """Exact JSON number text (no sign) -> integer units of 10**-scale; "1.5e-05", 8 -> 1500."""
    text = raw.decode("ascii") if isinstance(raw, bytes) else raw
    match = _NUMBER.fullmatch(text)
    if match is None:
        raise KrakenParseError(f"not an unsigned number: {text[:40]!r}")
    fraction = match["fraction"] or ""
    exponent = int(match["exponent"] or "0")
    if abs(exponent) > MAX_EXPONENT:
        raise KrakenParseError(f"exponent out of range: {text[:40]!r}")
    digits = match["whole"] + fraction
    shift = exponent - len(fraction) + scale  # value = int(digits) * 10**(shift - scale)
    if shift >= 0:
        return int(digits + "0" * shift)
    kept, dropped = digits[:shift], digits[shift:]
    if dropped.strip("0"):
        raise KrakenParseError(f"{text[:40]!r} has more than {scale} decimals")
    return int(kept) if kept else 0


def _text_units(text: str, scale: int) -> int:
    if _DECIMAL.fullmatch(text) is None:
        raise KrakenParseError(f"not an unsigned decimal: {text[:40]!r}")
    return parse_fixed(text, scale)


def rfc3339_nanos(text: str) -> int:
    """ "2023-10-06T17:35:55.440295Z" -> nanoseconds since the epoch, exactly."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise KrakenParseError(f"not an RFC 3339 UTC time: {text[:40]!r}")
    moment = datetime.strptime(match["seconds"], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    seconds = (moment - _EPOCH).days * 86_400 + (moment - _EPOCH).seconds
    return seconds * NANOS_PER_SECOND + int((match["fraction"] or "").ljust(9, "0"))


def unix_nanos(text: str) -> int:
    """ "1618678142.557535" -> nanoseconds, exactly (digits past nanoseconds dropped)."""
    match = _UNIX.fullmatch(text)
    if match is None:
        raise KrakenParseError(f"not a unix time: {text[:40]!r}")
    fraction = (match["fraction"] or "")[:9].ljust(9, "0")
    return int(match["seconds"]) * NANOS_PER_SECOND + int(fraction)


class KrakenMarketParser:
    """Kraken spot WS v2 (and v1 trade/ticker) -> KrakenBookUpdate, TradePrint, BestBidAsk, Malformed."""

    __slots__ = ("_instruments",)

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = instruments

    def parse(self, frame: bytes, ts_recv: int) -> list[KrakenEvent]:
        """One WebSocket frame -> its events. Never raises: failures become one `Malformed`."""
        try:
            if frame[:1] == b"[":
                return self._parse_v1(frame, ts_recv)
            return self._parse(frame, ts_recv)
        except Exception as error:  # the contract: bad input is counted, never raised
            return [Malformed(f"{type(error).__name__}: {error}", bytes(frame[:SAMPLE_BYTES]), ts_recv)]

    def _instrument(self, symbol: str) -> Instrument:
        instrument = self._instruments.get(symbol)
        if instrument is None:
            raise KrakenParseError(f"no instrument for {symbol[:40]!r}")
        return instrument

    # -- v2 -------------------------------------------------------------------------------------------

    def _parse(self, frame: bytes, ts_recv: int) -> list[KrakenEvent]:
        probe = _PROBE(frame)
        if probe.event is not None:  # v1 event frames
            if probe.event in IGNORED_V1_EVENTS:
                return []
            if probe.event == "subscriptionStatus" and probe.status != "error":
                return []
            raise KrakenParseError(f"v1 event {probe.event!r}: {probe.status} {probe.errorMessage}")
        if probe.method is not None:
            if probe.success:
                return []
            raise KrakenParseError(f"{probe.method} failed: {probe.error}")
        channel = probe.channel
        if channel is None:
            raise KrakenParseError("neither a channel push nor a method reply")
        if channel in IGNORED_CHANNELS:
            return []
        if channel == "book":
            return self._book(_BOOK(frame), ts_recv)
        if channel == "trade":
            return self._trades(_TRADES(frame), ts_recv)
        if channel == "ticker":
            return self._tickers(_TICKERS(frame), ts_recv)
        raise KrakenParseError(f"channel {channel[:40]!r} is not supported")

    def _book(self, message: BookMessage, ts_recv: int) -> list[KrakenEvent]:
        if message.type not in ("snapshot", "update"):
            raise KrakenParseError(f"book type {message.type[:40]!r}")
        events: list[KrakenEvent] = []
        for data in message.data:
            instrument = self._instrument(data.symbol)
            events.append(
                KrakenBookUpdate(
                    symbol=data.symbol,
                    snapshot=message.type == "snapshot",
                    bids=_levels(data.bids, instrument),
                    asks=_levels(data.asks, instrument),
                    checksum=data.checksum,
                    ts_event=rfc3339_nanos(data.timestamp) if data.timestamp else 0,
                    ts_recv=ts_recv,
                )
            )
        return events

    def _trades(self, message: TradeMessage, ts_recv: int) -> list[KrakenEvent]:
        events: list[KrakenEvent] = []
        for trade in message.data:
            instrument = self._instrument(trade.symbol)
            price = number_units(bytes(trade.price), instrument.price_scale)
            size = number_units(bytes(trade.qty), instrument.size_scale)
            if price <= 0 or size <= 0:
                raise KrakenParseError(f"a trade of {bytes(trade.qty)[:40]!r} at {bytes(trade.price)[:40]!r}")
            events.append(
                TradePrint(
                    symbol=trade.symbol,
                    trade_id=trade.trade_id,
                    price=price,
                    size=size,
                    aggressor=_side(trade.side),
                    ts_event=rfc3339_nanos(trade.timestamp),
                    ts_recv=ts_recv,
                )
            )
        return events

    def _tickers(self, message: TickerMessage, ts_recv: int) -> list[KrakenEvent]:
        events: list[KrakenEvent] = []
        for ticker in message.data:
            instrument = self._instrument(ticker.symbol)
            price_scale = instrument.price_scale
            size_scale = instrument.size_scale
            events.append(
                BestBidAsk(
                    symbol=ticker.symbol,
                    update_id=0,
                    bid_price=number_units(bytes(ticker.bid), price_scale),
                    bid_size=number_units(bytes(ticker.bid_qty), size_scale),
                    ask_price=number_units(bytes(ticker.ask), price_scale),
                    ask_size=number_units(bytes(ticker.ask_qty), size_scale),
                    ts_recv=ts_recv,
                )
            )
        return events

    # -- v1 -------------------------------------------------------------------------------------------

    def _parse_v1(self, frame: bytes, ts_recv: int) -> list[KrakenEvent]:
        parts = _V1_PARTS(frame)
        if len(parts) != 4:
            raise KrakenParseError(f"v1 channel message of {len(parts)} parts")
        channel = _V1_NAME(bytes(parts[2]))
        if channel == "trade":
            _, trades, _, pair = _V1_TRADE(frame)
            instrument = self._instrument(pair)
            events: list[KrakenEvent] = []
            for trade in trades:
                if len(trade) < 4 or trade[3] not in ("b", "s"):
                    raise KrakenParseError(f"v1 trade {trade[:4]!r}")
                events.append(
                    TradePrint(
                        symbol=pair,
                        trade_id=0,  # v1 trades carry no id
                        price=_text_units(trade[0], instrument.price_scale),
                        size=_text_units(trade[1], instrument.size_scale),
                        aggressor=Side.BUY if trade[3] == "b" else Side.SELL,
                        ts_event=unix_nanos(trade[2]),
                        ts_recv=ts_recv,
                    )
                )
            return events
        if channel == "ticker":
            _, body, _, pair = _V1_TICKER(frame)
            instrument = self._instrument(pair)
            price_scale = instrument.price_scale
            size_scale = instrument.size_scale
            return [
                BestBidAsk(
                    symbol=pair,
                    update_id=0,
                    bid_price=_text_units(body.b[0], price_scale),
                    bid_size=_text_units(body.b[2], size_scale),
                    ask_price=_text_units(body.a[0], price_scale),
                    ask_size=_text_units(body.a[2], size_scale),
                    ts_recv=ts_recv,
                )
            ]
        if channel in IGNORED_V1_CHANNELS:
            return []
        raise KrakenParseError(f"v1 channel {channel[:40]!r} is not supported")


def _side(text: str) -> Side:
    if text == "buy":
        return Side.BUY
    if text == "sell":
        return Side.SELL
    raise KrakenParseError(f"side {text[:40]!r}")


def _levels(wire: list[RawLevel], instrument: Instrument) -> list[Level]:
    price_scale = instrument.price_scale
    size_scale = instrument.size_scale
    return [
        (number_units(bytes(level.price), price_scale), number_units(bytes(level.qty), size_scale))
        for level in wire
    ]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PROBE = msgspec.json.Decoder(Probe).decode
_BOOK = msgspec.json.Decoder(BookMessage).decode
_TRADES = msgspec.json.Decoder(TradeMessage).decode
_TICKERS = msgspec.json.Decoder(TickerMessage).decode
_ASSET_PAIRS = msgspec.json.Decoder(AssetPairsResponse).decode
_V1_PARTS = msgspec.json.Decoder(list[msgspec.Raw]).decode
_V1_NAME = msgspec.json.Decoder(str).decode
_V1_TRADE = msgspec.json.Decoder(V1Trade).decode
_V1_TICKER = msgspec.json.Decoder(V1Ticker).decode
