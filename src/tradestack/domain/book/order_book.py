"""L2 order book: price -> size per side, plus a sorted price list for best and top-N reads.

Both price lists keep the best price last (bids ascending, asks descending): diffs mostly touch levels
near the top of the book, so inserting or removing a price there moves few list items, where keeping
asks ascending moved the whole ask list for most changes (a Binance BTCUSDT book holds ~2-4k levels).

`apply` is the hot path (every depth diff, ~36 levels each on Binance spot). Its per-level loop runs in C
when `tradestack._native` is built (`apply_side`: the same dict and list of Python ints, the same
algorithm and comparisons as `_apply_side` below, so any int works and the results are identical), else
in `_apply_side`. Reads stay here: best levels are the list ends, top-N a reversed slice.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from operator import neg

from tradestack import _native
from tradestack.domain.events import Level


class OrderBook:
    """Aggregated price levels. Bid prices ascend, ask prices descend: the best of each is the last."""

    __slots__ = ("_ask_prices", "_asks", "_bid_prices", "_bids", "last_update_id", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}
        self._bid_prices: list[int] = []
        self._ask_prices: list[int] = []
        self.last_update_id = -1

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self._bid_prices.clear()
        self._ask_prices.clear()
        self.last_update_id = -1

    def load(self, bids: Iterable[Level], asks: Iterable[Level], update_id: int) -> None:
        self.clear()
        self._bids = {price: size for price, size in bids if size > 0}
        self._asks = {price: size for price, size in asks if size > 0}
        self._bid_prices = sorted(self._bids)
        self._ask_prices = sorted(self._asks, reverse=True)
        self.last_update_id = update_id

    def apply(self, bids: Iterable[Level], asks: Iterable[Level], update_id: int) -> None:
        apply_side = _native.apply_side or _apply_side
        apply_side(self._bids, self._bid_prices, bids, False)
        apply_side(self._asks, self._ask_prices, asks, True)
        self.last_update_id = update_id

    def best_bid(self) -> Level | None:
        if not self._bid_prices:
            return None
        price = self._bid_prices[-1]
        return price, self._bids[price]

    def best_ask(self) -> Level | None:
        if not self._ask_prices:
            return None
        price = self._ask_prices[-1]
        return price, self._asks[price]

    def mid_x2(self) -> int | None:
        """Twice the mid price (stays an integer)."""
        if not self._bid_prices or not self._ask_prices:
            return None
        return self._bid_prices[-1] + self._ask_prices[-1]

    def is_crossed(self) -> bool:
        return bool(self._bid_prices and self._ask_prices and self._bid_prices[-1] >= self._ask_prices[-1])

    def bids(self, depth: int | None = None) -> list[Level]:
        return _best_first(self._bids, self._bid_prices, depth)

    def asks(self, depth: int | None = None) -> list[Level]:
        return _best_first(self._asks, self._ask_prices, depth)

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)


def _best_first(levels: dict[int, int], prices: list[int], depth: int | None) -> list[Level]:
    top = prices[::-1] if depth is None else prices[: -depth - 1 : -1]
    return [(price, levels[price]) for price in top]


def _apply_side(
    levels: dict[int, int], prices: list[int], updates: Iterable[Level], descending: bool
) -> None:
    """The reference for `tradestack._native.apply_side`: a true size sets, a false size removes.

    `prices` ascends, or descends when `descending` (bisect on the negated prices: -x < -y is y < x).
    """
    if descending:
        for price, size in updates:
            if size:
                if price not in levels:
                    insort(prices, price, key=neg)
                levels[price] = size
            elif price in levels:
                del levels[price]
                del prices[bisect_left(prices, -price, key=neg)]
    else:
        for price, size in updates:
            if size:
                if price not in levels:
                    insort(prices, price)
                levels[price] = size
            elif price in levels:
                del levels[price]
                del prices[bisect_left(prices, price)]
