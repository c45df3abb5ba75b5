"""The order state machine. Venue reports drive it; nothing here guesses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from tradestack.domain.events import Side


class OrderStatus(Enum):
    PENDING_NEW = "pending_new"  # sent (or about to be), no answer yet
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # the answer was lost or a 5xx came back: resolve by querying the venue

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    @property
    def is_live(self) -> bool:
        """Possibly resting at the venue (so it counts against exposure)."""
        return not self.is_final


_FINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED})

# Transitions a venue report may cause. Anything else is ignored as stale or out of order
# (venues do deliver a late NEW after a TRADE).
_ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING_NEW: frozenset(OrderStatus) - {OrderStatus.PENDING_NEW},
    OrderStatus.UNKNOWN: frozenset(OrderStatus) - {OrderStatus.UNKNOWN, OrderStatus.PENDING_NEW},
    OrderStatus.NEW: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.PENDING_CANCEL,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
            OrderStatus.UNKNOWN,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.PENDING_CANCEL,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
            OrderStatus.UNKNOWN,
        }
    ),
    OrderStatus.PENDING_CANCEL: frozenset(
        {
            OrderStatus.NEW,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.EXPIRED,
            OrderStatus.UNKNOWN,
        }
    ),
}


@dataclass(slots=True)
class Order:
    client_id: str
    symbol: str
    side: Side
    price: int
    size: int
    status: OrderStatus = OrderStatus.PENDING_NEW
    venue_order_id: int | None = None
    filled: int = 0
    sent_mono_ns: int = 0
    created_ns: int = 0
    reason: str = ""
    trade_ids: set[str] = field(default_factory=set)

    @property
    def remaining(self) -> int:
        return self.size - self.filled if self.status.is_live else 0

    def transition(self, new: OrderStatus) -> bool:
        """Move to `new` if the state machine allows it; return whether it moved."""
        if new is self.status and new is not OrderStatus.PARTIALLY_FILLED:
            return False
        if new not in _ALLOWED.get(self.status, frozenset()):
            return False
        self.status = new
        return True
