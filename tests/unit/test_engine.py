"""The engine with the shipped market maker: quotes, fills, and the kill switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradestack.app.journal_state import restore
from tradestack.domain import positions_snapshot
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.client_ids import ClientOrderIds
from tradestack.domain.orders.manager import OrderManager
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import OrderStatus
from tradestack.domain.positions import ASSET_SCALE, Fill, Ledger, Position
from tradestack.domain.risk.engine import KillSwitch, RiskEngine
from tradestack.domain.risk.limits import RiskLimits, SymbolLimits
from tradestack.engine.commands import CancelAll, Submit
from tradestack.engine.core import Engine
from tradestack.ports import ManualClock
from tradestack.store.sqlite import SqliteJournal
from tradestack.strategies.market_maker import MarketMaker, MarketMakerParams

BTC = Instrument.from_steps("binance", "BTCUSDT", "BTC", "USDT", "0.01", "0.00001")


def make_engine(tmp_path: Path, loss_limit: str = "500") -> Engine:
    journal = SqliteJournal(tmp_path / "journal.db")
    ids = ClientOrderIds("t", block_size=10)
    ids.add_block(journal.reserve_block())
    limits = RiskLimits(
        per_symbol={"BTCUSDT": SymbolLimits(BTC.size("0.01"), BTC.size("0.05"))},
        max_order_notional=10_000 * 10**ASSET_SCALE,
        price_band_bps=100,
        max_orders_per_second=100,
        daily_loss_limit=int(loss_limit) * 10**ASSET_SCALE,
    )
    params = MarketMakerParams(
        half_spread_bps_e2=500,
        skew_bps_e2_at_max_inventory=1000,
        requote_threshold_bps_e2=200,
        order_size={"BTCUSDT": BTC.size("0.001")},
        max_inventory={"BTCUSDT": BTC.size("0.01")},
    )
    engine = Engine(
        {"BTCUSDT": BTC},
        MarketMaker(params),
        RiskEngine(limits, {"BTCUSDT": BTC}, KillSwitch()),
        OrderManager(ids),
        journal,
        ManualClock(),
    )
    engine.trading_enabled = True
    return engine


def book(bid: str, ask: str) -> OrderBook:
    result = OrderBook("BTCUSDT")
    result.load([(BTC.price(bid), 100)], [(BTC.price(ask), 100)], 1)
    return result


def test_quotes_both_sides_around_the_mid_once(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    commands = engine.on_book("BTCUSDT", book("50000.00", "50000.02"), synced=True)
    orders = [command.order for command in commands if isinstance(command, Submit)]
    assert sorted((o.side.value, BTC.price_text(o.price)) for o in orders) == [
        ("BUY", "49975.00"),  # 50000.01 - 5 bps, rounded away from the mid
        ("SELL", "50025.02"),
    ]
    # the same book again: quotes are close enough, nothing new is sent
    assert engine.on_book("BTCUSDT", book("50000.00", "50000.02"), synced=True) == []


def test_nothing_trades_on_a_book_that_is_resyncing(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    assert engine.on_book("BTCUSDT", book("50000.00", "50000.02"), synced=False) == []


def test_a_fill_moves_the_position_and_skews_the_quotes(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    commands = engine.on_book("BTCUSDT", book("50000.00", "50000.02"), synced=True)
    bid = next(c.order for c in commands if isinstance(c, Submit) and c.order.side is Side.BUY)
    fill = Fill("BTCUSDT", "1", bid.client_id, Side.BUY, bid.price, bid.size, 0, "USDT", 0)
    engine.on_report(OrderReport(bid.client_id, "BTCUSDT", OrderStatus.FILLED, 5, bid.size, fill, "", 0))
    assert engine.position("BTCUSDT") == BTC.size("0.001")
    # the same fill arriving again is not counted twice
    engine.on_report(OrderReport(bid.client_id, "BTCUSDT", OrderStatus.FILLED, 5, bid.size, fill, "", 0))
    assert engine.position("BTCUSDT") == BTC.size("0.001")
    new_bids = [
        c.order
        for c in engine.on_book("BTCUSDT", book("50000.00", "50000.02"), synced=True)
        if isinstance(c, Submit) and c.order.side is Side.BUY
    ]
    assert new_bids and new_bids[0].price < bid.price  # long inventory: bid lower


def test_breaching_the_loss_limit_latches_and_cancels_everything(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, loss_limit="1")
    commands = engine.on_book("BTCUSDT", book("50000.00", "50000.02"), synced=True)
    bid = next(c.order for c in commands if isinstance(c, Submit) and c.order.side is Side.BUY)
    size = bid.size
    fill = Fill("BTCUSDT", "1", bid.client_id, Side.BUY, bid.price, size, 0, "USDT", 0)
    engine.on_report(OrderReport(bid.client_id, "BTCUSDT", OrderStatus.FILLED, 5, size, fill, "", 0))
    crash = engine.on_book("BTCUSDT", book("48000.00", "48000.02"), synced=True)  # -2 USDT marked
    assert any(isinstance(c, CancelAll) for c in crash)
    assert engine.risk.kill_switch.engaged
    engine.journal.flush()
    assert engine.journal.load().meta["kill_switch"]
    # while latched the strategy cannot add risk: no new bid is sent
    later = engine.on_book("BTCUSDT", book("48000.00", "48000.02"), synced=True)
    assert not any(isinstance(c, Submit) and c.order.side is Side.BUY for c in later)


def trade(n: int) -> Fill:
    """Our n-th fill: buys and sells at moving prices, so average cost and realised PnL both move."""
    side = Side.BUY if n % 3 else Side.SELL
    price = BTC.price("50000") + n * 7
    return Fill("BTCUSDT", f"t{n}", "", side, price, BTC.size("0.001"), n * 10, "USDT", n)


def figures(engine: Engine) -> tuple[object, ...]:
    position = engine.positions["BTCUSDT"]
    return (position.size, position.cost, position.realized, position.fees, engine.ledger.balances)


def test_a_restart_replays_only_the_fills_after_the_last_positions_snapshot(tmp_path: Path) -> None:
    first = make_engine(tmp_path / "a")
    first.snapshot_every = 100
    for n in range(250):
        assert first.recover_fill(trade(n))
    first.journal.close()

    journal = SqliteJournal(tmp_path / "a" / "journal.db")
    state = journal.load(finished_limit=10, recent_fills=120)
    assert state.snapshot is not None
    assert [fill.trade_id for fill in state.fills] == [f"t{n}" for n in range(200, 250)]  # after it
    assert len(state.seen_fills) == 120  # the snapshot's last fills, to know them when they come again
    journal.close()

    again = make_engine(tmp_path / "a")
    restore(again, again.journal)
    assert figures(again) == figures(first)
    assert not again.recover_fill(trade(249)) and not again.recover_fill(trade(150))  # seen, not reapplied
    assert again.recover_fill(trade(250))

    again.journal.flush()
    # the same figures as replaying every fill from the start (what a restart did before snapshots)
    everything = make_engine(tmp_path / "b")
    for fill in SqliteJournal(tmp_path / "a" / "journal.db").load().fills:
        everything.restore_fill(fill)
    assert figures(everything)[:4] == figures(again)[:4]


def test_a_snapshot_with_a_position_in_a_symbol_no_longer_traded_is_refused(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    eth = Instrument.from_steps("binance", "ETHUSDT", "ETH", "USDT", "0.01", "0.0001")
    held = {"ETHUSDT": Position(eth, size=5, cost=10)}
    with pytest.raises(ValueError, match="ETHUSDT, which this config no longer trades"):
        positions_snapshot.restore(positions_snapshot.encode(held, Ledger()), engine.positions, engine.ledger)
