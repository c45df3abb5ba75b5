"""L2 order book: per side, price -> size, kept in price order with the best level last.

`apply` is the hot path (every depth diff; ~36 levels each on Binance spot). Each side is a
`tradestack._native.BookSide` when the C extension is built: two int64 arrays sorted by price, best
level last, so diffs (which mostly touch the top of the book) move few items and searches run over
contiguous memory. Otherwise, and for any book given a level beyond int64 (or not a pair of ints), each
side is a `PythonSide`: a dict plus a sorted key list, also best last. Both give the same results
(tests/unit/test_native.py); a book that moved to Python sides returns to C on `clear()`/`load()`.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tradestack import _native
from tradestack.domain.events import Level

if TYPE_CHECKING:
    from tradestack._native._speedups import BookSide


class OrderBook:
    """Aggregated price levels of one symbol; levels are (int price, int size), size 0 removes."""

    __slots__ = ("_asks", "_bids", "last_update_id", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids, self._asks = _new_sides()
        self.last_update_id = -1

    def clear(self) -> None:
        self._bids, self._asks = _new_sides()  # back to C sides if this book had moved to Python
        self.last_update_id = -1

    def load(self, bids: Iterable[Level], asks: Iterable[Level], update_id: int) -> None:
        """Replace the book with the levels of positive size (a repeated price: the last wins)."""
        self.clear()
        bids = bids if type(bids) is list else list(bids)
        asks = asks if type(asks) is list else list(asks)
        if not (self._bids.load(bids) and self._asks.load(asks)):
            self._to_python()
            self._bids.load(bids)
            self._asks.load(asks)
        self.last_update_id = update_id

    def apply(self, bids: Iterable[Level], asks: Iterable[Level], update_id: int) -> None:
        """Set each level of nonzero size, remove each of size 0, in order; then record the update id."""
        bids = bids if type(bids) is list else list(bids)
        asks = asks if type(asks) is list else list(asks)
        if not self._bids.apply(bids):  # refused, unchanged: a level C cannot hold
            self._to_python()
            self._bids.apply(bids)
        if not self._asks.apply(asks):
            self._to_python()
            self._asks.apply(asks)
        self.last_update_id = update_id

    def best_bid(self) -> Level | None:
        return self._bids.best()

    def best_ask(self) -> Level | None:
        return self._asks.best()

    def mid_x2(self) -> int | None:
        """Twice the mid price (stays an integer)."""
        bid = self._bids.best_price()
        ask = self._asks.best_price()
        if bid is None or ask is None:
            return None
        return bid + ask

    def is_crossed(self) -> bool:
        bid = self._bids.best_price()
        ask = self._asks.best_price()
        return bid is not None and ask is not None and bid >= ask

    def bids(self, depth: int | None = None) -> list[Level]:
        """Best first: highest price first; the best `depth` levels (all when None)."""
        return self._bids.top(depth)

    def asks(self, depth: int | None = None) -> list[Level]:
        """Best first: lowest price first; the best `depth` levels (all when None)."""
        return self._asks.top(depth)

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)

    def _to_python(self) -> None:
        """Move to Python sides (any int), keeping the levels."""
        if not isinstance(self._bids, PythonSide):
            self._bids = PythonSide.of(False, self._bids.top())
        if not isinstance(self._asks, PythonSide):
            self._asks = PythonSide.of(True, self._asks.top())


class PythonSide:
    """One side of a book in Python, the reference for `tradestack._native.BookSide`, for any int.

    `_levels` maps price -> size; `_keys` holds the same prices ascending with the best last: the
    price for bids, minus the price for asks (descending).
    """

    __slots__ = ("_keys", "_levels", "descending")

    def __init__(self, descending: bool) -> None:
        self.descending = descending
        self._levels: dict[int, int] = {}
        self._keys: list[int] = []

    @classmethod
    def of(cls, descending: bool, levels: list[Level]) -> PythonSide:
        """A side holding exactly `levels` (unlike `load`, which keeps positive sizes only)."""
        side = cls(descending)
        side._levels = dict(levels)
        side._keys = sorted([-price for price in side._levels] if descending else side._levels)
        return side

    def apply(self, levels: Iterable[Level]) -> bool:
        book = self._levels
        keys = self._keys
        if self.descending:
            for price, size in levels:
                if size:
                    if price not in book:
                        insort(keys, -price)
                    book[price] = size
                elif price in book:
                    del book[price]
                    del keys[bisect_left(keys, -price)]
        else:
            for price, size in levels:
                if size:
                    if price not in book:
                        insort(keys, price)
                    book[price] = size
                elif price in book:
                    del book[price]
                    del keys[bisect_left(keys, price)]
        return True

    def load(self, levels: Iterable[Level]) -> bool:
        self._levels = {price: size for price, size in levels if size > 0}
        self._keys = sorted([-price for price in self._levels] if self.descending else self._levels)
        return True

    def clear(self) -> None:
        self._levels.clear()
        self._keys.clear()

    def best(self) -> Level | None:
        if not self._keys:
            return None
        price = -self._keys[-1] if self.descending else self._keys[-1]
        return price, self._levels[price]

    def best_price(self) -> int | None:
        if not self._keys:
            return None
        return -self._keys[-1] if self.descending else self._keys[-1]

    def top(self, depth: int | None = None) -> list[Level]:
        keys = self._keys
        if depth is None:
            best_first = keys[::-1]
        elif depth >= 0:
            best_first = keys[: -depth - 1 : -1] if depth else []
        else:
            best_first = keys[::-1][:depth]
        levels = self._levels
        if self.descending:
            return [(-key, levels[-key]) for key in best_first]
        return [(key, levels[key]) for key in best_first]

    def __len__(self) -> int:
        return len(self._levels)


def _new_sides() -> tuple[BookSide | PythonSide, BookSide | PythonSide]:
    side = _native.book_side or PythonSide
    return side(False), side(True)
