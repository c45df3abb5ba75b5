"""Risk invariants under a hypothesis state machine: random book moves, random orders (the strategy's and
direct ones), fills, venue cancels, time passing, kill-switch trips through big adverse moves, and
restarts from the journal. After every step: never above max position, order size, notional or order
rate; after a kill-switch trip no accepted order adds risk; the latch survives a restart."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tradestack.app.journal_state import restore
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, pow10
from tradestack.domain.orders.client_ids import ClientOrderIds
from tradestack.domain.orders.manager import OrderManager
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import ASSET_SCALE, Fill
from tradestack.domain.risk.engine import KillSwitch, RiskEngine
from tradestack.domain.risk.limits import RiskLimits, SymbolLimits
from tradestack.engine.core import Engine
from tradestack.ports import ManualClock
from tradestack.store.sqlite import SqliteJournal
from tradestack.strategies.market_maker import MarketMaker, MarketMakerParams

SYMBOL = "BTCUSDT"
BTC = Instrument.from_steps("binance", SYMBOL, "BTC", "USDT", "0.01", "0.00001")
MAX_ORDER_SIZE = BTC.size("0.005")
MAX_POSITION = BTC.size("0.006")
MAX_NOTIONAL = 300 * 10**ASSET_SCALE  # 0.005 BTC at 60,000 would be 300 USDT
MAX_RATE = 5
SECOND = 1_000_000_000
START_MID = BTC.price("50000.00")


def limits() -> RiskLimits:
    return RiskLimits(
        per_symbol={SYMBOL: SymbolLimits(MAX_ORDER_SIZE, MAX_POSITION)},
        max_order_notional=MAX_NOTIONAL,
        price_band_bps=200,
        max_orders_per_second=MAX_RATE,
        daily_loss_limit=5 * 10**ASSET_SCALE,  # 5 USDT: a 2% move on 0.005 BTC trips it
    )


def params() -> MarketMakerParams:
    # the strategy would happily run to 0.1 BTC of inventory: only risk keeps it inside 0.006
    return MarketMakerParams(
        half_spread_bps_e2=300,
        skew_bps_e2_at_max_inventory=500,
        requote_threshold_bps_e2=100,
        order_size={SYMBOL: BTC.size("0.004")},
        max_inventory={SYMBOL: BTC.size("0.1")},
    )


def notional(order: Order) -> int:
    return order.price * order.size * pow10(ASSET_SCALE - BTC.notional_scale)


class RiskMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="risk-sm-"))
        self.clock = ManualClock()
        self.mid = START_MID
        self.trade_id = 0
        self.latched = False
        self.accepted: list[tuple[int, Order]] = []  # (monotonic ns when accepted, order)
        self.known: set[str] = set()
        self.journal: SqliteJournal | None = None
        self.engine = self._boot()

    # -- plumbing -------------------------------------------------------------------------------
    def _boot(self) -> Engine:
        self.journal = SqliteJournal(self.dir / "journal.db")
        ids = ClientOrderIds("ts1")
        ids.add_block(self.journal.reserve_block())
        engine = Engine(
            {SYMBOL: BTC},
            MarketMaker(params()),
            RiskEngine(limits(), {SYMBOL: BTC}, KillSwitch()),
            OrderManager(ids),
            self.journal,
            self.clock,
        )
        restore(engine, self.journal)
        engine.trading_enabled = True
        self.known.update(engine.orders.orders)
        return engine

    def _book(self) -> OrderBook:
        book = OrderBook(SYMBOL)
        half = BTC.tick * 2
        book.load([(self.mid - half, 100)], [(self.mid + half, 100)], 1)
        return book

    def _collect(self, position_before: int) -> None:
        """Orders created in this step: they passed risk. Check them as they were accepted."""
        now = self.clock.monotonic_ns()
        for client_id, order in self.engine.orders.orders.items():
            if client_id in self.known:
                continue
            self.known.add(client_id)
            self.accepted.append((now, order))
            assert order.size <= MAX_ORDER_SIZE, order
            assert notional(order) <= MAX_NOTIONAL, order
            if self.latched:
                position = self.engine.position(SYMBOL)
                for start in (position_before, position):
                    assert abs(start + order.side.sign * order.size) < abs(start), (
                        f"risk-increasing order accepted after the kill switch: {order} at {start}"
                    )

    def _step(self, action: object) -> None:
        before = self.engine.position(SYMBOL)
        latched_before = self.engine.risk.kill_switch.engaged
        action()  # type: ignore[operator]
        self.latched = self.latched or latched_before
        self._collect(before)
        self.latched = self.latched or self.engine.risk.kill_switch.engaged

    def _live(self) -> list[Order]:
        return list(self.engine.orders.live(SYMBOL))

    # -- rules ----------------------------------------------------------------------------------
    @rule(ticks=st.integers(-300, 300))
    def book_moves(self, ticks: int) -> None:
        self.mid = max(BTC.price("1000.00"), self.mid + ticks * BTC.tick)
        self._step(lambda: self.engine.on_book(SYMBOL, self._book(), synced=True))

    @rule()
    def big_adverse_move(self) -> None:
        position = self.engine.position(SYMBOL)
        direction = -1 if position >= 0 else 1
        self.mid = max(BTC.price("1000.00"), self.mid + direction * self.mid // 20)  # 5% against us
        self._step(lambda: self.engine.on_book(SYMBOL, self._book(), synced=True))

    @rule(
        side=st.sampled_from([Side.BUY, Side.SELL]),
        offset_ticks=st.integers(-2000, 2000),
        size=st.integers(1, 1500),
    )
    def direct_order(self, side: Side, offset_ticks: int, size: int) -> None:
        """An order straight through the strategy context, any size and price."""
        price = max(BTC.tick, self.mid + offset_ticks * BTC.tick)
        self._step(lambda: self.engine.place(SYMBOL, side, price, size))

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data(), whole=st.booleans(), share=st.integers(1, 100))
    def fill(self, data: st.DataObject, whole: bool, share: int) -> None:
        order = data.draw(st.sampled_from(sorted(self._live(), key=lambda o: o.client_id)))
        remaining = order.size - order.filled
        size = remaining if whole else max(1, remaining * share // 100)
        self.trade_id += 1
        fill = Fill(SYMBOL, str(self.trade_id), order.client_id, order.side, order.price, size, 0, "USDT", 0)
        filled = order.filled + size
        status = OrderStatus.FILLED if filled >= order.size else OrderStatus.PARTIALLY_FILLED
        report = OrderReport(order.client_id, SYMBOL, status, self.trade_id, filled, fill, "", 0)
        self._step(lambda: self.engine.on_report(report))

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data())
    def venue_cancels(self, data: st.DataObject) -> None:
        order = data.draw(st.sampled_from(sorted(self._live(), key=lambda o: o.client_id)))
        report = OrderReport(order.client_id, SYMBOL, OrderStatus.CANCELED, None, order.filled, None, "", 0)
        self._step(lambda: self.engine.on_report(report))

    @precondition(lambda self: bool(self._live()))
    @rule()
    def venue_acks(self) -> None:
        def ack() -> None:
            for order in self._live():
                if order.status is OrderStatus.PENDING_NEW:
                    self.engine.on_report(
                        OrderReport(order.client_id, SYMBOL, OrderStatus.NEW, 1, 0, None, "", 0)
                    )

        self._step(ack)

    @rule(ms=st.integers(0, 1500))
    def time_passes(self, ms: int) -> None:
        self.clock.advance(ms * 1_000_000)

    @rule(ms=st.integers(0, 3000))
    def trip_kill_switch(self, ms: int) -> None:
        if ms < 2500:  # rarely by hand: mostly the loss limit trips it
            return
        self._step(lambda: self.engine.trip_kill_switch("operator"))

    @rule()
    def restart(self) -> None:
        assert self.journal is not None
        self.journal.close()
        # a restart takes at least a second (reconnect, reconcile): the rate window is in memory only
        self.clock.advance(SECOND)
        self.engine = self._boot()
        if self.latched:
            assert self.engine.risk.kill_switch.engaged, "the kill-switch latch did not survive a restart"

    # -- invariants -----------------------------------------------------------------------------
    @invariant()
    def position_within_limit(self) -> None:
        assert abs(self.engine.position(SYMBOL)) <= MAX_POSITION, self.engine.position(SYMBOL)

    @invariant()
    def order_rate_within_limit(self) -> None:
        times = sorted(t for t, _ in self.accepted)
        j = 0
        for i, start in enumerate(times):
            j = max(j, i)
            while j < len(times) and times[j] - start < SECOND:
                j += 1
            assert j - i <= MAX_RATE, f"{j - i} orders accepted within 1 s from t={start}"

    @invariant()
    def latch_holds(self) -> None:
        if self.latched:
            assert self.engine.risk.kill_switch.engaged

    def teardown(self) -> None:
        event(f"kill switch latched: {self.latched}")
        event(f"orders accepted: {min(len(self.accepted), 20) // 5 * 5}+")
        event(f"fills: {min(self.trade_id, 10) // 5 * 5}+")
        if self.journal is not None:
            self.journal.close()
        shutil.rmtree(self.dir, ignore_errors=True)


RiskMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.timeout(60)
class TestRiskInvariants(RiskMachine.TestCase):  # type: ignore[misc,valid-type]
    pass
