"""A simulated Kraken spot exchange on loopback (REST + WebSocket v2 public/private) over the shared core."""

from tradestack.venues.simulated_kraken.auth import ApiKey
from tradestack.venues.simulated_kraken.server import KrakenSimConfig, SimulatedKrakenExchange, kraken_symbols

__all__ = ["ApiKey", "KrakenSimConfig", "SimulatedKrakenExchange", "kraken_symbols"]
