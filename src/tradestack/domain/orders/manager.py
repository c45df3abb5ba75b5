"""Order management: live orders by client id, venue reports applied in order, fills exactly once.

Memory is bounded, so an engine that runs for weeks does not grow: finished orders are kept for the
last `retain_finished` of them (late reports and the views; the journal keeps every one), and each
symbol remembers the trade ids of its last `fill_window` fills. Trade ids are opaque venue strings
(Kraken and Bybit do not number them in order), so the window moves on by venue time: when it is
full, its oldest sixteenth is forgotten and every fill at or before the newest forgotten time counts
as seen (a sixteenth, not a half: the window stays near full, so its memory is level rather than a
sawtooth that takes an hour to climb back). A new fill of ours could only land there after
`fill_window` of our later fills, which does not happen.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from tradestack.domain.events import Side
from tradestack.domain.orders.client_ids import ClientOrderIds
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import Fill
from tradestack.domain.risk.engine import Exposure


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    order: Order | None
    changed: bool  # the order's state moved
    new_fill: Fill | None  # a fill seen for the first time (apply it to positions)


RETAIN_FINISHED = 1_000
# Fills come back twice only from recovery (which starts RECENT_FILLS back) and late stream reports,
# so 16 times that is ample; a busy symbol reaches it within the first half hour and then stays flat.
FILL_WINDOW = 4_096
# Fills reach the journal in the order they reach us, which is not always venue order (a REST answer
# and the user stream race), so a crash can leave a hole below the newest journaled fill. Recovery
# therefore starts at the oldest of the last RECENT_FILLS of them, never at the newest one.
RECENT_FILLS = 256
TRIM = 16  # a full fill window forgets its oldest 1/TRIM


class OrderManager:
    def __init__(
        self, ids: ClientOrderIds, retain_finished: int = RETAIN_FINISHED, fill_window: int = FILL_WINDOW
    ) -> None:
        self.ids = ids
        self.orders: dict[str, Order] = {}  # live ones, and the most recent finished ones
        self._live: dict[str, dict[str, Order]] = {}
        self._finished: deque[str] = deque()  # client ids in the order they finished
        self.retain_finished = retain_finished
        self._fill_window = fill_window
        self._seen: dict[str, dict[str, int]] = {}  # symbol -> {trade id: venue time} after its floor
        self._floor_ns: dict[str, int] = {}  # symbol -> every fill at or before this venue time is seen
        self._recent: dict[str, deque[Fill]] = {}  # symbol -> our last RECENT_FILLS fills, as seen
        # since this process started, ever (the views' counters; memory-free)
        self.orders_by_symbol: dict[str, int] = {}
        self.fills_by_symbol: dict[str, int] = {}
        self.created = 0
        self.rejected = 0

    def create(self, symbol: str, side: Side, price: int, size: int, now_ns: int, mono_ns: int) -> Order:
        order = Order(
            client_id=self.ids.next_id(),
            symbol=symbol,
            side=side,
            price=price,
            size=size,
            created_ns=now_ns,
            sent_mono_ns=mono_ns,
        )
        self.created += 1
        self.track(order)
        return order

    def track(self, order: Order) -> None:
        """Register an order (new, restored from the journal, or adopted from the venue)."""
        new = order.client_id not in self.orders
        self.orders[order.client_id] = order
        if new:
            self.orders_by_symbol[order.symbol] = self.orders_by_symbol.get(order.symbol, 0) + 1
        if order.status.is_live:
            self._live.setdefault(order.symbol, {})[order.client_id] = order
        elif new:
            self._finish(order)

    def first_sight(self, fill: Fill) -> bool:
        """Record a venue trade as seen; True only the first time (fills apply exactly once)."""
        symbol = fill.symbol
        floor = self._floor_ns.get(symbol)
        if floor is not None and fill.ts_event <= floor:
            return False
        seen = self._seen.setdefault(symbol, {})
        if fill.trade_id in seen:
            return False
        seen[fill.trade_id] = fill.ts_event
        self.fills_by_symbol[symbol] = self.fills_by_symbol.get(symbol, 0) + 1
        self._recent.setdefault(symbol, deque(maxlen=RECENT_FILLS)).append(fill)
        if len(seen) > self._fill_window:
            times = sorted(seen.values())
            cut = times[len(times) // TRIM]  # amortised: one sort per fill_window / TRIM fills
            self._floor_ns[symbol] = cut
            self._seen[symbol] = {t: ts for t, ts in seen.items() if ts > cut}
        return True

    def recovery_start(self, symbol: str) -> Fill | None:
        """Ask the venue for our fills from this one on to find any we missed: the oldest of our
        recent fills, so a hole under the newest one (a crash between two journal writes that
        arrived out of venue order) is refetched. Fills already seen are dropped by `first_sight`."""
        recent = self._recent.get(symbol)
        return min(recent, key=lambda fill: fill.ts_event) if recent else None

    def seen_fills(self) -> frozenset[tuple[str, str]]:
        """The trade ids still in the window (all of them, below `fill_window` fills per symbol)."""
        return frozenset((symbol, t) for symbol, ids in self._seen.items() for t in ids)

    def live(self, symbol: str) -> Iterable[Order]:
        return self._live.get(symbol, {}).values()

    def all_live(self) -> list[Order]:
        return [order for orders in self._live.values() for order in orders.values()]

    def exposure(self, symbol: str, position: int) -> Exposure:
        open_buy = open_sell = 0
        for order in self.live(symbol):
            if order.side is Side.BUY:
                open_buy += order.size - order.filled
            else:
                open_sell += order.size - order.filled
        return Exposure(position=position, open_buy=open_buy, open_sell=open_sell)

    def set_status(self, order: Order, status: OrderStatus, reason: str = "") -> bool:
        moved = order.transition(status)
        if moved:
            if reason:
                order.reason = reason
            if status is OrderStatus.REJECTED:
                self.rejected += 1
            self._refresh_live(order)
        return moved

    def apply(self, report: OrderReport) -> ReportOutcome:
        """Apply a venue report. Fills count once per (symbol, trade id), whatever the order of arrival."""
        order = self.orders.get(report.client_id)
        new_fill = None
        fill = report.fill
        if fill is not None and self.first_sight(fill):
            new_fill = fill
            if order is not None:
                order.trade_ids.add(fill.trade_id)
        if order is None:
            return ReportOutcome(None, False, new_fill)
        if report.venue_order_id is not None:
            order.venue_order_id = report.venue_order_id
        order.filled = max(order.filled, report.filled_total)
        changed = order.transition(report.status)
        if report.reason and changed:
            order.reason = report.reason
        if changed and order.status is OrderStatus.REJECTED:
            self.rejected += 1
        self._refresh_live(order)
        return ReportOutcome(order, changed, new_fill)

    def _refresh_live(self, order: Order) -> None:
        if not order.status.is_live and order.client_id in self._live.get(order.symbol, {}):
            del self._live[order.symbol][order.client_id]
            self._finish(order)

    def _finish(self, order: Order) -> None:
        self._finished.append(order.client_id)
        while len(self._finished) > self.retain_finished:
            old = self.orders.get(self._finished.popleft())
            if old is not None and not old.status.is_live:
                del self.orders[old.client_id]
