"""A simulated Binance USD-M futures exchange with the real futures gateway pointed at it, over
loopback sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from tradestack.domain.instruments import Instrument, InstrumentKind
from tradestack.ports import SystemClock
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance_futures.rest_gateway import COINM, USDM, BinanceFuturesRestGateway
from tradestack.venues.binance_futures.trading import BinanceFuturesTrading
from tradestack.venues.simulated.config import FlowConfig, SimConfig
from tradestack.venues.simulated_binance_futures import (
    FuturesSimConfig,
    SimulatedBinanceFuturesExchange,
    coinm_symbols,
    futures_symbols,
)
from tradestack.venues.simulated_binance_futures.server import COIN_MARGIN_BALANCES, MARGIN_BALANCES

QUIET = FlowConfig(enabled=False)
MANUAL = FlowConfig(enabled=True, interval_ms=0, seed=3)  # seeded books, stepped by hand


def sim_config(flow: FlowConfig = QUIET) -> FuturesSimConfig:
    venue = SimConfig(
        symbols=futures_symbols(),
        balances=MARGIN_BALANCES,
        flow=flow,
        taker_commission="0.0005",  # USD-M's base tier: 5 bps taker, 2 bps maker
        maker_commission="0.0002",
    )
    return FuturesSimConfig(venue=venue)


def coinm_config(flow: FlowConfig = QUIET) -> FuturesSimConfig:
    venue = SimConfig(
        symbols=coinm_symbols(),
        balances=COIN_MARGIN_BALANCES,
        flow=flow,
        taker_commission="0.0005",  # COIN-M's base tier: 5 bps taker, 2 bps maker
        maker_commission="0.0002",
    )
    return FuturesSimConfig.coinm(venue)


@dataclass
class Rig:
    exchange: SimulatedBinanceFuturesExchange
    gateway: BinanceFuturesRestGateway
    instruments: dict[str, Instrument]
    trading: BinanceFuturesTrading


@asynccontextmanager
async def futures_rig(config: FuturesSimConfig | None = None, post_only: bool = False) -> AsyncIterator[Rig]:
    """USD-M, or COIN-M when the config is coin-margined (FuturesSimConfig.coinm)."""
    config = config or sim_config()
    api, kind = (COINM, InstrumentKind.INVERSE) if config.coin_margined else (USDM, InstrumentKind.LINEAR)
    clock = SystemClock()
    async with SimulatedBinanceFuturesExchange(config, clock) as exchange:
        api_key, secret = exchange.create_api_key()
        gateway = BinanceFuturesRestGateway(
            HmacSigner(api_key, secret), clock=clock, base_url=exchange.rest_url, timeout_s=5.0, api=api
        )
        async with gateway:
            await gateway.sync_time()
            info = await gateway.futures_exchange_info()
            instruments = {s.symbol: s.instrument("binance-futures", kind) for s in info.symbols}
            yield Rig(exchange, gateway, instruments, BinanceFuturesTrading(gateway, instruments, post_only))
