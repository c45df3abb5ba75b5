"""Coinbase Exchange ws-feed market data: frame bytes -> typed events, exactly. Pure; never raises.

`snapshot`/`l2update` -> `CoinbaseBookUpdate`; `ticker` -> `CoinbaseBestBidAsk` (a `BestBidAsk`);
`match`/`last_match` -> `CoinbaseTradePrint` (a `TradePrint`; the aggressor is the opposite of the
maker `side`). `subscriptions`, `heartbeat`, `status` and the full channel's order messages give [];
`error` frames, unknown types, unknown products and numbers beyond the product's scale give one
`Malformed`. Scales come from the product list (`quote_increment`, `base_increment`; the recording
header's `GET /products`). Without product info every product uses scale 8 for price and size:
Coinbase Exchange quotes both with at most 8 decimals, so that is exact; a string with significant
digits beyond the scale is refused, never truncated.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

import msgspec

from tradestack.domain.events import Malformed, Side
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.venues.coinbase.messages import (
    CoinbaseBestBidAsk,
    CoinbaseBookUpdate,
    CoinbaseTradePrint,
    L2UpdateMessage,
    MatchMessage,
    Probe,
    Product,
    SnapshotMessage,
    TickerMessage,
)

SAMPLE_BYTES = 200
DEFAULT_SCALE = 8
IGNORED_TYPES = frozenset(
    {"subscriptions", "heartbeat", "status", "received", "open", "done", "change", "activate"}
)
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")
_EPOCH_DAY = dt.date(1970, 1, 1).toordinal()
_NANOS = 1_000_000_000

CoinbaseEvent = CoinbaseBookUpdate | CoinbaseBestBidAsk | CoinbaseTradePrint | Malformed


class CoinbaseParseError(ValueError):
    """A frame that is not a Coinbase message we can represent exactly."""


def products_from_rest(body: bytes, venue: str = "coinbase") -> dict[str, Instrument]:
    """`GET /products` body -> {product id: Instrument} (quote_increment, base_increment)."""
    try:
        return _products_from_rest(body, venue)
    except CoinbaseParseError:
        raise
    except (msgspec.DecodeError, ValueError) as error:  # one typed error for any bad body
        raise CoinbaseParseError(f"products: {type(error).__name__}: {error}") from error


def _products_from_rest(body: bytes, venue: str = "coinbase") -> dict[str, Instrument]:
    return {
        product.id: Instrument.from_steps(
            venue,
            product.id,
            product.base_currency,
            product.quote_currency,
            product.quote_increment,
            product.base_increment,
        )
        for product in _PRODUCTS(body)
    }


def iso_nanos(text: str) -> int:
    """ "2021-04-17T16:43:37.075687Z" -> integer ns since the epoch, exactly (UTC only)."""
    match = _TIME.fullmatch(text)
    if match is None:
        raise CoinbaseParseError(f"not a UTC time: {text[:40]!r}")
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        days = dt.date(int(year), int(month), int(day)).toordinal() - _EPOCH_DAY
    except ValueError as error:
        raise CoinbaseParseError(f"not a date: {text[:40]!r}") from error
    if int(hour) > 23 or int(minute) > 59 or int(second) > 60:
        raise CoinbaseParseError(f"not a time of day: {text[:40]!r}")
    seconds = days * 86_400 + int(hour) * 3_600 + int(minute) * 60 + int(second)
    nanos = seconds * _NANOS + int((fraction or "").ljust(9, "0"))
    if not 0 <= nanos < 2**63:  # before 1970 or after 2262: not a time this system can hold
        raise CoinbaseParseError(f"not a time in int64 nanoseconds: {text[:40]!r}")
    return nanos


def _units(text: str, scale: int) -> int:
    if _DECIMAL.fullmatch(text) is None:
        raise CoinbaseParseError(f"not an unsigned decimal: {text[:40]!r}")
    return parse_fixed(text, scale)


class CoinbaseMarketParser:
    """Coinbase ws-feed -> CoinbaseBookUpdate, CoinbaseBestBidAsk, CoinbaseTradePrint (or Malformed)."""

    __slots__ = ("_instruments",)

    def __init__(self, instruments: Mapping[str, Instrument] | None = None) -> None:
        self._instruments = instruments

    def scales(self, symbol: str) -> tuple[int, int]:
        """(price scale, size scale) for `symbol`; raises for a product the product list lacks."""
        if self._instruments is None:
            return DEFAULT_SCALE, DEFAULT_SCALE
        instrument = self._instruments.get(symbol)
        if instrument is None:
            raise CoinbaseParseError(f"no product {symbol[:40]!r}")
        return instrument.price_scale, instrument.size_scale

    def parse(self, frame: bytes, ts_recv: int) -> list[CoinbaseEvent]:
        """One WebSocket frame -> its events. Never raises: failures become one `Malformed`."""
        try:
            return self._parse(frame, ts_recv)
        except Exception as error:  # the contract: bad input is counted, never raised
            return [Malformed(f"{type(error).__name__}: {error}", bytes(frame[:SAMPLE_BYTES]), ts_recv)]

    def _parse(self, frame: bytes, ts_recv: int) -> list[CoinbaseEvent]:
        kind = _PROBE(frame).type
        if kind == "l2update":
            update = _L2UPDATE(frame)
            price_scale, size_scale = self.scales(update.product_id)
            bids: list[tuple[int, int]] = []
            asks: list[tuple[int, int]] = []
            for side, price, size in update.changes:
                level = (_units(price, price_scale), _units(size, size_scale))
                if side == "buy":
                    bids.append(level)
                elif side == "sell":
                    asks.append(level)
                else:
                    raise CoinbaseParseError(f"change side {side[:40]!r}")
            return [CoinbaseBookUpdate(update.product_id, False, bids, asks, iso_nanos(update.time), ts_recv)]
        if kind == "snapshot":
            snapshot = _SNAPSHOT(frame)
            price_scale, size_scale = self.scales(snapshot.product_id)
            return [
                CoinbaseBookUpdate(
                    snapshot.product_id,
                    True,
                    [(_units(p, price_scale), _units(s, size_scale)) for p, s in snapshot.bids],
                    [(_units(p, price_scale), _units(s, size_scale)) for p, s in snapshot.asks],
                    iso_nanos(snapshot.time) if snapshot.time else 0,
                    ts_recv,
                )
            ]
        if kind in ("match", "last_match"):
            match = _MATCH(frame)
            price_scale, size_scale = self.scales(match.product_id)
            if match.side not in ("buy", "sell"):
                raise CoinbaseParseError(f"match side {match.side[:40]!r}")
            if _units(match.price, price_scale) <= 0 or _units(match.size, size_scale) <= 0:
                raise CoinbaseParseError(f"match price {match.price[:40]!r} size {match.size[:40]!r}")
            return [
                CoinbaseTradePrint(
                    symbol=match.product_id,
                    trade_id=match.trade_id,
                    price=_units(match.price, price_scale),
                    size=_units(match.size, size_scale),
                    aggressor=Side.BUY if match.side == "sell" else Side.SELL,  # side is the maker's
                    ts_event=iso_nanos(match.time),
                    ts_recv=ts_recv,
                    sequence=match.sequence,
                    last_match=kind == "last_match",
                )
            ]
        if kind == "ticker":
            ticker = _TICKER(frame)
            price_scale, size_scale = self.scales(ticker.product_id)
            ts_event = iso_nanos(ticker.time) if ticker.time else 0
            if not (ticker.best_bid and ticker.best_ask):
                return []  # a side is empty: no best bid/ask to report
            sizes_known = ticker.best_bid_size is not None and ticker.best_ask_size is not None
            return [
                CoinbaseBestBidAsk(
                    symbol=ticker.product_id,
                    update_id=ticker.sequence,
                    bid_price=_units(ticker.best_bid, price_scale),
                    bid_size=_units(ticker.best_bid_size or "0", size_scale),
                    ask_price=_units(ticker.best_ask, price_scale),
                    ask_size=_units(ticker.best_ask_size or "0", size_scale),
                    ts_recv=ts_recv,
                    ts_event=ts_event,
                    trade_id=ticker.trade_id or 0,
                    sizes_known=sizes_known,
                )
            ]
        if kind in IGNORED_TYPES:
            return []
        if kind == "error":
            probe = _PROBE(frame)
            raise CoinbaseParseError(f"venue error: {probe.message} {probe.reason}")
        raise CoinbaseParseError(f"unknown message type {kind[:40]!r}")


_PROBE = msgspec.json.Decoder(Probe).decode
_SNAPSHOT = msgspec.json.Decoder(SnapshotMessage).decode
_L2UPDATE = msgspec.json.Decoder(L2UpdateMessage).decode
_TICKER = msgspec.json.Decoder(TickerMessage).decode
_MATCH = msgspec.json.Decoder(MatchMessage).decode
_PRODUCTS = msgspec.json.Decoder(list[Product]).decode
