"""The matching engine for one symbol: ids, order types, and what each command did.

Pure and synchronous: commands in, value objects out. The simulated venue and backtests share it.
Order ids, trade ids and book update ids are per engine (per symbol, as on Binance) and only grow.
"""

from __future__ import annotations

from tradestack.domain.events import Level, Side
from tradestack.domain.matching.order_book import BookOrder, Changes, LimitOrderBook
from tradestack.domain.matching.types import (
    BookUpdate,
    CancelResult,
    OrderStatus,
    RejectReason,
    RestingOrder,
    SubmitResult,
    TimeInForce,
    Trade,
)


class MatchingEngine:
    """Price-time priority matching over integer prices and sizes for one symbol."""

    __slots__ = ("_book", "_next_order_id", "_next_trade_id", "_sequence", "_update_id", "symbol")

    def __init__(
        self, symbol: str, *, first_order_id: int = 1, first_trade_id: int = 1, update_id: int = 0
    ) -> None:
        self.symbol = symbol
        self._book = LimitOrderBook()
        self._next_order_id = first_order_id
        self._next_trade_id = first_trade_id
        self._update_id = update_id
        self._sequence = 0

    # ---- commands ----------------------------------------------------------------------------------------

    def submit_limit(
        self,
        side: Side,
        price: int,
        size: int,
        time_in_force: TimeInForce = TimeInForce.GTC,
        *,
        post_only: bool = False,
    ) -> SubmitResult:
        """A limit order. `post_only` (Binance LIMIT_MAKER) is rejected if it would take liquidity."""
        if size <= 0:
            return _rejected(side, price, size, RejectReason.INVALID_SIZE)
        if price <= 0:
            return _rejected(side, price, size, RejectReason.INVALID_PRICE)
        if post_only and self._book.crosses(side, price):
            return _rejected(side, price, size, RejectReason.WOULD_CROSS)
        order_id = self._new_order_id()
        if time_in_force is TimeInForce.FOK and self._book.available(side, price) < size:
            return SubmitResult(order_id, side, price, size, OrderStatus.EXPIRED, (), 0, 0, size, None, None)
        changes: Changes = {}
        trades = self._match(order_id, side, price, size, changes)
        filled = sum(trade.size for trade in trades)
        left = size - filled
        resting = canceled = 0
        if left and (time_in_force is TimeInForce.GTC or post_only):
            self._book.add(BookOrder(order_id, side, price, size, self._new_sequence(), left), changes)
            resting = left
        else:
            canceled = left
        return SubmitResult(
            order_id=order_id,
            side=side,
            price=price,
            size=size,
            status=_status(size, filled, resting),
            trades=trades,
            filled=filled,
            resting=resting,
            canceled=canceled,
            reject_reason=None,
            book_update=self._publish(changes),
        )

    def submit_market(self, side: Side, size: int) -> SubmitResult:
        """A market order: takes what there is, expires the rest."""
        if size <= 0:
            return _rejected(side, None, size, RejectReason.INVALID_SIZE)
        order_id = self._new_order_id()
        changes: Changes = {}
        trades = self._match(order_id, side, None, size, changes)
        filled = sum(trade.size for trade in trades)
        return SubmitResult(
            order_id=order_id,
            side=side,
            price=None,
            size=size,
            status=_status(size, filled, 0),
            trades=trades,
            filled=filled,
            resting=0,
            canceled=size - filled,
            reject_reason=None,
            book_update=self._publish(changes),
        )

    def cancel(self, order_id: int) -> CancelResult:
        changes: Changes = {}
        removed = self._book.remove(order_id, changes)
        if removed is None:
            return CancelResult(order_id, None, None)
        return CancelResult(order_id, _view(removed), self._publish(changes))

    # ---- queries -----------------------------------------------------------------------------------------

    @property
    def update_id(self) -> int:
        """The id of the last change to the aggregated book (the depth snapshot's lastUpdateId)."""
        return self._update_id

    @property
    def last_trade_id(self) -> int:
        return self._next_trade_id - 1

    def order(self, order_id: int) -> RestingOrder | None:
        order = self._book.get(order_id)
        return None if order is None else _view(order)

    def orders(self, side: Side | None = None) -> list[RestingOrder]:
        """Resting orders in priority order (bids then asks when side is None)."""
        sides = (Side.BUY, Side.SELL) if side is None else (side,)
        return [_view(order) for each in sides for order in self._book.orders(each)]

    def best_bid(self) -> Level | None:
        return self._book.best(Side.BUY)

    def best_ask(self) -> Level | None:
        return self._book.best(Side.SELL)

    def bids(self, depth: int | None = None) -> list[Level]:
        return self._book.levels(Side.BUY, depth)

    def asks(self, depth: int | None = None) -> list[Level]:
        return self._book.levels(Side.SELL, depth)

    def would_cross(self, side: Side, price: int) -> bool:
        return self._book.crosses(side, price)

    def available(self, taker_side: Side, limit: int | None = None) -> int:
        return self._book.available(taker_side, limit)

    def __len__(self) -> int:
        return len(self._book)

    # ---- internals ---------------------------------------------------------------------------------------

    def _match(
        self, order_id: int, side: Side, limit: int | None, size: int, changes: Changes
    ) -> tuple[Trade, ...]:
        trades = []
        for maker, quantity in self._book.take(side, limit, size, changes):
            trades.append(
                Trade(
                    trade_id=self._next_trade_id,
                    price=maker.price,
                    size=quantity,
                    maker_order_id=maker.order_id,
                    taker_order_id=order_id,
                    taker_side=side,
                    maker_remaining=maker.remaining,
                )
            )
            self._next_trade_id += 1
        return tuple(trades)

    def _publish(self, changes: Changes) -> BookUpdate | None:
        if not changes:
            return None
        self._update_id += 1
        bids = sorted(((p, s) for (side, p), s in changes.items() if side is Side.BUY), reverse=True)
        asks = sorted((p, s) for (side, p), s in changes.items() if side is Side.SELL)
        return BookUpdate(self._update_id, tuple(bids), tuple(asks))

    def _new_order_id(self) -> int:
        order_id = self._next_order_id
        self._next_order_id += 1
        return order_id

    def _new_sequence(self) -> int:
        self._sequence += 1
        return self._sequence


def _status(size: int, filled: int, resting: int) -> OrderStatus:
    if filled == size:
        return OrderStatus.FILLED
    if resting:
        return OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.NEW
    return OrderStatus.EXPIRED


def _rejected(side: Side, price: int | None, size: int, reason: RejectReason) -> SubmitResult:
    return SubmitResult(
        None, side, price, size, OrderStatus.REJECTED, (), 0, 0, size, reason, book_update=None
    )


def _view(order: BookOrder) -> RestingOrder:
    return RestingOrder(order.order_id, order.side, order.price, order.size, order.remaining, order.sequence)
