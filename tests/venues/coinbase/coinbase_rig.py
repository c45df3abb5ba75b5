"""A simulated Coinbase Exchange with the real Coinbase connector pointed at it, over loopback sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from tradestack.domain.instruments import Instrument
from tradestack.ports import SystemClock
from tradestack.venues.coinbase.auth import CoinbaseExchangeSigner
from tradestack.venues.coinbase.client_ids import OrderDirectory
from tradestack.venues.coinbase.rest_gateway import CoinbaseRestGateway
from tradestack.venues.coinbase.trading import CoinbaseTrading
from tradestack.venues.simulated.config import FlowConfig
from tradestack.venues.simulated_coinbase import ApiKey, CoinbaseSimConfig, SimulatedCoinbaseExchange

QUIET = FlowConfig(enabled=False)
MANUAL = FlowConfig(enabled=True, interval_ms=0, seed=3)  # seeded books, stepped by hand


def sim_config(flow: FlowConfig = QUIET, **coinbase: object) -> CoinbaseSimConfig:
    base = CoinbaseSimConfig()
    venue = replace(base.venue, flow=flow, taker_commission="0.001", maker_commission="0.0005")
    return replace(base, venue=venue, **coinbase)  # type: ignore[arg-type]


@dataclass
class Rig:
    exchange: SimulatedCoinbaseExchange
    key: ApiKey
    signer: CoinbaseExchangeSigner
    gateway: CoinbaseRestGateway
    instruments: dict[str, Instrument]
    trading: CoinbaseTrading
    directory: OrderDirectory


@asynccontextmanager
async def coinbase_rig(config: CoinbaseSimConfig | None = None) -> AsyncIterator[Rig]:
    clock = SystemClock()
    async with SimulatedCoinbaseExchange(config or sim_config(), clock) as exchange:
        key = exchange.create_api_key()
        signer = CoinbaseExchangeSigner(key.api_key, key.secret, key.passphrase)
        gateway = CoinbaseRestGateway(signer, clock=clock, base_url=exchange.rest_url, timeout_s=5.0)
        async with gateway:
            await gateway.sync_time()
            instruments = await gateway.instruments()
            directory = OrderDirectory()
            trading = CoinbaseTrading(gateway, instruments, directory)
            yield Rig(exchange, key, signer, gateway, instruments, trading, directory)
