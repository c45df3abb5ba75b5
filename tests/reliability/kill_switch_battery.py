"""Kill-switch latency: from `trip_kill_switch` to the venue showing no open order.

In one process, as TradingRuntime wires it: an engine, the Trader and the Binance adapter against the
simulated exchange, with orders resting on both symbols. Each trial resets the latch, rests
`orders_per_symbol` orders per symbol well away from the touch, trips the switch (the latch is written
synchronously first), hands the commands to the trader, and waits until the simulator lists no open
order for the account. The issue's target is cancel-all at the venue within 100 ms.

Shared by the short cut in `make test` (tests/reliability/test_kill_switch_latency.py) and the full
1,000 trials in `scripts/kill_switch_latency.py`.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

SYMBOLS = ("BTCUSDT", "ETHUSDT")
ORDERS_PER_SYMBOL = 3
TARGET_S = 0.100
GIVE_UP_S = 2.0  # a trial whose venue book is not empty by then counts as failed
REASON = "latency trial"


async def run_kill_switch_trials(
    trials: int,
    seed: int = 3,
    orders_per_symbol: int = ORDERS_PER_SYMBOL,
    data_dir: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run `trials` trips against one simulator; the report holds every latency and every failure."""
    with tempfile.TemporaryDirectory(prefix="kill-switch-") as scratch:
        directory = data_dir if data_dir is not None else Path(scratch)
        return await _run(trials, seed, orders_per_symbol, directory, log)


async def _run(
    trials: int,
    seed: int,
    orders_per_symbol: int,
    data_dir: Path,
    log: Callable[[str], None] | None,
) -> dict[str, Any]:
    sim = SimulatedExchange(
        SimConfig(
            flow=FlowConfig(interval_ms=0, seed=seed),
            orders_per_10s=10**7,
            weight_limit_per_minute=10**9,  # 1,000 trials are ~15,000 requests in a minute or two
        )
    )
    await asyncio.wait_for(sim.start(), 10)
    clock = SystemClock()
    key, secret = sim.create_api_key()
    gateway = BinanceRestGateway(HmacSigner(key, secret), clock=clock, base_url=sim.rest_url, timeout_s=5)
    journal = SqliteJournal(data_dir / "journal.db")
    latencies: list[float] = []
    failures: list[str] = []
    started_all = time.monotonic()
    try:
        instruments = await connect(gateway, SYMBOLS)
        sim.flow_step(5)
        ids = ClientOrderIds("ts1")
        ids.add_block(journal.reserve_block())
        limits = RiskLimits(
            per_symbol={s: SymbolLimits(i.size("1"), i.size("10")) for s, i in instruments.items()},
            max_order_notional=1_000_000 * 10**ASSET_SCALE,
            price_band_bps=1000,
            max_orders_per_second=100_000,
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
        expected = len(SYMBOLS) * orders_per_symbol
        for trial in range(trials):
            engine.risk.kill_switch.reset()
            if ids.remaining < expected:  # a long run uses up a block of client ids
                ids.add_block(journal.reserve_block())
            for symbol, inst in instruments.items():
                best_bid = sim.book_levels(symbol).bids[0][0]
                for n in range(orders_per_symbol):  # resting, well away from the touch
                    price = best_bid - (best_bid // 50) - n * inst.tick
                    order = engine.orders.create(
                        symbol, Side.BUY, price, inst.size("0.01"), clock.now_ns(), 0
                    )
                    engine.journal.record_order(order)
                    engine.on_report(await venue.submit(order))
            resting = len(sim.open_orders())
            if resting != expected:
                failures.append(f"trial {trial}: {resting} orders resting, expected {expected}")
                continue

            started = time.perf_counter()
            trader.execute(engine.trip_kill_switch(REASON))
            deadline = started + GIVE_UP_S
            while sim.open_orders():  # polled every 0.2 ms: the venue has no event to wait on
                if time.perf_counter() > deadline:
                    break
                await asyncio.sleep(0.0002)
            elapsed = time.perf_counter() - started
            await trader.drain()
            if sim.open_orders():
                failures.append(f"trial {trial}: {len(sim.open_orders())} orders open {GIVE_UP_S} s after")
                for symbol in SYMBOLS:  # clean up so the next trial starts empty
                    await venue.cancel_all(symbol)
            else:
                latencies.append(elapsed)
            if not engine.risk.kill_switch.engaged:
                failures.append(f"trial {trial}: the latch is not engaged after the trip")
            if log is not None and (trial + 1) % 100 == 0:
                log(f"kill switch: {trial + 1}/{trials}, last {elapsed * 1e3:.2f} ms")
        journal.flush()
        latch = journal.load().meta.get("kill_switch")
        if latch != REASON:
            failures.append(f"the journal's latch reads {latch!r}, expected {REASON!r}")
    finally:
        journal.close()
        await asyncio.wait_for(gateway.close(), 10)
        await asyncio.wait_for(sim.stop(), 10)
    return report(latencies, failures, trials, seed, orders_per_symbol, time.monotonic() - started_all)


def report(
    latencies: list[float],
    failures: list[str],
    trials: int,
    seed: int,
    orders_per_symbol: int,
    elapsed_s: float,
) -> dict[str, Any]:
    def ms(value: float) -> float:
        return round(value * 1e3, 3)

    over = sum(1 for value in latencies if value > TARGET_S)
    p99 = percentile(latencies, 0.99)
    return {
        "seed": seed,
        "trials": trials,
        "orders_per_trial": len(SYMBOLS) * orders_per_symbol,
        "symbols": list(SYMBOLS),
        "target_ms": ms(TARGET_S),
        "elapsed_s": round(elapsed_s, 1),
        "reached_empty_book": len(latencies),
        "failed": len(failures),
        "failures": failures[:50],
        "latency_ms": {
            "p50": ms(percentile(latencies, 0.5)),
            "p90": ms(percentile(latencies, 0.9)),
            "p99": ms(p99),
            "max": ms(max(latencies, default=0.0)),
            "mean": ms(sum(latencies) / len(latencies)) if latencies else 0.0,
        },
        "trials_over_target": over,
        "passed": not failures and len(latencies) == trials and p99 <= TARGET_S,
    }
