"""SIGKILL the engine mid-trading; on restart it recovers from the journal and reconciles with the venue:
no client order id twice at the venue, no fill lost or counted twice, no position drift.

The venue (the simulated exchange) lives in the test process and survives the engine's death; the
engine is `tradestack paper --venue-rest ... --venue-ws ...` in a child process, as in production.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conftest import eventually
from support.engine_process import Engine
from tradestack.domain.positions import ASSET_SCALE
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

pytestmark = pytest.mark.slow


@pytest.fixture
async def venue() -> AsyncIterator[SimulatedExchange]:
    sim = SimulatedExchange(SimConfig(flow=FlowConfig(interval_ms=50, seed=11)))
    await asyncio.wait_for(sim.start(), 10)
    try:
        yield sim
    finally:
        await asyncio.wait_for(sim.stop(), 10)


def journal(data_dir: Path) -> tuple[list[str], list[tuple[str, str]], dict[str, str]]:
    db = sqlite3.connect(data_dir / "journal.db")
    try:
        orders = [row[0] for row in db.execute("SELECT client_id FROM orders")]
        fills = [(row[0], str(row[1])) for row in db.execute("SELECT symbol, trade_id FROM fills")]
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    finally:
        db.close()
    return orders, fills, meta


def implied_balances(data_dir: Path, sim: SimulatedExchange) -> dict[str, int]:
    """What the journal says each asset's balance is: its baseline plus every journaled fill."""
    _, _, meta = journal(data_dir)
    balances = {asset: int(value) for asset, value in json.loads(meta["ledger_baseline"]).items()}
    db = sqlite3.connect(data_dir / "journal.db")
    try:
        for symbol, side, price, size, fee, fee_asset in db.execute(
            "SELECT symbol, side, price, size, fee, fee_asset FROM fills"
        ):
            instrument = sim.instrument(symbol)
            sign = 1 if side == "BUY" else -1
            base = size * 10 ** (ASSET_SCALE - instrument.size_scale)
            quote = price * size * 10 ** (ASSET_SCALE - instrument.notional_scale)
            balances[instrument.base] = balances.get(instrument.base, 0) + sign * base
            balances[instrument.quote] = balances.get(instrument.quote, 0) - sign * quote
            balances[fee_asset] = balances.get(fee_asset, 0) - fee
    finally:
        db.close()
    return balances


@pytest.mark.timeout(150)
async def test_kill_9_mid_trading_loses_nothing_and_sends_nothing_twice(
    venue: SimulatedExchange, tmp_path: Path
) -> None:
    engine = Engine(venue, tmp_path / "data")
    try:
        await _trade_through_three_kills(engine, venue, tmp_path)
    finally:
        if engine.process is not None and engine.process.returncode is None:
            engine.process.kill()  # never leave an engine running after a failed assertion
            await engine.process.wait()


async def _trade_through_three_kills(engine: Engine, venue: SimulatedExchange, tmp_path: Path) -> None:
    await engine.start()
    for kill in range(3):
        target = len(venue.trades()) + 3
        await eventually(lambda: len(venue.trades()) >= target, timeout=40, interval=0.05)  # noqa: B023
        await engine.kill()
        restart_seconds = await engine.start()
        assert restart_seconds < 5, f"restart {kill}: ready after {restart_seconds:.1f}s"
    target = len(venue.trades()) + 3
    await eventually(lambda: len(venue.trades()) >= target, timeout=40, interval=0.05)
    assert await engine.stop() == 0

    orders, fills, _ = journal(tmp_path / "data")
    # nothing sent twice: every client id the venue ever accepted, it accepted once
    assert orders and all(venue.order_count(client_id) <= 1 for client_id in orders)
    # nothing lost: every venue fill is in the journal, exactly once
    venue_fills = sorted((trade.symbol, str(trade.trade_id)) for trade in venue.trades())
    assert sorted(fills) == venue_fills
    # no drift: the journal's balances are the venue's
    truth = {asset: b.free + b.locked for asset, b in venue.balances().items()}
    implied = implied_balances(tmp_path / "data", venue)
    assert {a: implied.get(a, 0) for a in ("BTC", "ETH", "USDT")} == {
        a: truth.get(a, 0) for a in ("BTC", "ETH", "USDT")
    }
    # a clean stop leaves nothing working at the venue
    assert venue.open_orders() == []
