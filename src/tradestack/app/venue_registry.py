"""Which connector trades which venue, and the venue's own names for the embedded default symbols."""

from __future__ import annotations

from tradestack.app.venue_binance import BinanceConnector
from tradestack.app.venue_binance_futures import BinanceFuturesConnector
from tradestack.app.venue_bybit import BybitConnector
from tradestack.app.venue_coinbase import CoinbaseConnector
from tradestack.app.venue_connector import Credentials, Endpoints, OrderWritten, VenueConnector
from tradestack.app.venue_kraken import KrakenConnector
from tradestack.app.venue_okx import OkxConnector
from tradestack.config import Settings
from tradestack.ports import Clock

# The embedded defaults name Binance's symbols; other venues spell the same pairs their own way.
NATIVE_SYMBOLS: dict[str, dict[str, str]] = {
    "binance": {},
    "binance-futures": {},  # USD-M perpetuals are spelled as spot symbols
    "okx": {"BTCUSDT": "BTC-USDT", "ETHUSDT": "ETH-USDT"},
    "coinbase": {"BTCUSDT": "BTC-USD", "ETHUSDT": "ETH-USD"},  # Coinbase quotes in USD
    "bybit": {},  # Bybit spot spells them as Binance does
    "kraken": {"BTCUSDT": "BTC/USDT", "ETHUSDT": "ETH/USDT"},  # WebSocket v2 names
}
# venues whose keys come with a passphrase
PASSPHRASE_VENUES = frozenset({"okx", "coinbase"})


CONNECTORS: dict[
    str,
    type[
        BinanceConnector
        | BinanceFuturesConnector
        | OkxConnector
        | CoinbaseConnector
        | BybitConnector
        | KrakenConnector
    ],
] = {
    "binance": BinanceConnector,
    "binance-futures": BinanceFuturesConnector,
    "okx": OkxConnector,
    "coinbase": CoinbaseConnector,
    "bybit": BybitConnector,
    "kraken": KrakenConnector,
}


def connect(
    venue: str,
    endpoints: Endpoints,
    credentials: Credentials,
    clock: Clock,
    on_order_written: OrderWritten | None = None,
) -> VenueConnector:
    connector = CONNECTORS.get(venue)
    if connector is None:
        raise ValueError(f"no connector for venue {venue!r}: supported are {', '.join(CONNECTORS)}")
    return connector(endpoints, credentials, clock, on_order_written)


def for_venue(settings: Settings, venue: str) -> Settings:
    """The settings trading `venue`: symbols the embedded defaults name Binance's way are renamed to
    the venue's own (BTCUSDT -> BTC-USDT on OKX) in every per-symbol table; others stay as written."""
    names = NATIVE_SYMBOLS.get(venue, {})

    def rename(table: object) -> dict[str, object]:
        assert isinstance(table, dict)
        return {names.get(str(symbol), str(symbol)): value for symbol, value in table.items()}

    data = settings.model_dump()
    data["venue"] = venue
    data["symbols"] = [names.get(symbol, symbol) for symbol in settings.symbols]
    for section, key in (
        ("strategy", "order_size"),
        ("strategy", "max_inventory"),
        ("risk", "max_order_size"),
        ("risk", "max_position"),
        ("simulator", "start_prices"),
    ):
        data[section][key] = rename(data[section][key])
    return Settings.model_validate(data)
