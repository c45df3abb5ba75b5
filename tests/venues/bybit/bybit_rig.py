"""A simulated Bybit exchange with the real Bybit connector pointed at it, over loopback sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from tradestack.domain.instruments import Instrument
from tradestack.ports import SystemClock
from tradestack.venues.bybit.auth import BybitSigner
from tradestack.venues.bybit.rest_gateway import BybitRestGateway
from tradestack.venues.bybit.trading import BybitTrading
from tradestack.venues.simulated.config import FlowConfig, SimConfig
from tradestack.venues.simulated_bybit import ApiKey, BybitSimConfig, SimulatedBybitExchange, bybit_symbols

QUIET = FlowConfig(enabled=False)
MANUAL = FlowConfig(enabled=True, interval_ms=0, seed=3)  # seeded books, stepped by hand


def sim_config(flow: FlowConfig = QUIET, **bybit: object) -> BybitSimConfig:
    venue = SimConfig(symbols=bybit_symbols(), flow=flow, taker_commission="0.001", maker_commission="0.0005")
    return replace(BybitSimConfig(venue=venue), **bybit)  # type: ignore[arg-type]


@dataclass
class Rig:
    exchange: SimulatedBybitExchange
    key: ApiKey
    signer: BybitSigner
    gateway: BybitRestGateway
    instruments: dict[str, Instrument]
    trading: BybitTrading


@asynccontextmanager
async def bybit_rig(config: BybitSimConfig | None = None) -> AsyncIterator[Rig]:
    clock = SystemClock()
    async with SimulatedBybitExchange(config or sim_config(), clock) as exchange:
        key = exchange.create_api_key()
        signer = BybitSigner(key.api_key, key.secret)
        gateway = BybitRestGateway(signer, clock=clock, base_url=exchange.rest_url, timeout_s=5.0)
        async with gateway:
            await gateway.sync_time()
            instruments = await gateway.instruments()
            yield Rig(exchange, key, signer, gateway, instruments, BybitTrading(gateway, instruments))
