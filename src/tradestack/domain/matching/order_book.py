"""Price-time priority limit order book: FIFO queues per price, aggregated sizes per level.

Each side keeps price -> level (a FIFO queue and its total) and an ascending list of prices for the
best price (bids: last, asks: first). A cancel marks the order (remaining = 0) and takes it out of the
id index and the level total at once; the queue entry is dropped lazily when it reaches the front. So
add, cancel and taking the front are all O(1) apart from the sorted price list.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator

from tradestack.domain.events import Level, Side

# (side, price) -> final aggregated size after a command; collected while a command runs
Changes = dict[tuple[Side, int], int]


class BookOrder:
    """A resting order inside the book (mutable; never handed out, see RestingOrder)."""

    __slots__ = ("order_id", "price", "remaining", "sequence", "side", "size")

    def __init__(
        self, order_id: int, side: Side, price: int, size: int, sequence: int, remaining: int | None = None
    ) -> None:
        self.order_id = order_id
        self.side = side
        self.price = price
        self.size = size
        self.remaining = size if remaining is None else remaining
        self.sequence = sequence


class _Level:
    __slots__ = ("queue", "total")

    def __init__(self) -> None:
        self.queue: deque[BookOrder] = deque()
        self.total = 0


class LimitOrderBook:
    """Resting orders by side and price. Matching walks prices best first and orders oldest first."""

    __slots__ = ("_levels", "_orders", "_prices")

    def __init__(self) -> None:
        self._levels: dict[Side, dict[int, _Level]] = {Side.BUY: {}, Side.SELL: {}}
        self._prices: dict[Side, list[int]] = {Side.BUY: [], Side.SELL: []}
        self._orders: dict[int, BookOrder] = {}

    # ---- reads -------------------------------------------------------------------------------------------

    def best_price(self, side: Side) -> int | None:
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side is Side.BUY else prices[0]

    def best(self, side: Side) -> Level | None:
        price = self.best_price(side)
        if price is None:
            return None
        return price, self._levels[side][price].total

    def level_size(self, side: Side, price: int) -> int:
        level = self._levels[side].get(price)
        return 0 if level is None else level.total

    def levels(self, side: Side, depth: int | None = None) -> list[Level]:
        """Aggregated levels, best first."""
        prices = self._prices[side]
        ordered = prices[::-1] if side is Side.BUY else prices
        if depth is not None:
            ordered = ordered[:depth]
        levels = self._levels[side]
        return [(price, levels[price].total) for price in ordered]

    def get(self, order_id: int) -> BookOrder | None:
        return self._orders.get(order_id)

    def orders(self, side: Side) -> Iterator[BookOrder]:
        """Live orders of one side in priority order (best price first, then oldest first)."""
        for price, _ in self.levels(side):
            for order in self._levels[side][price].queue:
                if order.remaining:
                    yield order

    def __len__(self) -> int:
        return len(self._orders)

    def crosses(self, side: Side, price: int) -> bool:
        """Would a `side` order at `price` match something resting on the other side?"""
        best = self.best_price(side.opposite)
        if best is None:
            return False
        return price >= best if side is Side.BUY else price <= best

    def available(self, taker_side: Side, limit: int | None) -> int:
        """Total size a taker could fill up to `limit` (None: no limit)."""
        total = 0
        for price, size in self.levels(taker_side.opposite):
            if limit is not None and (price > limit if taker_side is Side.BUY else price < limit):
                break
            total += size
        return total

    # ---- writes ------------------------------------------------------------------------------------------

    def add(self, order: BookOrder, changes: Changes) -> None:
        side, price = order.side, order.price
        levels = self._levels[side]
        level = levels.get(price)
        if level is None:
            level = levels[price] = _Level()
            insort(self._prices[side], price)
        level.queue.append(order)
        level.total += order.remaining
        self._orders[order.order_id] = order
        changes[(side, price)] = level.total

    def remove(self, order_id: int, changes: Changes) -> BookOrder | None:
        """Take a live order off the book; returns it with `remaining` as it was, or None if absent."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return None
        side, price = order.side, order.price
        level = self._levels[side][price]
        level.total -= order.remaining
        snapshot = BookOrder(order.order_id, side, price, order.size, order.sequence, order.remaining)
        order.remaining = 0  # the queue entry is now dead and is skipped when it reaches the front
        if level.total == 0:
            self._drop_level(side, price)
        changes[(side, price)] = level.total
        return snapshot

    def take(
        self, taker_side: Side, limit: int | None, size: int, changes: Changes
    ) -> list[tuple[BookOrder, int]]:
        """Match a taker of `size` against the other side up to `limit` (None: market).

        Returns (maker, filled size) in execution order; the maker objects carry their price and what is
        left of them after the fill. Filled makers leave the book.
        """
        maker_side = taker_side.opposite
        prices = self._prices[maker_side]
        levels = self._levels[maker_side]
        buying = taker_side is Side.BUY
        fills: list[tuple[BookOrder, int]] = []
        remaining = size
        while remaining and prices:
            price = prices[0] if buying else prices[-1]
            if limit is not None and (price > limit if buying else price < limit):
                break
            level = levels[price]
            queue = level.queue
            while remaining and queue:
                maker = queue[0]
                if not maker.remaining:  # canceled earlier, dropped lazily
                    queue.popleft()
                    continue
                quantity = min(remaining, maker.remaining)
                maker.remaining -= quantity
                level.total -= quantity
                remaining -= quantity
                fills.append((maker, quantity))
                if not maker.remaining:
                    queue.popleft()
                    del self._orders[maker.order_id]
            changes[(maker_side, price)] = level.total
            if level.total == 0:
                self._drop_level(maker_side, price)
        return fills

    def _drop_level(self, side: Side, price: int) -> None:
        del self._levels[side][price]
        prices = self._prices[side]
        del prices[bisect_left(prices, price)]
