"""The engine: synchronous handle(event) -> commands. No asyncio here; runner.py drives it."""

from __future__ import annotations

from collections.abc import Iterable

from tradestack.domain import positions_snapshot
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side, TradePrint
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.manager import OrderManager
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import Fill, Ledger, Position, pnl_for_loss_limit
from tradestack.domain.risk.engine import RiskEngine
from tradestack.engine.commands import Cancel, CancelAll, Command, Submit
from tradestack.engine.strategy import Strategy
from tradestack.ports import Clock, EngineObserver, Journal, NullObserver

# Positions and balances are snapshotted into the journal every this many fills, so a restart
# replays at most this many (plus those since the last one) instead of every fill ever taken.
SNAPSHOT_EVERY = 1_000


class Engine:
    """One shard: its symbols' books, the strategy, risk, orders, positions and the journal."""

    def __init__(
        self,
        instruments: dict[str, Instrument],
        strategy: Strategy,
        risk: RiskEngine,
        orders: OrderManager,
        journal: Journal,
        clock: Clock,
        observer: EngineObserver | None = None,
    ) -> None:
        self.instruments = instruments
        self.strategy = strategy
        self.risk = risk
        self.orders = orders
        self.journal = journal
        self.clock = clock
        self.observer: EngineObserver = observer or NullObserver()
        self.positions = {symbol: Position(instrument) for symbol, instrument in instruments.items()}
        self.ledger = Ledger()
        self.books: dict[str, OrderBook] = {}
        self.synced: dict[str, bool] = dict.fromkeys(instruments, False)
        self.trading_enabled = False  # set once reconciliation is done
        self.recent_fills: list[Fill] = []
        self._commands: list[Command] = []
        self.snapshot_every = SNAPSHOT_EVERY
        self._marks_x2: dict[str, int] = {}  # the last mid (x2) seen per symbol, to value coin PnL
        self._fills_since_snapshot = 0

    # -- strategy context -------------------------------------------------------------------
    def instrument(self, symbol: str) -> Instrument:
        return self.instruments[symbol]

    def position(self, symbol: str) -> int:
        return self.positions[symbol].size

    def live_orders(self, symbol: str) -> list[Order]:
        return list(self.orders.live(symbol))

    def place(self, symbol: str, side: Side, price: int, size: int) -> Order | None:
        if not self.trading_enabled:
            self.observer.order_rejected(symbol, "not_ready")
            return None
        book = self.books.get(symbol)
        mid_x2 = book.mid_x2() if book is not None and self.synced.get(symbol) else None
        exposure = self.orders.exposure(symbol, self.positions[symbol].size)
        now_mono = self.clock.monotonic_ns()
        decision = self.risk.check(symbol, side, price, size, exposure, mid_x2, now_mono)
        if not decision.accepted:
            assert decision.reason is not None
            self.observer.order_rejected(symbol, decision.reason.value)
            return None
        order = self.orders.create(symbol, side, price, size, self.clock.now_ns(), now_mono)
        self._reserve_ahead()
        self.journal.record_order(order)  # queued: the writer makes it durable behind us
        self._commands.append(Submit(order))
        self.observer.order_sent(symbol, side.value)
        return order

    def cancel(self, order: Order) -> None:
        if order.status in (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_NEW) or not order.status.is_live:
            return
        self.orders.set_status(order, OrderStatus.PENDING_CANCEL)
        self._commands.append(Cancel(order))

    # -- events in, commands out -------------------------------------------------------------------
    def on_book(self, symbol: str, book: OrderBook, synced: bool) -> list[Command]:
        self.books[symbol] = book
        self.synced[symbol] = synced
        if not synced:
            return self._drain()
        self._check_loss()
        if self.trading_enabled:
            self.strategy.on_book(self, symbol, book)
        return self._drain()

    def on_trade(self, trade: TradePrint) -> list[Command]:
        if self.trading_enabled:
            self.strategy.on_trade(self, trade)
        return self._drain()

    def on_report(self, report: OrderReport) -> list[Command]:
        outcome = self.orders.apply(report)
        order = outcome.order
        if outcome.new_fill is not None:
            self._apply_fill(outcome.new_fill, order)
        if order is not None and (outcome.changed or outcome.new_fill is not None):
            self.journal.record_order(order)
            if order.status is OrderStatus.REJECTED:
                self.observer.order_rejected(order.symbol, f"venue:{report.reason}")
            if self.trading_enabled:
                self.strategy.on_order(self, order)
        return self._drain()

    def on_submit_failed(self, order: Order, status: OrderStatus, reason: str) -> list[Command]:
        """The gateway's verdict on a submit that did not produce a venue report."""
        if self.orders.set_status(order, status, reason):
            self.journal.record_order(order)
            if status is OrderStatus.UNKNOWN:
                self.observer.order_unknown(order.symbol)
            elif status is OrderStatus.REJECTED:
                self.observer.order_rejected(order.symbol, f"venue:{reason}")
        return self._drain()

    def on_cancel_failed(self, order: Order) -> None:
        """A cancel that did not go through: the order is live as far as we know."""
        if order.status is OrderStatus.PENDING_CANCEL:
            order.status = OrderStatus.PARTIALLY_FILLED if order.filled else OrderStatus.NEW

    def _apply_fill(self, fill: Fill, order: Order | None) -> None:
        instrument = self.instruments[fill.symbol]
        self.positions[fill.symbol].apply(fill)
        self.ledger.apply(instrument, fill)
        self.journal.record_fill(fill)
        self._fills_since_snapshot += 1
        if self._fills_since_snapshot >= self.snapshot_every:
            self.snapshot()
        self.recent_fills.append(fill)
        del self.recent_fills[:-50]
        latency = None
        if order is not None and order.sent_mono_ns:
            latency = self.clock.monotonic_ns() - order.sent_mono_ns
        self.observer.fill(fill.symbol, fill.side.value, latency)
        if self.trading_enabled:
            self.strategy.on_fill(self, fill)
        self._check_loss()

    # -- restart and reconciliation ---------------------------------------------------------------
    def snapshot(self) -> None:
        """Journal positions and balances as they stand after every fill recorded so far."""
        self.journal.record_snapshot(positions_snapshot.encode(self.positions, self.ledger))
        self._fills_since_snapshot = 0

    def restore_snapshot(self, state: str, seen: Iterable[Fill]) -> None:
        """Positions and balances from a journal snapshot; the fills it covers are remembered as seen."""
        positions_snapshot.restore(state, self.positions, self.ledger)
        for fill in seen:
            self.orders.first_sight(fill)

    def restore_fill(self, fill: Fill) -> None:
        """Replay a journaled fill into positions (no strategy callbacks, no journal write)."""
        if self.orders.first_sight(fill):
            self.positions[fill.symbol].apply(fill)
            self.ledger.apply(self.instruments[fill.symbol], fill)

    def recover_fill(self, fill: Fill) -> bool:
        """A fill found at the venue during reconciliation. Applied and journaled unless already seen."""
        if not self.orders.first_sight(fill):
            return False
        self._apply_fill(fill, self.orders.orders.get(fill.client_id))
        return True

    def total_pnl(self) -> int:
        """Realized plus unrealized PnL over all symbols, in quote units at ASSET_SCALE. An inverse
        contract's coin PnL counts in its price currency at the last mid seen (0 until there is one)."""
        return self._pnl(realized_only=False) or 0

    def realized_pnl(self) -> int:
        """Realized PnL over all symbols, in the units of total_pnl."""
        return self._pnl(realized_only=True) or 0

    def unrealized(self, symbol: str) -> int:
        """Unrealized PnL at the mid, in the position's instrument.pnl_scale (0 without a synced mid)."""
        position = self.positions[symbol]
        book = self.books.get(symbol)
        mid_x2 = book.mid_x2() if book is not None else None
        if not position.size or mid_x2 is None:
            return 0
        return position.unrealized_at_mid(mid_x2)

    def _pnl(self, *, realized_only: bool) -> int | None:
        """None while an inverse contract's PnL has no mark to be converted at."""
        total = 0
        for symbol, position in self.positions.items():
            pnl = position.realized if realized_only else position.realized + self.unrealized(symbol)
            book = self.books.get(symbol)
            mid_x2 = book.mid_x2() if book is not None else None
            if mid_x2 is not None:
                self._marks_x2[symbol] = mid_x2
            counted = pnl_for_loss_limit(position.instrument, pnl, self._marks_x2.get(symbol))
            if counted is None:
                return None
            total += counted
        return total

    def _check_loss(self) -> None:
        if self._pnl(realized_only=False) is None:
            return  # an inverse contract's coin PnL cannot be valued yet; its book is not synced
        day_before = self.risk.day_state[0]
        if self.risk.on_pnl(self.total_pnl(), self.clock.now_ns()):
            self._engage_kill_switch(self.risk.kill_switch.reason)
        day, start = self.risk.day_state
        if day != day_before:  # a new trading day: remember where its PnL started
            self.journal.put_meta("risk_day", f"{day}:{start}")

    def trip_kill_switch(self, reason: str) -> list[Command]:
        """Latch the kill switch durably and cancel everything."""
        self._engage_kill_switch(reason)
        return self._drain()

    def _engage_kill_switch(self, reason: str) -> None:
        self.risk.kill_switch.engage(reason)
        self.journal.put_meta_sync("kill_switch", reason or "engaged")
        self.observer.kill_switch(True, reason)
        for symbol in self.instruments:
            self._commands.append(CancelAll(symbol, "kill_switch"))

    def _reserve_ahead(self) -> None:
        ids = self.orders.ids
        if ids.remaining == ids.block_size // 2:
            self.journal.reserve_block_later(ids.add_block)

    def _drain(self) -> list[Command]:
        commands, self._commands = self._commands, []
        return commands
