"""A simulated Binance USD-M futures exchange on loopback (REST + WebSocket) over the shared core."""

from tradestack.venues.simulated_binance_futures.server import (
    FuturesSimConfig,
    SimulatedBinanceFuturesExchange,
    coinm_symbols,
    futures_symbols,
)

__all__ = ["FuturesSimConfig", "SimulatedBinanceFuturesExchange", "coinm_symbols", "futures_symbols"]
