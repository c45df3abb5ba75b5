"""A simulated OKX v5 spot exchange on loopback (REST + public/private WebSocket) over the shared core."""

from tradestack.venues.simulated_okx.auth import ApiKey
from tradestack.venues.simulated_okx.server import OkxSimConfig, SimulatedOkxExchange, okx_symbols

__all__ = ["ApiKey", "OkxSimConfig", "SimulatedOkxExchange", "okx_symbols"]
