"""Client ids, the order state machine and the order manager."""

from __future__ import annotations

import random
import uuid

import pytest

from tradestack.domain.events import Side
from tradestack.domain.orders.client_ids import VALID_ID, ClientOrderIds, IdsExhausted, block_of
from tradestack.domain.orders.manager import OrderManager
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import Fill, TradeFloor


def manager_with_block(block: int = 7) -> OrderManager:
    ids = ClientOrderIds("ts1", block_size=4)
    ids.add_block(block)
    return OrderManager(ids)


def test_ids_come_from_reserved_blocks_and_never_repeat() -> None:
    ids = ClientOrderIds("ts1", block_size=3)
    ids.add_block(5)
    ids.add_block(9)
    issued = [ids.next_id() for _ in range(6)]
    assert issued == ["ts1-5-0", "ts1-5-1", "ts1-5-2", "ts1-9-0", "ts1-9-1", "ts1-9-2"]
    assert all(VALID_ID.match(client_id) for client_id in issued)
    assert block_of("ts1-9-2") == 9
    with pytest.raises(IdsExhausted):
        ids.next_id()


def test_final_states_never_move_and_late_new_is_ignored() -> None:
    order = Order("ts1-1-0", "BTCUSDT", Side.BUY, 100, 5)
    assert order.transition(OrderStatus.FILLED)
    assert not order.transition(OrderStatus.NEW)  # a late NEW after the fill changes nothing
    assert order.status is OrderStatus.FILLED


def test_unknown_resolves_to_whatever_the_venue_says() -> None:
    order = Order("ts1-1-0", "BTCUSDT", Side.BUY, 100, 5, status=OrderStatus.UNKNOWN)
    assert order.status.is_live  # might be resting: counts against exposure
    assert order.transition(OrderStatus.NEW)


def fill(trade_id: int | str, client_id: str, size: int = 2, ts: int = 1, symbol: str = "BTCUSDT") -> Fill:
    return Fill(symbol, str(trade_id), client_id, Side.BUY, 100, size, 0, "USDT", ts)


def test_each_venue_trade_is_applied_once() -> None:
    orders = manager_with_block()
    order = orders.create("BTCUSDT", Side.BUY, 100, 5, now_ns=1, mono_ns=1)
    report = OrderReport(
        order.client_id, "BTCUSDT", OrderStatus.PARTIALLY_FILLED, 42, 2, fill(1, order.client_id), "", 1
    )
    assert orders.apply(report).new_fill is not None
    assert orders.apply(report).new_fill is None  # the same trade delivered twice
    assert order.filled == 2
    assert orders.exposure("BTCUSDT", position=2).open_buy == 3


def test_final_report_removes_the_order_from_live() -> None:
    orders = manager_with_block()
    order = orders.create("BTCUSDT", Side.SELL, 100, 5, now_ns=1, mono_ns=1)
    orders.apply(OrderReport(order.client_id, "BTCUSDT", OrderStatus.CANCELED, 42, 0, None, "", 1))
    assert list(orders.live("BTCUSDT")) == []
    assert orders.exposure("BTCUSDT", 0).open_sell == 0


def test_finished_orders_beyond_the_retention_leave_memory_live_ones_never() -> None:
    ids = ClientOrderIds("ts1", block_size=1_000)
    ids.add_block(1)
    manager = OrderManager(ids, retain_finished=3)
    resting = manager.create("BTCUSDT", Side.BUY, 100, 1, 0, 0)
    done = []
    for n in range(10):
        order = manager.create("BTCUSDT", Side.SELL, 200 + n, 1, 0, 0)
        manager.set_status(order, OrderStatus.CANCELED)
        done.append(order.client_id)
    assert set(manager.orders) == {resting.client_id, *done[-3:]}  # the 3 most recent finished
    assert manager.created == 11 and manager.orders_by_symbol == {"BTCUSDT": 11}
    # a late report for a forgotten order still reaches positions through its fill
    late = OrderReport(done[0], "BTCUSDT", OrderStatus.FILLED, None, 1, fill(77, done[0], 1), "", 0)
    assert manager.apply(late).new_fill is not None


def test_the_fill_window_bounds_memory_and_still_applies_each_fill_once() -> None:
    manager = OrderManager(ClientOrderIds("ts1"), fill_window=100)
    # Bybit-style ids: opaque strings in no order; the window moves on by venue time
    trades = [fill(str(uuid.UUID(int=random.Random(i).getrandbits(128))), "", ts=i) for i in range(1_000)]
    assert all(manager.first_sight(trade) for trade in trades)
    assert len(manager.seen_fills()) <= 100
    assert all(not manager.first_sight(trade) for trade in trades)
    assert manager.first_sight(fill("a-new-one", "", ts=1_000))
    assert manager.first_sight(fill("a-new-one", "", ts=3, symbol="ETHUSDT"))  # each symbol its own window
    assert manager.fills_by_symbol == {"BTCUSDT": 1_001, "ETHUSDT": 1}


def test_recovery_starts_at_the_oldest_recent_fill_so_a_hole_under_the_newest_is_refetched() -> None:
    manager = OrderManager(ClientOrderIds("ts1"))
    assert manager.recovery_start("BTCUSDT") is None
    for trade_id, ts in ((120, 1_200), (101, 1_010), (99, 990)):  # journaled out of order; 100 was lost
        manager.first_sight(fill(trade_id, "", ts=ts))
    start = manager.recovery_start("BTCUSDT")
    assert start is not None and start.trade_id == "99"  # refetch from 99: 100 comes back, the rest dedupe
    assert manager.first_sight(fill(100, "", ts=1_000)) and not manager.first_sight(fill(101, "", ts=1_010))


def test_a_fresh_journal_skips_the_trades_already_in_its_starting_balances() -> None:
    before = [fill("k1", "", ts=5), fill("k2", "", ts=9), fill("k3", "", ts=9)]
    floor = TradeFloor.of(before)
    assert floor is not None and TradeFloor.decode(floor.encode()) == floor
    assert all(floor.covers(trade) for trade in before)
    assert not floor.covers(fill("k4", "", ts=9))  # same millisecond, not in the balances yet
    assert not floor.covers(fill("k0", "", ts=10))
    legacy = TradeFloor.decode("41")  # journals written while trade ids were integers
    assert (
        legacy.covers(fill(41, "")) and not legacy.covers(fill(42, "")) and not legacy.covers(fill("x", ""))
    )


def test_memory_stays_flat_however_many_orders_and_fills_go_through() -> None:
    import tracemalloc

    ids = ClientOrderIds("ts1", block_size=100_000)
    ids.add_block(1)
    manager = OrderManager(ids, retain_finished=1_000, fill_window=2_000)

    def trade(orders: int, start: int) -> None:
        for n in range(start, start + orders):
            order = manager.create("BTCUSDT", Side.BUY, 100, 2, n, n)
            manager.set_status(order, OrderStatus.NEW)
            report = OrderReport(
                order.client_id, "BTCUSDT", OrderStatus.FILLED, n, 2, fill(n, order.client_id), "", n
            )
            manager.apply(report)

    tracemalloc.start()  # before the warm-up, so what it made and later frees is counted both ways
    trade(5_000, 0)  # past both bounds: the steady state
    before = tracemalloc.take_snapshot()
    trade(20_000, 5_000)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 200_000, f"{grown} bytes more after 20,000 more orders and fills"  # vs ~14 MB unbounded
    assert len(manager.orders) == 1_000 and manager.created == 25_000
