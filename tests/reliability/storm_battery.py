"""The ambiguity storm (issue 4, item 2): order intents through the real Trader and Binance adapter
against a simulated exchange that loses, fails, holds and reorders its order-entry answers.

Each intent is one limit order a few ticks behind the touch: submitted by `Trader.execute`, followed
until the trader knows its outcome (an UNKNOWN is resolved by queries, never resent), then canceled if
it is live (the cancel may itself be dropped, fail, be held, or meet a fill just before it). At the end
every intent is compared with the venue's truth:

* at most one order per client id at the venue (`order_count <= 1`): zero duplicates;
* our final state equals the venue's (FILLED / CANCELED with the same executed size), and an order we
  marked REJECTED is absent at the venue: no order marked failed while it is live there;
* every UNKNOWN resolved, within `len(check_delays)` queries.

A last phase re-sends the client id of orders resting far from the touch straight through the gateway
(as a buggy resend would) and counts the venue's -2010 rejections.

`scripts/ambiguity_storm.py` runs the full counts; `test_ambiguity_storm.py` a short cut.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from support.trading_rig import Idle, connect, percentile
from tradestack.app.trader import Trader
from tradestack.domain.events import Side
from tradestack.domain.orders.client_ids import ClientOrderIds
from tradestack.domain.orders.manager import OrderManager
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE
from tradestack.domain.risk.engine import KillSwitch, RiskEngine
from tradestack.domain.risk.limits import RiskLimits, SymbolLimits
from tradestack.engine.commands import Cancel, Submit
from tradestack.engine.core import Engine
from tradestack.ports import SystemClock
from tradestack.store.sqlite import SqliteJournal
from tradestack.venues._shared.errors import VenueError, VenueRejected
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.rest_gateway import BinanceRestGateway
from tradestack.venues.binance.trading import BinanceTrading
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange
from tradestack.venues.simulated.faults import OrderFaults

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
SIZES = {"BTCUSDT": "0.0002", "ETHUSDT": "0.003"}  # just above the 5 USDT minimum notional
CHECK_DELAYS = (0.1, 0.15, 0.25, 0.25, 0.25, 0.25, 0.25, 0.5, 0.5, 0.5, 1.0)
PENDING = (OrderStatus.PENDING_NEW, OrderStatus.UNKNOWN)


@dataclass(frozen=True, slots=True)
class StormConfig:
    intents: int = 300
    seed: int = 1
    drop_ack: float = 0.2
    error_after_accept: float = 0.05
    error_before_accept: float = 0.03
    slow_ack: float = 0.03
    late_accept: float = 0.03
    reorder_ack: float = 0.1
    fill_on_cancel: float = 0.05
    concurrency: int = 16
    timeout_s: float = 0.5  # the gateway's request timeout
    recv_window_ms: int = 1000  # sent with every request; the trader's not-at-venue bound follows it
    slow_ack_s: float = 1.0  # past the request timeout
    late_accept_s: float = 0.7  # past the request timeout, inside the recvWindow
    fast_path: bool = True  # False: every order and cancel by aiohttp
    duplicate_probes: int = 10

    def faults(self) -> OrderFaults:
        return OrderFaults(
            seed=self.seed,
            drop_ack=self.drop_ack,
            error_after_accept=self.error_after_accept,
            error_before_accept=self.error_before_accept,
            slow_ack=self.slow_ack,
            late_accept=self.late_accept,
            reorder_ack=self.reorder_ack,
            fill_on_cancel=self.fill_on_cancel,
            slow_ack_s=self.slow_ack_s,
            late_accept_s=self.late_accept_s,
        )


class CountingVenue(BinanceTrading):
    """The adapter, counting the queries made while an order's outcome is unknown."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resolving: set[str] = set()
        self.checks: dict[str, int] = {}

    async def query(self, symbol: str, client_id: str) -> Order | None:
        if client_id in self.resolving:
            self.checks[client_id] = self.checks.get(client_id, 0) + 1
        return await super().query(symbol, client_id)


class CountingTrader(Trader):
    """The trader, timing each resolution of an unknown outcome."""

    venue: CountingVenue

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resolve_s: dict[str, float] = {}

    async def resolve(self, order: Order) -> None:
        started = time.monotonic()
        self.venue.resolving.add(order.client_id)
        try:
            await super().resolve(order)
        finally:
            self.venue.resolving.discard(order.client_id)
            self.resolve_s[order.client_id] = time.monotonic() - started


@dataclass
class Tally:
    outcomes: dict[str, int] = field(default_factory=dict)
    cancel_attempts: int = 0
    unresolved: list[str] = field(default_factory=list)
    stuck_cancels: list[str] = field(default_factory=list)


async def _until(done: Callable[[], bool], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while not done():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def run_storm(config: StormConfig, log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="storm-") as tmp:
        return await _run(config, Path(tmp), log)


async def _run(config: StormConfig, tmp: Path, log: Callable[[str], None]) -> dict[str, Any]:
    started = time.monotonic()
    sim = SimulatedExchange(
        SimConfig(
            flow=FlowConfig(seed=config.seed, interval_ms=100),
            orders_per_10s=10_000_000,
            orders_per_day=100_000_000,
            weight_limit_per_minute=100_000_000,
            balances=(("BTC", "100"), ("ETH", "1000"), ("USDT", "10000000")),
            order_faults=config.faults(),
        )
    )
    await asyncio.wait_for(sim.start(), 10)
    clock = SystemClock()
    key, secret = sim.create_api_key()
    gateway = BinanceRestGateway(
        HmacSigner(key, secret),
        clock=clock,
        base_url=sim.rest_url,
        timeout_s=config.timeout_s,
        recv_window_ms=config.recv_window_ms,
    )
    journal = SqliteJournal(tmp / "journal.db")
    rng = random.Random(config.seed)
    try:
        instruments = await connect(gateway, SYMBOLS)
        ids = ClientOrderIds("ts1")
        ids.add_block(journal.reserve_block())
        limits = RiskLimits(
            per_symbol={s: SymbolLimits(i.size("100"), i.size("1000")) for s, i in instruments.items()},
            max_order_notional=10_000_000 * 10**ASSET_SCALE,
            price_band_bps=10_000,
            max_orders_per_second=1_000_000,
            daily_loss_limit=10_000_000 * 10**ASSET_SCALE,
        )
        engine = Engine(
            instruments,
            Idle(),
            RiskEngine(limits, instruments, KillSwitch()),
            OrderManager(ids),
            journal,
            clock,
        )
        venue = CountingVenue(gateway, instruments)
        venue.fast_path = config.fast_path
        trader = CountingTrader(
            engine,
            venue,
            clock,
            recv_window_ns=config.recv_window_ms * 1_000_000,
            check_delays=CHECK_DELAYS,
        )
        engine.trading_enabled = True
        resolve_bound_s = config.timeout_s + sum(CHECK_DELAYS) + 2.0 * config.timeout_s * len(CHECK_DELAYS)

        orders: list[Order] = []
        tally = Tally()
        next_intent = 0

        def new_order(symbol: str, side: Side, price: int) -> Order:
            if ids.remaining < 10:
                ids.add_block(journal.reserve_block())
            order = engine.orders.create(
                symbol, side, price, instruments[symbol].size(SIZES[symbol]), clock.now_ns(), 0
            )
            journal.record_order(order)
            orders.append(order)
            return order

        def passive_price(symbol: str, side: Side, ticks: int) -> int:
            levels = sim.book_levels(symbol, 1)
            tick = instruments[symbol].tick
            if side is Side.BUY:
                best = levels.bids[0][0] if levels.bids else levels.asks[0][0] - tick
                return best - ticks * tick
            best = levels.asks[0][0] if levels.asks else levels.bids[0][0] + tick
            return best + ticks * tick

        async def settle(order: Order) -> None:
            """Follow one order to an outcome the trader knows, then cancel it if it is live."""
            if not await _until(lambda: order.status not in PENDING, resolve_bound_s):
                tally.unresolved.append(order.client_id)
                return
            for _ in range(6):
                if not order.status.is_live:
                    break
                tally.cancel_attempts += 1
                engine.orders.set_status(order, OrderStatus.PENDING_CANCEL)
                trader.execute([Cancel(order)])
                await _until(lambda: order.status is not OrderStatus.PENDING_CANCEL, 4 * config.timeout_s)
            if order.status.is_live:
                tally.stuck_cancels.append(order.client_id)

        async def worker() -> None:
            nonlocal next_intent
            while next_intent < config.intents:
                n = next_intent
                next_intent += 1
                symbol = SYMBOLS[n % len(SYMBOLS)]
                side = Side.BUY if (n // 2) % 2 == 0 else Side.SELL
                order = new_order(symbol, side, passive_price(symbol, side, rng.randint(0, 4)))
                trader.execute([Submit(order)])
                await settle(order)
                if n and n % 1000 == 0:
                    log(f"  {n} intents, {time.monotonic() - started:.1f} s")

        await asyncio.gather(*(worker() for _ in range(config.concurrency)))
        storm_s = time.monotonic() - started

        # duplicate client ids: orders resting far from the touch, re-sent by the gateway directly
        probes: list[dict[str, Any]] = []
        far: list[Order] = []
        for n in range(config.duplicate_probes):
            symbol = SYMBOLS[n % len(SYMBOLS)]
            bid = sim.book_levels(symbol, 1).bids[0][0]
            order = new_order(symbol, Side.BUY, bid - bid // 20)  # 5% below: nothing reaches it
            trader.execute([Submit(order)])
            await _until(lambda order=order: order.status not in PENDING, resolve_bound_s)  # type: ignore[misc]
            far.append(order)
        injector = sim.order_faults
        sim.rest.faults = None  # the probes test the venue's -2010, not the transport
        for order in far:
            inst = instruments[order.symbol]
            probe: dict[str, Any] = {"client_id": order.client_id, "status": order.status.value}
            if order.status is OrderStatus.NEW:
                try:
                    await gateway.new_order(
                        order.symbol,
                        order.side,
                        "LIMIT",
                        inst.size_text(order.size),
                        inst.price_text(order.price),
                        "GTC",
                        order.client_id,
                    )
                    probe["answer"] = "accepted"
                except VenueRejected as rejected:
                    probe["answer"] = rejected.code
                except VenueError as error:
                    probe["answer"] = type(error).__name__
            probes.append(probe)
        sim.rest.faults = injector
        for order in far:
            await settle(order)
        await trader.drain(5.0)

        # the venue's truth, intent by intent
        duplicates: list[str] = []
        mismatches: list[dict[str, Any]] = []
        failed_while_live: list[str] = []
        for order in orders:
            key = order.status.value
            tally.outcomes[key] = tally.outcomes.get(key, 0) + 1
            count = sim.order_count(order.client_id)
            if count > 1:
                duplicates.append(order.client_id)
            seen = sim.order_by_client_id(order.client_id)
            problem = ""
            if order.status is OrderStatus.REJECTED:
                if seen is not None:
                    problem = f"marked rejected, venue has it {seen.status.name}"
                    if seen.is_open:
                        failed_while_live.append(order.client_id)
            elif order.status.is_final:
                if seen is None:
                    problem = "final here, absent at the venue"
                elif seen.status.name != order.status.name or seen.executed != order.filled:
                    ours = f"{order.status.name}/{order.filled}"
                    problem = f"{ours} here, {seen.status.name}/{seen.executed} there"
            elif order.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED) and (
                seen is None or not seen.is_open
            ):
                problem = f"live here, {seen.status.name if seen else 'absent'} there"
            if problem:
                mismatches.append({"client_id": order.client_id, "problem": problem})

        checks = [float(venue.checks.get(cid, 0)) for cid in trader.resolve_s]
        resolve_ms = [s * 1000 for s in trader.resolve_s.values()]
        injected = dict(sorted(injector.counts.items())) if injector is not None else {}
        return {
            "config": asdict(config),
            "elapsed_s": round(time.monotonic() - started, 2),
            "storm_s": round(storm_s, 2),
            "intents": len(orders) - len(far),
            "orders": len(orders),
            "injected": injected,
            "injected_total": sum(injected.values()),
            "unknowns": len(trader.resolve_s),
            "checks_per_resolution": {
                "p50": percentile(checks, 0.5),
                "p99": percentile(checks, 0.99),
                "max": max(checks, default=0.0),
                "bound": len(CHECK_DELAYS),
            },
            "resolve_ms": {
                "p50": round(percentile(resolve_ms, 0.5), 1),
                "p99": round(percentile(resolve_ms, 0.99), 1),
                "max": round(max(resolve_ms, default=0.0), 1),
            },
            "outcomes": dict(sorted(tally.outcomes.items())),
            "cancel_attempts": tally.cancel_attempts,
            "fast_path_fallbacks": venue.fallbacks,
            "duplicates": len(duplicates),
            "duplicate_ids": duplicates[:20],
            "mismatches": len(mismatches),
            "mismatch_examples": mismatches[:20],
            "failed_while_live": len(failed_while_live),
            "unresolved": len(tally.unresolved),
            "unresolved_ids": tally.unresolved[:20],
            "stuck_cancels": len(tally.stuck_cancels),
            "open_at_venue_after": len(sim.open_orders()),
            "duplicate_probes": probes,
            "duplicate_probes_rejected_2010": sum(1 for p in probes if p.get("answer") == -2010),
        }
    finally:
        journal.close()
        await asyncio.wait_for(gateway.close(), 10)
        await asyncio.wait_for(sim.stop(), 10)


def storm_passed(report: dict[str, Any]) -> bool:
    return (
        report["duplicates"] == 0
        and report["mismatches"] == 0
        and report["failed_while_live"] == 0
        and report["unresolved"] == 0
        and report["stuck_cancels"] == 0
        and report["open_at_venue_after"] == 0
        and report["checks_per_resolution"]["max"] <= report["checks_per_resolution"]["bound"]
        and all(p.get("answer", -2010) == -2010 for p in report["duplicate_probes"] if p["status"] == "new")
    )
