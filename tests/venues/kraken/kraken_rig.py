"""A simulated Kraken exchange with the real Kraken gateway and trading pointed at it, over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from tradestack.domain.instruments import Instrument
from tradestack.ports import SystemClock
from tradestack.venues.kraken.auth import KrakenSigner
from tradestack.venues.kraken.rate_limits import KrakenRateLimits
from tradestack.venues.kraken.rest_gateway import KrakenRestGateway
from tradestack.venues.kraken.trading import KrakenTrading
from tradestack.venues.simulated.config import FlowConfig, SimConfig
from tradestack.venues.simulated_kraken import (
    ApiKey,
    KrakenSimConfig,
    SimulatedKrakenExchange,
    kraken_symbols,
)

QUIET = FlowConfig(enabled=False)
MANUAL = FlowConfig(enabled=True, interval_ms=0, seed=3)  # seeded books, stepped by hand
BTC = "BTC/USDT"
ETH = "ETH/USDT"


def sim_config(flow: FlowConfig = QUIET, **kraken: object) -> KrakenSimConfig:
    venue = SimConfig(
        symbols=kraken_symbols(), flow=flow, taker_commission="0.0026", maker_commission="0.0016"
    )
    return replace(KrakenSimConfig(venue=venue), **kraken)  # type: ignore[arg-type]


@dataclass
class Rig:
    exchange: SimulatedKrakenExchange
    key: ApiKey
    signer: KrakenSigner
    gateway: KrakenRestGateway
    instruments: dict[str, Instrument]
    trading: KrakenTrading


@asynccontextmanager
async def kraken_rig(config: KrakenSimConfig | None = None, tier: str = "pro") -> AsyncIterator[Rig]:
    clock = SystemClock()
    async with SimulatedKrakenExchange(config or sim_config(), clock) as exchange:
        key = exchange.create_api_key()
        signer = KrakenSigner(key.api_key, key.secret)
        limits = KrakenRateLimits(tier)
        gateway = KrakenRestGateway(
            signer, clock=clock, base_url=exchange.rest_url, limits=limits, timeout_s=5.0
        )
        async with gateway:
            await gateway.sync_time()
            instruments = await gateway.instruments()
            yield Rig(exchange, key, signer, gateway, instruments, KrakenTrading(gateway, instruments))
