"""Kill-switch latency, the short cut: from `trip_kill_switch` to the venue showing no open order.

In one process, as TradingRuntime wires it: an engine, the Trader and the Binance adapter against the
simulated exchange, with orders resting on both symbols. Each trial trips the switch (the latch is
written synchronously first), hands the commands to the trader, and waits until the simulator lists
no open order for the account. The issue's target is cancel-all at the venue within 100 ms.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from support.trading_rig import Idle, connect, percentile
from tradestack.app.trader import Trader
from tradestack.domain.events import Side
from tradestack.domain.orders.client_ids import ClientOrderIds
from tradestack.domain.orders.manager import OrderManager
from tradestack.domain.positions import ASSET_SCALE
from tradestack.domain.risk.engine import KillSwitch, RiskEngine
from tradestack.domain.risk.limits import RiskLimits, SymbolLimits
from tradestack.engine.core import Engine
from tradestack.ports import SystemClock
from tradestack.store.sqlite import SqliteJournal
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.rest_gateway import BinanceRestGateway
from tradestack.venues.binance.trading import BinanceTrading
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
TRIALS = 20
ORDERS_PER_SYMBOL = 3
TARGET_S = 0.100


@pytest.mark.timeout(90)
async def test_kill_switch_cancels_everything_at_the_venue_quickly(tmp_path: Path) -> None:
    sim = SimulatedExchange(SimConfig(flow=FlowConfig(interval_ms=0, seed=3), orders_per_10s=10_000))
    await asyncio.wait_for(sim.start(), 10)
    clock = SystemClock()
    key, secret = sim.create_api_key()
    gateway = BinanceRestGateway(HmacSigner(key, secret), clock=clock, base_url=sim.rest_url, timeout_s=5)
    journal = SqliteJournal(tmp_path / "journal.db")
    try:
        instruments = await connect(gateway, SYMBOLS)
        sim.flow_step(5)
        ids = ClientOrderIds("ts1")
        ids.add_block(journal.reserve_block())
        limits = RiskLimits(
            per_symbol={s: SymbolLimits(i.size("1"), i.size("10")) for s, i in instruments.items()},
            max_order_notional=1_000_000 * 10**ASSET_SCALE,
            price_band_bps=1000,
            max_orders_per_second=1000,
            daily_loss_limit=1_000_000 * 10**ASSET_SCALE,
        )
        engine = Engine(
            instruments,
            Idle(),
            RiskEngine(limits, instruments, KillSwitch()),
            OrderManager(ids),
            journal,
            clock,
        )
        venue = BinanceTrading(gateway, instruments)
        trader = Trader(engine, venue, clock)
        engine.trading_enabled = True

        latencies: list[float] = []
        for _ in range(TRIALS):
            engine.risk.kill_switch.reset()
            for symbol, inst in instruments.items():
                best_bid = sim.book_levels(symbol).bids[0][0]
                for n in range(ORDERS_PER_SYMBOL):  # resting, well away from the touch
                    price = best_bid - (best_bid // 50) - n * inst.tick
                    order = engine.orders.create(
                        symbol, Side.BUY, price, inst.size("0.01"), clock.now_ns(), 0
                    )
                    engine.journal.record_order(order)
                    engine.on_report(await venue.submit(order))
            assert len(sim.open_orders()) == len(SYMBOLS) * ORDERS_PER_SYMBOL

            started = time.perf_counter()
            trader.execute(engine.trip_kill_switch("latency trial"))
            deadline = started + 2.0
            while sim.open_orders():
                assert time.perf_counter() < deadline, "orders still open 2 s after the kill switch"
                await asyncio.sleep(0.0002)
            latencies.append(time.perf_counter() - started)
            await trader.drain()
            assert engine.risk.kill_switch.engaged

        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(
            f"kill-switch -> venue flat over {TRIALS} trials ({len(SYMBOLS) * ORDERS_PER_SYMBOL} orders): "
            f"p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms, max {max(latencies) * 1e3:.2f} ms"
        )
        # the target is for p50 on any machine; the tail is reported (a loaded 2-core CI box)
        assert p50 <= TARGET_S, f"p50 {p50 * 1e3:.1f} ms over the 100 ms target"
        assert journal.load().meta["kill_switch"] == "latency trial"
    finally:
        journal.close()
        await asyncio.wait_for(gateway.close(), 10)
        await asyncio.wait_for(sim.stop(), 10)
