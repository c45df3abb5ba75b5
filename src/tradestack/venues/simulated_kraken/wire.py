"""Kraken's names and number texts built from the shared venue core's integers.

The core's symbols are WebSocket v2 names ("BTC/USDT") with common asset names; REST names the pair
by its AssetPairs key / altname ("XBTUSDT", wsname "XBT/USDT") and assets their legacy way ("XXBT").
REST writes prices at pair_decimals and volumes at lot_decimals, padded ("60000.0", "0.01000");
WebSocket v2 writes JSON numbers (the same texts, unquoted). Txids ("OQCLML-BW3P3-BUCMWZ") and trade
ids ("TCCCTY-WE2O6-P3NB37") are derived from the core's integer ids and read back through tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime

from tradestack.domain.instruments import Instrument, format_fixed
from tradestack.venues.simulated.accounts import ASSET_SCALE

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
LEGACY_ASSETS = {"BTC": "XXBT", "ETH": "XETH", "USD": "ZUSD", "EUR": "ZEUR", "DOGE": "XXDG"}
_LEGACY_BASE = {"BTC": "XBT", "DOGE": "XDG"}


def kraken_id(prefix: str, *parts: object) -> str:
    """A Kraken-shaped id (prefix + 5, then 5, then 6 characters), deterministic in `parts`."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=10).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(16):
        number, index = divmod(number, 32)
        chars.append(_ALPHABET[index])
    text = "".join(chars)
    return f"{prefix}{text[:5]}-{text[5:10]}-{text[10:16]}"


def rest_asset(asset: str) -> str:
    return LEGACY_ASSETS.get(asset, asset)


def altname(symbol: str) -> str:
    """ "BTC/USDT" -> "XBTUSDT" (Kraken's REST altname)."""
    base, _, quote = symbol.partition("/")
    return f"{_LEGACY_BASE.get(base, base)}{quote}"


def wsname(symbol: str) -> str:
    """ "BTC/USDT" -> "XBT/USDT" (AssetPairs' `wsname`)."""
    base, _, quote = symbol.partition("/")
    return f"{_LEGACY_BASE.get(base, base)}/{quote}"


def seconds(time_ms: int) -> float:
    """Kraken's REST times: seconds as a JSON number (4 decimals)."""
    return round(time_ms / 1000, 4)


def rfc3339(time_ms: int) -> str:
    moment = datetime.fromtimestamp(time_ms // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{time_ms % 1000:03d}000Z"


class KrakenWire:
    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self.instruments = instruments
        self.symbols: dict[str, str] = {}  # altname, key, wsname or v2 name -> core symbol
        for symbol in instruments:
            for name in (symbol, altname(symbol), wsname(symbol)):
                self.symbols[name] = symbol

    def price(self, symbol: str, value: int) -> str:
        return format_fixed(value, self.instruments[symbol].price_scale)

    def size(self, symbol: str, value: int) -> str:
        return format_fixed(value, self.instruments[symbol].size_scale)

    def asset(self, value: int) -> str:
        return format_fixed(value, ASSET_SCALE)

    def asset_pair(self, instrument: Instrument) -> dict[str, object]:
        symbol = instrument.symbol
        return {
            "altname": altname(symbol),
            "wsname": wsname(symbol),
            "aclass_base": "currency",
            "base": rest_asset(instrument.base),
            "aclass_quote": "currency",
            "quote": rest_asset(instrument.quote),
            "lot": "unit",
            "cost_decimals": ASSET_SCALE,
            "pair_decimals": instrument.price_scale,
            "lot_decimals": instrument.size_scale,
            "lot_multiplier": 1,
            "fees": [[0, 0.4]],
            "fees_maker": [[0, 0.25]],
            "fee_volume_currency": "ZUSD",
            "margin_call": 80,
            "margin_stop": 40,
            "ordermin": format_fixed(max(instrument.min_size, instrument.lot), instrument.size_scale),
            "costmin": "0.5",
            "tick_size": format_fixed(instrument.tick, instrument.price_scale),
            "status": "online",
        }
