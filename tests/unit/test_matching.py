"""The price-time priority matching engine: examples, and properties against a naive reference model."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side
from tradestack.domain.matching import (
    MatchingEngine,
    OrderStatus,
    RejectReason,
    SubmitResult,
    TimeInForce,
)

BUY, SELL = Side.BUY, Side.SELL


def test_resting_then_partial_then_full_fill() -> None:
    engine = MatchingEngine("BTCUSDT")
    ask = engine.submit_limit(SELL, 101, 10)
    assert ask.status is OrderStatus.NEW
    assert ask.resting == 10
    assert ask.trades == ()
    assert ask.book_update is not None
    assert ask.book_update.asks == ((101, 10),)

    partial = engine.submit_limit(BUY, 101, 4, TimeInForce.IOC)
    assert partial.status is OrderStatus.FILLED
    (trade,) = partial.trades
    assert (trade.price, trade.size, trade.maker_order_id, trade.taker_order_id) == (101, 4, ask.order_id, 2)
    assert trade.maker_remaining == 6
    assert not trade.buyer_is_maker
    assert engine.best_ask() == (101, 6)

    rest = engine.submit_limit(BUY, 102, 10)
    assert rest.status is OrderStatus.PARTIALLY_FILLED
    assert (rest.filled, rest.resting, rest.canceled) == (6, 4, 0)
    assert rest.trades[0].price == 101  # the maker's price, not the taker's
    assert rest.trades[0].trade_id == trade.trade_id + 1
    assert engine.best_bid() == (102, 4)
    assert engine.best_ask() is None
    assert rest.book_update is not None
    assert rest.book_update.asks == ((101, 0),)
    assert rest.book_update.bids == ((102, 4),)


def test_time_priority_within_a_level_and_price_priority_across_levels() -> None:
    engine = MatchingEngine("X")
    first = engine.submit_limit(SELL, 100, 3).order_id
    second = engine.submit_limit(SELL, 100, 3).order_id
    better = engine.submit_limit(SELL, 99, 1).order_id
    taker = engine.submit_market(BUY, 5)
    assert [(t.maker_order_id, t.price, t.size) for t in taker.trades] == [
        (better, 99, 1),
        (first, 100, 3),
        (second, 100, 1),
    ]


def test_ioc_and_market_expire_their_remainder() -> None:
    engine = MatchingEngine("X")
    engine.submit_limit(BUY, 100, 2)
    ioc = engine.submit_limit(SELL, 99, 5, TimeInForce.IOC)
    assert (ioc.status, ioc.filled, ioc.canceled, ioc.resting) == (OrderStatus.EXPIRED, 2, 3, 0)
    market = engine.submit_market(SELL, 1)
    assert market.status is OrderStatus.EXPIRED
    assert market.trades == ()
    assert market.book_update is None
    assert market.order_id is not None


def test_fok_fills_entirely_or_not_at_all() -> None:
    engine = MatchingEngine("X")
    engine.submit_limit(SELL, 100, 2)
    engine.submit_limit(SELL, 101, 2)
    kill = engine.submit_limit(BUY, 100, 3, TimeInForce.FOK)
    assert kill.status is OrderStatus.EXPIRED
    assert kill.trades == ()
    assert kill.canceled == 3
    fill = engine.submit_limit(BUY, 101, 3, TimeInForce.FOK)
    assert fill.status is OrderStatus.FILLED
    assert [t.size for t in fill.trades] == [2, 1]


def test_post_only_is_rejected_when_it_would_cross() -> None:
    engine = MatchingEngine("X")
    engine.submit_limit(SELL, 100, 1)
    before = engine.update_id
    rejected = engine.submit_limit(BUY, 100, 1, post_only=True)
    assert not rejected.accepted
    assert rejected.reject_reason is RejectReason.WOULD_CROSS
    assert rejected.status is OrderStatus.REJECTED
    assert rejected.canceled == 1
    assert engine.update_id == before
    maker = engine.submit_limit(BUY, 99, 1, post_only=True)
    assert maker.accepted
    assert maker.status is OrderStatus.NEW


def test_cancel_and_query() -> None:
    engine = MatchingEngine("X", first_order_id=1000)
    order_id = engine.submit_limit(BUY, 100, 5).order_id
    assert order_id == 1000
    resting = engine.order(order_id)
    assert resting is not None
    assert resting.remaining == 5
    result = engine.cancel(order_id)
    assert result.found
    assert result.canceled == 5
    assert result.book_update is not None
    assert result.book_update.bids == ((100, 0),)
    assert engine.order(order_id) is None
    again = engine.cancel(order_id)
    assert not again.found
    assert again.book_update is None


def test_invalid_orders_are_rejected_without_an_id() -> None:
    engine = MatchingEngine("X")
    assert engine.submit_limit(BUY, 100, 0).reject_reason is RejectReason.INVALID_SIZE
    assert engine.submit_limit(BUY, 0, 1).reject_reason is RejectReason.INVALID_PRICE
    assert engine.submit_market(BUY, -1).reject_reason is RejectReason.INVALID_SIZE
    assert engine.submit_limit(BUY, 100, 1).order_id == 1


# ---- properties against a naive reference ----------------------------------------------------------------


@dataclass
class _RefOrder:
    order_id: int
    side: Side
    price: int
    remaining: int
    sequence: int


@dataclass
class _Reference:
    """Obviously-correct and slow: a flat list sorted on every match."""

    orders: list[_RefOrder] = field(default_factory=list)
    sequence: int = 0

    def match(self, side: Side, limit: int | None, size: int) -> list[tuple[int, int, int]]:
        makers = [o for o in self.orders if o.side is side.opposite]
        if side is BUY:
            makers.sort(key=lambda o: (o.price, o.sequence))
        else:
            makers.sort(key=lambda o: (-o.price, o.sequence))
        fills = []
        for maker in makers:
            if not size:
                break
            if limit is not None and (maker.price > limit if side is BUY else maker.price < limit):
                break
            quantity = min(size, maker.remaining)
            maker.remaining -= quantity
            size -= quantity
            fills.append((maker.order_id, maker.price, quantity))
        self.orders = [o for o in self.orders if o.remaining]
        return fills

    def rest(self, order_id: int, side: Side, price: int, size: int) -> None:
        self.sequence += 1
        self.orders.append(_RefOrder(order_id, side, price, size, self.sequence))

    def available(self, side: Side, limit: int) -> int:
        return sum(
            o.remaining
            for o in self.orders
            if o.side is side.opposite and (o.price <= limit if side is BUY else o.price >= limit)
        )

    def crosses(self, side: Side, price: int) -> bool:
        return self.available(side, price) > 0


sides = st.sampled_from([BUY, SELL])
operation = st.one_of(
    st.tuples(
        st.just("limit"), sides, st.integers(95, 105), st.integers(1, 12), st.sampled_from(TimeInForce)
    ),
    st.tuples(st.just("maker"), sides, st.integers(95, 105), st.integers(1, 12), st.just(TimeInForce.GTC)),
    st.tuples(st.just("market"), sides, st.just(0), st.integers(1, 30), st.just(TimeInForce.IOC)),
    st.tuples(st.just("cancel"), sides, st.integers(0, 200), st.just(0), st.just(TimeInForce.GTC)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(operation, max_size=80))
def test_engine_matches_reference_and_keeps_its_invariants(
    operations: list[tuple[str, Side, int, int, TimeInForce]],
) -> None:
    engine = MatchingEngine("X")
    reference = _Reference()
    mirror = OrderBook("X")  # an L2 book rebuilt only from the engine's BookUpdates
    sizes: dict[int, int] = {}
    filled: dict[int, int] = {}
    canceled: dict[int, int] = {}
    accepted: list[int] = []
    last_trade_id = 0

    for kind, side, price, size, tif in operations:
        before = engine.update_id
        if kind == "cancel":
            if not accepted:
                continue
            order_id = accepted[price % len(accepted)]
            result = engine.cancel(order_id)
            ref = next((o for o in reference.orders if o.order_id == order_id), None)
            assert result.found == (ref is not None)
            if ref is not None:
                assert result.canceled == ref.remaining
                reference.orders.remove(ref)
                canceled[order_id] = canceled.get(order_id, 0) + result.canceled
            update = result.book_update
        else:
            submit: SubmitResult
            if kind == "market":
                submit = engine.submit_market(side, size)
                expected = reference.match(side, None, size)
            elif kind == "maker" and reference.crosses(side, price):
                submit = engine.submit_limit(side, price, size, post_only=True)
                assert submit.reject_reason is RejectReason.WOULD_CROSS
                expected = []
            elif tif is TimeInForce.FOK and reference.available(side, price) < size:
                submit = engine.submit_limit(side, price, size, tif)
                expected = []
            else:
                submit = engine.submit_limit(side, price, size, tif, post_only=kind == "maker")
                expected = reference.match(side, price, size)
            # price-time priority: exactly the reference's fills, in order
            assert [(t.maker_order_id, t.price, t.size) for t in submit.trades] == expected
            assert submit.filled + submit.resting + submit.canceled == size
            for trade in submit.trades:
                assert trade.trade_id == last_trade_id + 1
                last_trade_id = trade.trade_id
                filled[trade.maker_order_id] = filled.get(trade.maker_order_id, 0) + trade.size
            if submit.order_id is not None:
                order_id = submit.order_id
                sizes[order_id] = size
                accepted.append(order_id)
                filled[order_id] = filled.get(order_id, 0) + submit.filled
                canceled[order_id] = canceled.get(order_id, 0) + submit.canceled
                if submit.resting:
                    assert submit.price is not None
                    reference.rest(order_id, side, submit.price, submit.resting)
            update = submit.book_update

        # update ids: one per change of the aggregated book, consecutive
        if update is None:
            assert engine.update_id == before
        else:
            assert update.update_id == before + 1 == engine.update_id
            mirror.apply(update.bids, update.asks, update.update_id)

        # no crossed book at rest
        best_bid, best_ask = engine.best_bid(), engine.best_ask()
        if best_bid is not None and best_ask is not None:
            assert best_bid[0] < best_ask[0]
        # the L2 view is the aggregation of the resting orders, and the stream of updates rebuilds it
        resting = engine.orders()
        for book_side, levels in ((BUY, engine.bids()), (SELL, engine.asks())):
            aggregated: dict[int, int] = {}
            for order in resting:
                if order.side is book_side:
                    aggregated[order.price] = aggregated.get(order.price, 0) + order.remaining
            assert dict(levels) == aggregated
        assert mirror.bids() == engine.bids()
        assert mirror.asks() == engine.asks()
        assert sorted((o.order_id, o.remaining) for o in resting) == sorted(
            (o.order_id, o.remaining) for o in reference.orders
        )

    # conservation of size, per order over its whole life
    on_book = {order.order_id: order.remaining for order in engine.orders()}
    for order_id, size in sizes.items():
        assert filled.get(order_id, 0) + on_book.get(order_id, 0) + canceled.get(order_id, 0) == size
