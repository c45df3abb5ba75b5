"""L2 order book: price -> size per side, plus a sorted price list for best and top-N reads."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable

from tradestack.domain.events import Level


class OrderBook:
    """Aggregated price levels. Prices ascend in both sorted lists: best bid is the last bid."""

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
        self._ask_prices = sorted(self._asks)
        self.last_update_id = update_id

    def apply(self, bids: Iterable[Level], asks: Iterable[Level], update_id: int) -> None:
        _apply_side(self._bids, self._bid_prices, bids)
        _apply_side(self._asks, self._ask_prices, asks)
        self.last_update_id = update_id

    def best_bid(self) -> Level | None:
        if not self._bid_prices:
            return None
        price = self._bid_prices[-1]
        return price, self._bids[price]

    def best_ask(self) -> Level | None:
        if not self._ask_prices:
            return None
        price = self._ask_prices[0]
        return price, self._asks[price]

    def mid_x2(self) -> int | None:
        """Twice the mid price (stays an integer)."""
        if not self._bid_prices or not self._ask_prices:
            return None
        return self._bid_prices[-1] + self._ask_prices[0]

    def is_crossed(self) -> bool:
        return bool(self._bid_prices and self._ask_prices and self._bid_prices[-1] >= self._ask_prices[0])

    def bids(self, depth: int | None = None) -> list[Level]:
        prices = self._bid_prices[::-1] if depth is None else self._bid_prices[: -depth - 1 : -1]
        return [(price, self._bids[price]) for price in prices]

    def asks(self, depth: int | None = None) -> list[Level]:
        prices = self._ask_prices if depth is None else self._ask_prices[:depth]
        return [(price, self._asks[price]) for price in prices]

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)


def _apply_side(levels: dict[int, int], prices: list[int], updates: Iterable[Level]) -> None:
    for price, size in updates:
        if size:
            if price not in levels:
                insort(prices, price)
            levels[price] = size
        elif price in levels:
            del levels[price]
            del prices[bisect_left(prices, price)]
