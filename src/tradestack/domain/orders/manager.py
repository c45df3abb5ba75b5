"""Order management: live orders by client id, venue reports applied in order, fills exactly once."""

from __future__ import annotations

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


class OrderManager:
    def __init__(self, ids: ClientOrderIds) -> None:
        self.ids = ids
        self.orders: dict[str, Order] = {}
        self._live: dict[str, dict[str, Order]] = {}
        self._seen_fills: set[tuple[str, int]] = set()

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
        self.track(order)
        return order

    def track(self, order: Order) -> None:
        """Register an order (new, restored from the journal, or adopted from the venue)."""
        self.orders[order.client_id] = order
        if order.status.is_live:
            self._live.setdefault(order.symbol, {})[order.client_id] = order

    def first_sight(self, symbol: str, trade_id: int) -> bool:
        """Record a venue trade as seen; True only the first time (fills apply exactly once)."""
        key = (symbol, trade_id)
        if key in self._seen_fills:
            return False
        self._seen_fills.add(key)
        return True

    def seen_fills(self) -> frozenset[tuple[str, int]]:
        return frozenset(self._seen_fills)

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
        self._refresh_live(order)
        return ReportOutcome(order, changed, new_fill)

    def _refresh_live(self, order: Order) -> None:
        if not order.status.is_live:
            self._live.get(order.symbol, {}).pop(order.client_id, None)
