"""A simulated Bybit v5 spot exchange on loopback (REST + public/private WebSocket) over the shared core."""

from tradestack.venues.simulated_bybit.auth import ApiKey
from tradestack.venues.simulated_bybit.server import BybitSimConfig, SimulatedBybitExchange, bybit_symbols

__all__ = ["ApiKey", "BybitSimConfig", "SimulatedBybitExchange", "bybit_symbols"]
