"""A key rotation under the real engine: new key into the store, wait for the engine to report it,
then revoke the old one. Trading goes on with zero authentication failures and no missed order."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conftest import eventually
from support.engine_process import Engine
from tradestack.security.secrets import Secret
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

pytestmark = pytest.mark.slow


@pytest.fixture
async def venue() -> AsyncIterator[SimulatedExchange]:
    sim = SimulatedExchange(SimConfig(flow=FlowConfig(interval_ms=50, seed=5)))
    await asyncio.wait_for(sim.start(), 10)
    try:
        yield sim
    finally:
        await asyncio.wait_for(sim.stop(), 10)


def fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


@pytest.mark.timeout(120)
async def test_rotating_the_key_while_trading_loses_nothing(venue: SimulatedExchange, tmp_path: Path) -> None:
    engine = Engine(venue, tmp_path / "data")
    old_key = engine.api_key
    try:
        await engine.start()
        await eventually(lambda: len(venue.trades()) >= 2, timeout=40, interval=0.05)
        assert f'fingerprint="{fingerprint(old_key)}"' in await engine.metrics()

        # the rotation: key B made and tested at the venue, made current in the store...
        new_key, new_secret = venue.create_api_key(ip_whitelist=("127.0.0.1",))
        engine.store.put("binance/api_key", Secret(new_key))
        engine.store.put("binance/api_secret", Secret(new_secret))

        # ...key A stays valid until the engine reports it signs with B; only then is A revoked
        async def switched() -> bool:
            return f'fingerprint="{fingerprint(new_key)}"' in await engine.metrics()

        await eventually(switched, timeout=10, interval=0.1)
        assert venue.revoke_api_key(old_key)
        orders_before = {order.client_order_id for order in venue.open_orders()}
        trades_before = len(venue.trades())

        def traded_on() -> bool:
            placed = {order.client_order_id for order in venue.open_orders()} - orders_before
            return bool(placed) and len(venue.trades()) > trades_before

        await eventually(traded_on, timeout=40, interval=0.05)
        metrics = await engine.metrics()
        auth_rejections = re.findall(
            r'trading_orders_rejected_total\{[^}]*reason="venue:-201[45]"[^}]*\} ([0-9.]+)', metrics
        )
        assert sum(float(value) for value in auth_rejections) == 0, metrics
        assert await engine.stop() == 0
    finally:
        if engine.process is not None and engine.process.returncode is None:
            engine.process.kill()
            await engine.process.wait()
