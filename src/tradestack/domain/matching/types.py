"""Value types of the matching engine: what one submit or one cancel did to the book.

Prices and sizes are integers (price units, size units). Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tradestack.domain.events import Level, Side


class TimeInForce(Enum):
    GTC = "GTC"  # rest the remainder until canceled
    IOC = "IOC"  # fill what crosses now, expire the rest
    FOK = "FOK"  # fill all of it now or none of it


class OrderStatus(Enum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"  # IOC / FOK / market remainder that could not fill
    REJECTED = "REJECTED"


class RejectReason(Enum):
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_SIZE = "INVALID_SIZE"
    WOULD_CROSS = "WOULD_CROSS"  # a post-only (LIMIT_MAKER) order would match and take


@dataclass(frozen=True, slots=True)
class Trade:
    """One match between a resting (maker) order and an incoming (taker) order."""

    trade_id: int
    price: int  # always the maker's price
    size: int
    maker_order_id: int
    taker_order_id: int
    taker_side: Side
    maker_remaining: int  # what the maker has left on the book after this trade (0: fully filled)

    @property
    def buyer_is_maker(self) -> bool:
        return self.taker_side is Side.SELL


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """The aggregated (L2) levels one command changed, as final absolute sizes (0 removes the level).

    Every command that changes the aggregated book gets exactly one new update id, so a depth stream can
    report [first, last] update id windows that chain without gaps.
    """

    update_id: int
    bids: tuple[Level, ...]  # best (highest) first
    asks: tuple[Level, ...]  # best (lowest) first


@dataclass(frozen=True, slots=True)
class RestingOrder:
    """An order on the book, as seen from outside the engine."""

    order_id: int
    side: Side
    price: int
    size: int  # original size
    remaining: int  # still on the book
    sequence: int  # arrival order within the engine; lower means earlier (time priority)


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What one new order did. Always `filled + resting + canceled == size`.

    A rejected order gets no id and counts its whole size as `canceled`; an accepted order that could not
    fill (IOC, FOK, market remainder) reports the unfilled part as `canceled` with status EXPIRED.
    """

    order_id: int | None
    side: Side
    price: int | None  # None for a market order
    size: int
    status: OrderStatus
    trades: tuple[Trade, ...]
    filled: int
    resting: int
    canceled: int
    reject_reason: RejectReason | None
    book_update: BookUpdate | None

    @property
    def accepted(self) -> bool:
        return self.order_id is not None

    @property
    def filled_notional(self) -> int:
        """Sum of price * size over the trades, in units of price units x size units."""
        return sum(trade.price * trade.size for trade in self.trades)


@dataclass(frozen=True, slots=True)
class CancelResult:
    """What a cancel did. `order` is the order just before it left the book, None if it was not there."""

    order_id: int
    order: RestingOrder | None
    book_update: BookUpdate | None

    @property
    def found(self) -> bool:
        return self.order is not None

    @property
    def canceled(self) -> int:
        return 0 if self.order is None else self.order.remaining
