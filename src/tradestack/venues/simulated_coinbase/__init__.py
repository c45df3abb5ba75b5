"""A simulated Coinbase Exchange on loopback (REST + ws-feed, public and `user`) over the shared core."""

from tradestack.venues.simulated_coinbase.auth import ApiKey
from tradestack.venues.simulated_coinbase.server import (
    CoinbaseSimConfig,
    SimulatedCoinbaseExchange,
    coinbase_symbols,
)

__all__ = ["ApiKey", "CoinbaseSimConfig", "SimulatedCoinbaseExchange", "coinbase_symbols"]
