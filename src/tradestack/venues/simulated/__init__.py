"""A simulated Binance spot exchange on loopback (REST + WebSocket) over domain/matching."""

from tradestack.venues.simulated.accounts import AccountTrade, Balance, OrderView
from tradestack.venues.simulated.config import FlowConfig, SimConfig, SymbolConfig, default_symbols
from tradestack.venues.simulated.server import BookLevels, SimulatedExchange

__all__ = [
    "AccountTrade",
    "Balance",
    "BookLevels",
    "FlowConfig",
    "OrderView",
    "SimConfig",
    "SimulatedExchange",
    "SymbolConfig",
    "default_symbols",
]
