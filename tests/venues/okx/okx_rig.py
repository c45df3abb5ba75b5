"""A simulated OKX exchange with the real OKX connector pointed at it, over loopback sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from tradestack.domain.instruments import Instrument
from tradestack.ports import SystemClock
from tradestack.venues.okx.auth import OkxSigner
from tradestack.venues.okx.rest_gateway import OkxRestGateway
from tradestack.venues.okx.trading import OkxTrading
from tradestack.venues.simulated.config import FlowConfig, SimConfig
from tradestack.venues.simulated_okx import ApiKey, OkxSimConfig, SimulatedOkxExchange, okx_symbols

QUIET = FlowConfig(enabled=False)
MANUAL = FlowConfig(enabled=True, interval_ms=0, seed=3)  # seeded books, stepped by hand


def sim_config(flow: FlowConfig = QUIET, **okx: object) -> OkxSimConfig:
    venue = SimConfig(symbols=okx_symbols(), flow=flow, taker_commission="0.001", maker_commission="0.0005")
    return replace(OkxSimConfig(venue=venue), **okx)  # type: ignore[arg-type]


@dataclass
class Rig:
    exchange: SimulatedOkxExchange
    key: ApiKey
    signer: OkxSigner
    gateway: OkxRestGateway
    instruments: dict[str, Instrument]
    trading: OkxTrading


@asynccontextmanager
async def okx_rig(config: OkxSimConfig | None = None) -> AsyncIterator[Rig]:
    clock = SystemClock()
    async with SimulatedOkxExchange(config or sim_config(), clock) as exchange:
        key = exchange.create_api_key()
        signer = OkxSigner(key.api_key, key.secret, key.passphrase)
        gateway = OkxRestGateway(signer, clock=clock, base_url=exchange.rest_url, timeout_s=5.0)
        async with gateway:
            await gateway.sync_time()
            instruments = await gateway.instruments()
            yield Rig(exchange, key, signer, gateway, instruments, OkxTrading(gateway, instruments))
