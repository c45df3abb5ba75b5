"""Order management: live orders by client id, venue reports applied in order, fills exactly once.

Memory is bounded, so an engine that runs for weeks does not grow: finished orders are kept for the
last `retain_finished` of them (late reports and the views; the journal keeps every one), and each
symbol remembers the trade ids of its last `fill_window` fills. Venues number trades in increasing
order per symbol, so when the window moves on, every id at or below its floor counts as seen: a new
fill of ours could only land there after `fill_window` of our later fills, which does not happen.
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
FILL_WINDOW = 100_000
# Fills reach the journal in the order they reach us, which is not always trade-id order (a REST
# answer and the user stream race), so a crash can leave a hole below the highest journaled id.
# Recovery therefore starts below the last RECENT_FILLS of them, never at the highest one.
RECENT_FILLS = 256


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
        self._seen: dict[str, set[int]] = {}  # symbol -> trade ids above its floor
        self._fill_floor: dict[str, int] = {}  # symbol -> every trade id at or below counts as seen
        self._last_fill: dict[str, int] = {}
        self._recent: dict[str, deque[int]] = {}  # symbol -> our last RECENT_FILLS trade ids, as seen
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

    def first_sight(self, symbol: str, trade_id: int) -> bool:
        """Record a venue trade as seen; True only the first time (fills apply exactly once)."""
        floor = self._fill_floor.get(symbol)
        if floor is not None and trade_id <= floor:
            return False
        seen = self._seen.setdefault(symbol, set())
        if trade_id in seen:
            return False
        seen.add(trade_id)
        self.fills_by_symbol[symbol] = self.fills_by_symbol.get(symbol, 0) + 1
        if trade_id > self._last_fill.get(symbol, -1):
            self._last_fill[symbol] = trade_id
        self._recent.setdefault(symbol, deque(maxlen=RECENT_FILLS)).append(trade_id)
        if len(seen) > self._fill_window:
            ordered = sorted(seen)
            cut = ordered[len(ordered) // 2]  # forget the older half at once: amortised O(log n) per fill
            self._fill_floor[symbol] = cut
            self._seen[symbol] = {t for t in ordered if t > cut}
        return True

    def last_fill_id(self, symbol: str) -> int | None:
        """The highest venue trade id of ours seen for this symbol."""
        return self._last_fill.get(symbol)

    def recovery_floor(self, symbol: str) -> int | None:
        """Ask the venue for our fills above this id to find any we missed: below the lowest of our
        recent fills, so a hole under the highest one (a crash between two journal writes that
        arrived out of id order) is refetched. Fills already seen are dropped by `first_sight`."""
        recent = self._recent.get(symbol)
        return min(recent) - 1 if recent else None

    def seen_fills(self) -> frozenset[tuple[str, int]]:
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
        if fill is not None and self.first_sight(fill.symbol, fill.trade_id):
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
