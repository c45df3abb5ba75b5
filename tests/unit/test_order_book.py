"""OrderBook: examples, and a property: after any updates it equals a plain dict reference model."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Level


class ReferenceBook:
    """The obvious model: one dict per side, sorted on every read."""

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}

    def load(self, bids: list[Level], asks: list[Level]) -> None:
        self.bids = {price: size for price, size in bids if size > 0}
        self.asks = {price: size for price, size in asks if size > 0}

    def apply(self, bids: list[Level], asks: list[Level]) -> None:
        for side, updates in ((self.bids, bids), (self.asks, asks)):
            for price, size in updates:
                if size:
                    side[price] = size
                else:
                    side.pop(price, None)

    def top_bids(self, depth: int | None = None) -> list[Level]:
        return sorted(self.bids.items(), reverse=True)[:depth]

    def top_asks(self, depth: int | None = None) -> list[Level]:
        return sorted(self.asks.items())[:depth]


def assert_same(book: OrderBook, reference: ReferenceBook) -> None:
    bids, asks = reference.top_bids(), reference.top_asks()
    assert book.bids() == bids
    assert book.asks() == asks
    assert book.best_bid() == (bids[0] if bids else None)
    assert book.best_ask() == (asks[0] if asks else None)
    assert len(book) == len(bids) + len(asks)
    assert book.is_crossed() == bool(bids and asks and bids[0][0] >= asks[0][0])
    assert book.mid_x2() == (bids[0][0] + asks[0][0] if bids and asks else None)
    for depth in (0, 1, 3, 10):
        assert book.bids(depth) == reference.top_bids(depth)
        assert book.asks(depth) == reference.top_asks(depth)


# Few distinct prices so updates collide; size 0 (a delete) is frequent, as in real diffs.
prices = st.integers(min_value=1, max_value=40)
sizes = st.one_of(st.just(0), st.integers(min_value=1, max_value=10**12))
levels = st.lists(st.tuples(prices, sizes), max_size=12)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("apply"), levels, levels),
        st.tuples(st.just("load"), levels, levels),
        st.tuples(st.just("clear"), st.just([]), st.just([])),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(operations=operations)
def test_book_equals_a_dict_model_after_any_updates(
    operations: list[tuple[str, list[Level], list[Level]]],
) -> None:
    book = OrderBook("TEST")
    reference = ReferenceBook()
    for update_id, (operation, bids, asks) in enumerate(operations, 1):
        if operation == "apply":
            book.apply(bids, asks, update_id)
            reference.apply(bids, asks)
            assert book.last_update_id == update_id
        elif operation == "load":
            book.load(bids, asks, update_id)
            reference.load(bids, asks)
        else:
            book.clear()
            reference.load([], [])
            assert book.last_update_id == -1
        assert_same(book, reference)


def test_best_levels_and_top_n() -> None:
    book = OrderBook("BTCUSDT")
    book.load(bids=[(100, 5), (99, 1), (98, 0)], asks=[(101, 2), (103, 7)], update_id=10)
    assert book.best_bid() == (100, 5)
    assert book.best_ask() == (101, 2)
    assert book.bids(1) == [(100, 5)]
    assert book.asks() == [(101, 2), (103, 7)]
    assert len(book) == 4  # the zero-size level was never loaded
    assert book.last_update_id == 10

    book.apply(bids=[(100, 0), (99, 3)], asks=[(102, 1)], update_id=11)
    assert book.best_bid() == (99, 3)
    assert book.best_ask() == (101, 2)
    assert book.asks(2) == [(101, 2), (102, 1)]


def test_removing_an_absent_level_is_harmless() -> None:
    book = OrderBook("BTCUSDT")
    book.apply(bids=[(100, 0)], asks=[(101, 0)], update_id=1)
    assert len(book) == 0
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.mid_x2() is None


def test_crossed_book_is_reported() -> None:
    book = OrderBook("BTCUSDT")
    book.load(bids=[(100, 1)], asks=[(101, 1)], update_id=1)
    assert not book.is_crossed()
    book.apply(bids=[(101, 1)], asks=[], update_id=2)
    assert book.is_crossed()
