"""What a venue tells us about one of our orders, already translated out of its dialect."""

from __future__ import annotations

from dataclasses import dataclass

from tradestack.domain.orders.state import OrderStatus
from tradestack.domain.positions import Fill


@dataclass(frozen=True, slots=True)
class OrderReport:
    client_id: str
    symbol: str
    status: OrderStatus
    venue_order_id: int | None
    filled_total: int  # cumulative size units filled at the venue
    fill: Fill | None  # the trade this report carries, if any
    reason: str
    ts_event: int
