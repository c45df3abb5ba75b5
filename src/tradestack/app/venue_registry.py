"""Which connector trades which venue, and the venue's own names for the embedded default symbols."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from tradestack.app.venue_binance import BinanceConnector
from tradestack.app.venue_binance_coinm import BinanceCoinmConnector
from tradestack.app.venue_binance_futures import BinanceFuturesConnector
from tradestack.app.venue_bybit import BybitConnector
from tradestack.app.venue_coinbase import CoinbaseConnector
from tradestack.app.venue_connector import Credentials, Endpoints, OrderWritten, VenueConnector
from tradestack.app.venue_kraken import KrakenConnector
from tradestack.app.venue_okx import OkxConnector
from tradestack.config import Settings
from tradestack.config.models import CONTRACT_SIZES
from tradestack.ports import Clock

# The embedded defaults name Binance's symbols; other venues spell the same pairs their own way.
NATIVE_SYMBOLS: dict[str, dict[str, str]] = {
    "binance": {},
    "binance-futures": {},  # USD-M perpetuals are spelled as spot symbols
    "binance-coinm": {"BTCUSDT": "BTCUSD_PERP", "ETHUSDT": "ETHUSD_PERP"},  # inverse perpetuals
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
        | BinanceCoinmConnector
        | OkxConnector
        | CoinbaseConnector
        | BybitConnector
        | KrakenConnector
    ],
] = {
    "binance": BinanceConnector,
    "binance-futures": BinanceFuturesConnector,
    "binance-coinm": BinanceCoinmConnector,
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
    the venue's own (BTCUSDT -> BTC-USDT on OKX) in every per-symbol table; others stay as written.

    On a venue sized in contracts (config CONTRACT_SIZES) a renamed symbol's sizes are in the coin: they
    become whole contracts: coin x start price / contract size, rounded up (0.001 BTC at 60,000 is
    0.6 -> 1 contract of 100 USD); rounding every figure up keeps order size <= inventory <= limits."""
    names = NATIVE_SYMBOLS.get(venue, {})
    contract_sizes = CONTRACT_SIZES.get(venue, {})
    start_prices = settings.simulator.start_prices

    def rename(table: object, sizes: bool) -> dict[str, object]:
        assert isinstance(table, dict)
        renamed: dict[str, object] = {}
        for symbol, value in table.items():
            native = names.get(str(symbol), str(symbol))
            price = start_prices.get(str(symbol))
            if sizes and native != symbol and native in contract_sizes and price is not None:
                contracts = Decimal(str(value)) * price / contract_sizes[native]
                value = max(Decimal(1), contracts.to_integral_value(ROUND_CEILING))
            renamed[native] = value
        return renamed

    data = settings.model_dump()
    data["venue"] = venue
    data["symbols"] = [names.get(symbol, symbol) for symbol in settings.symbols]
    for section, key, sizes in (
        ("strategy", "order_size", True),
        ("strategy", "max_inventory", True),
        ("risk", "max_order_size", True),
        ("risk", "max_position", True),
        ("simulator", "start_prices", False),
    ):
        data[section][key] = rename(data[section][key], sizes)
    return Settings.model_validate(data)
