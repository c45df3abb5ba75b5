"""Reconciliation matrix: start against venue states the journal does not know.

The real pieces in one process: the simulated exchange (flow stepped by hand), the Binance REST gateway
and trading adapter, an engine restored from its SQLite journal, and `reconcile`, wired in the order
`TradingRuntime.start` uses (journal for the account, fresh block, restore, trade floors and baseline on a
fresh journal, then reconcile). "While we were down" the venue is changed with the gateway directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.trading_rig import Idle, connect
from tradestack.app.journal_state import open_for_account, restore, set_baseline, trade_floor_key
from tradestack.app.reconcile import ReconcileReport, reconcile
from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.client_ids import ClientOrderIds
from tradestack.domain.orders.manager import OrderManager
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE, TradeFloor
from tradestack.domain.risk.engine import KillSwitch, RiskEngine
from tradestack.domain.risk.limits import RiskLimits, SymbolLimits
from tradestack.engine.core import Engine
from tradestack.ports import SystemClock
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.rest_gateway import BinanceRestGateway
from tradestack.venues.binance.trading import BinanceTrading
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
BTC = "BTCUSDT"
FOREIGN_BLOCK = 900_000  # a block the journal never reserved: ClientOrderIds.owns() checks the prefix only

pytestmark = pytest.mark.timeout(60)


@dataclass
class Rig:
    sim: SimulatedExchange
    gateway: BinanceRestGateway
    venue: BinanceTrading
    instruments: dict[str, Instrument]
    data_dir: Path
    clock: SystemClock

    @property
    def btc(self) -> Instrument:
        return self.instruments[BTC]

    async def boot(self) -> tuple[Engine, ReconcileReport]:
        """What TradingRuntime.start does before trading, without the streams."""
        account = await self.venue.account_id()
        journal, fresh = open_for_account(self.data_dir, f"binance:{account}")
        ids = ClientOrderIds("ts1")
        ids.add_block(journal.reserve_block())
        limits = RiskLimits(
            per_symbol={s: SymbolLimits(i.size("1"), i.size("10")) for s, i in self.instruments.items()},
            max_order_notional=1_000_000 * 10**ASSET_SCALE,
            price_band_bps=1000,
            max_orders_per_second=100,
            daily_loss_limit=1_000_000 * 10**ASSET_SCALE,
        )
        engine = Engine(
            self.instruments,
            Idle(),
            RiskEngine(limits, self.instruments, KillSwitch()),
            OrderManager(ids),
            journal,
            self.clock,
        )
        restore(engine, journal)
        meta = journal.load().meta
        floors: dict[str, TradeFloor] = {}
        for symbol in self.instruments:
            key = trade_floor_key(symbol)
            if fresh:
                floor = TradeFloor.of([fill for fill, _ in await self.venue.fills(symbol, None)])
                if floor is not None:
                    journal.put_meta_sync(key, floor.encode())
                    floors[symbol] = floor
            elif key in meta:
                floors[symbol] = TradeFloor.decode(meta[key])
        if fresh:
            baseline = await self.venue.balances()
            set_baseline(journal, baseline)
            for asset, amount in baseline.items():
                engine.ledger.set_balance(asset, amount)
        report = await reconcile(engine, self.venue, self.clock, floors)
        return engine, report

    @staticmethod
    def crash(engine: Engine) -> None:
        engine.journal.flush()
        engine.journal.close()  # type: ignore[attr-defined]

    async def place_ours(self, engine: Engine, side: Side, price: int, size: str) -> Order:
        """An order of the engine's, journaled and acknowledged (Engine.place without the risk check)."""
        order = engine.orders.create(BTC, side, price, self.btc.size(size), self.clock.now_ns(), 0)
        engine.journal.record_order(order)
        engine.on_report(await self.venue.submit(order))
        return order

    async def place_direct(self, side: Side, price: int, size: str, client_id: str) -> None:
        """An order sent while the engine was down (or by someone else on the account)."""
        await self.gateway.new_order(BTC, side, "LIMIT", size, self.btc.price_text(price), "GTC", client_id)

    def touch(self) -> tuple[int, int]:
        levels = self.sim.book_levels(BTC)
        return levels.bids[0][0], levels.asks[0][0]

    def step_until(self, done: object, steps: int = 3000) -> None:
        for _ in range(steps):
            if done():  # type: ignore[operator]
                return
            self.sim.flow_step(1)
        raise AssertionError(f"venue state not reached within {steps} flow steps")

    def venue_fill_ids(self) -> list[str]:
        return sorted(str(t.trade_id) for t in self.sim.trades(BTC))


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    sim = SimulatedExchange(SimConfig(flow=FlowConfig(interval_ms=0, seed=5)))
    await asyncio.wait_for(sim.start(), 10)
    clock = SystemClock()
    key, secret = sim.create_api_key()
    gateway = BinanceRestGateway(HmacSigner(key, secret), clock=clock, base_url=sim.rest_url, timeout_s=5)
    try:
        instruments = await connect(gateway, SYMBOLS)
        sim.flow_step(5)
        yield Rig(sim, gateway, BinanceTrading(gateway, instruments), instruments, tmp_path / "data", clock)
    finally:
        await asyncio.wait_for(gateway.close(), 10)
        await asyncio.wait_for(sim.stop(), 10)


def no_drift(report: ReconcileReport) -> bool:
    return set(report.drift_percent) == set(SYMBOLS) and all(v == 0 for v in report.drift_percent.values())


async def test_an_explicit_flat_start_is_flat_with_zero_drift(rig: Rig) -> None:
    rig.data_dir.mkdir()
    engine, report = await rig.boot()
    assert report.adopted == [] and report.resolved == {} and report.fills_recovered == 0
    assert no_drift(report), report.drift_percent
    assert all(engine.position(s) == 0 for s in SYMBOLS)
    assert engine.orders.all_live() == []
    rig.crash(engine)
    engine, report = await rig.boot()  # and again from the journal it wrote
    assert no_drift(report) and report.fills_recovered == 0 and engine.orders.all_live() == []
    rig.crash(engine)


async def test_our_order_the_journal_never_saw_is_adopted(rig: Rig) -> None:
    rig.data_dir.mkdir()
    engine, _ = await rig.boot()
    rig.crash(engine)
    bid, _ = rig.touch()
    client_id = f"ts1-{FOREIGN_BLOCK}-0"
    await rig.place_direct(Side.BUY, bid - rig.btc.price("500"), "0.00100", client_id)  # rests far away
    await rig.place_direct(Side.BUY, bid - rig.btc.price("600"), "0.00100", "someone-else-1")

    engine, report = await rig.boot()
    assert report.adopted == [client_id]
    assert report.foreign_orders == 1
    assert [o.client_id for o in engine.orders.live(BTC)] == [client_id]
    assert no_drift(report), report.drift_percent
    rig.crash(engine)
    engine, report = await rig.boot()  # adopted durably: known now, not adopted twice
    assert report.adopted == [] and client_id in engine.orders.orders
    assert engine.orders.orders[client_id].status is OrderStatus.NEW
    rig.crash(engine)


async def test_a_fill_while_down_is_recovered_exactly_once(rig: Rig) -> None:
    rig.data_dir.mkdir()
    engine, _ = await rig.boot()
    bid, _ = rig.touch()
    ours = await rig.place_ours(engine, Side.BUY, bid + rig.btc.tick, "0.00100")  # best bid: next seller
    assert engine.position(BTC) == 0
    rig.crash(engine)

    rig.step_until(lambda: rig.sim.order_by_client_id(ours.client_id).status.value == "FILLED")  # type: ignore[union-attr]
    engine, report = await rig.boot()
    assert report.fills_recovered == len(rig.venue_fill_ids()) >= 1
    assert engine.position(BTC) == rig.btc.size("0.001")
    assert engine.orders.orders[ours.client_id].status is OrderStatus.FILLED
    assert engine.orders.live(BTC) == {}.values() or not list(engine.orders.live(BTC))
    assert no_drift(report), report.drift_percent
    rig.crash(engine)

    engine, report = await rig.boot()  # the next start finds it in the journal: not applied again
    assert report.fills_recovered == 0
    assert engine.position(BTC) == rig.btc.size("0.001")
    assert sorted(t for (s, t) in engine.orders.seen_fills() if s == BTC) == rig.venue_fill_ids()
    assert no_drift(report), report.drift_percent
    rig.crash(engine)


async def test_a_partial_fill_while_down_moves_the_position_by_what_filled(rig: Rig) -> None:
    rig.data_dir.mkdir()
    engine, _ = await rig.boot()
    bid, _ = rig.touch()
    ours = await rig.place_ours(engine, Side.BUY, bid + rig.btc.tick, "0.50000")  # large: fills in parts
    rig.crash(engine)

    def partial() -> bool:
        seen = rig.sim.order_by_client_id(ours.client_id)
        assert seen is not None and seen.status.value != "FILLED", "filled in one go; pick another seed"
        return seen.executed > 0

    rig.step_until(partial)
    executed = rig.sim.order_by_client_id(ours.client_id).executed  # type: ignore[union-attr]
    engine, report = await rig.boot()
    order = engine.orders.orders[ours.client_id]
    assert order.status is OrderStatus.PARTIALLY_FILLED and order.filled == executed
    assert engine.position(BTC) == executed < rig.btc.size("0.5")
    assert [o.client_id for o in engine.orders.live(BTC)] == [ours.client_id]  # still working
    assert report.fills_recovered == len(rig.venue_fill_ids())
    assert no_drift(report), report.drift_percent
    rig.crash(engine)


async def test_a_cancel_while_down_resolves_the_journaled_order(rig: Rig) -> None:
    rig.data_dir.mkdir()
    engine, _ = await rig.boot()
    bid, _ = rig.touch()
    ours = await rig.place_ours(engine, Side.BUY, bid - rig.btc.price("500"), "0.00100")
    assert engine.orders.orders[ours.client_id].status is OrderStatus.NEW
    rig.crash(engine)
    await rig.gateway.cancel_order(BTC, ours.client_id)

    engine, report = await rig.boot()
    assert report.resolved == {ours.client_id: OrderStatus.CANCELED.value}
    assert engine.orders.orders[ours.client_id].status is OrderStatus.CANCELED
    assert not list(engine.orders.live(BTC))
    assert engine.position(BTC) == 0 and no_drift(report), report.drift_percent
    rig.crash(engine)
    engine, report = await rig.boot()  # the resolution was journaled
    assert report.resolved == {} and engine.orders.orders[ours.client_id].status is OrderStatus.CANCELED
    rig.crash(engine)


async def test_a_position_with_no_report_is_drift_never_adopted(rig: Rig) -> None:
    rig.data_dir.mkdir()
    engine, _ = await rig.boot()
    rig.crash(engine)
    _, ask = rig.touch()
    # balances move at the venue by a trade that is not ours (another client on the account)
    await rig.place_direct(Side.BUY, ask, "0.01000", "someone-else-2")
    assert rig.venue_fill_ids()

    engine, report = await rig.boot()
    assert report.fills_recovered == 0
    assert engine.position(BTC) == 0  # not silently adopted as our position
    assert report.drift_percent[BTC] != 0
    assert report.drift_percent["ETHUSDT"] == 0
    assert report.venue_balances["BTC"] == engine.ledger.balances["BTC"] + 10**6  # 0.01 BTC
    rig.crash(engine)


async def test_a_flat_after_a_round_trip_while_down(rig: Rig) -> None:
    """Long when we went down; our closing sell filled while down: flat again, drift 0."""
    rig.data_dir.mkdir()
    engine, _ = await rig.boot()
    _, ask = rig.touch()
    await rig.place_ours(engine, Side.BUY, ask, "0.00200")  # takes at once
    engine, report = (
        engine,
        await reconcile(engine, rig.venue, rig.clock, {}),
    )  # our fill, as the stream would
    assert engine.position(BTC) == rig.btc.size("0.002")
    rig.crash(engine)
    bid, _ = rig.touch()
    await rig.place_direct(Side.SELL, bid, "0.00200", f"ts1-{FOREIGN_BLOCK}-1")

    engine, report = await rig.boot()
    assert engine.position(BTC) == 0
    assert report.fills_recovered >= 1
    assert not engine.orders.all_live()
    assert no_drift(report), report.drift_percent
    rig.crash(engine)


async def test_a_venue_that_does_not_answer_fails_closed(rig: Rig) -> None:
    rig.data_dir.mkdir()
    engine, _ = await rig.boot()
    _, ask = rig.touch()
    await rig.place_ours(engine, Side.BUY, ask, "0.00100")
    rig.crash(engine)
    # a gateway pointed at a port nothing listens on
    closed = BinanceRestGateway(
        HmacSigner("k", "s"), clock=rig.clock, base_url="http://127.0.0.1:9", timeout_s=2, connect_timeout_s=1
    )
    await closed.start()
    (rig.data_dir.parent / "dead").mkdir()
    try:
        journal, _ = open_for_account(rig.data_dir.parent / "dead", "binance:dead")
        ids = ClientOrderIds("ts1")
        ids.add_block(journal.reserve_block())
        limits = RiskLimits({BTC: SymbolLimits(1, 1)}, 1, 1, 1, 1)
        dead = Engine(
            rig.instruments,
            Idle(),
            RiskEngine(limits, rig.instruments, KillSwitch()),
            OrderManager(ids),
            journal,
            rig.clock,
        )
        with pytest.raises(Exception) as raised:  # noqa: PT011 - whatever the transport says, not a report
            await asyncio.wait_for(reconcile(dead, BinanceTrading(closed, rig.instruments), rig.clock), 20)
        assert not isinstance(raised.value, AssertionError)
        journal.close()
    finally:
        await closed.close()

    # the real venue stops answering half-way through start-up
    await asyncio.wait_for(rig.sim.stop(), 10)
    engine2 = None
    with pytest.raises(Exception) as raised:  # noqa: PT011
        engine2, _ = await asyncio.wait_for(rig.boot(), 30)
    assert engine2 is None and not isinstance(raised.value, AssertionError)
