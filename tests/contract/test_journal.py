"""The SQLite journal on a real file: durability settings, id blocks, records across a reopen."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from tradestack.domain.events import Side
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import Fill
from tradestack.store.sqlite import SqliteJournal


def test_runs_in_wal_with_full_sync(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "journal.db")
    journal.close()
    db = sqlite3.connect(tmp_path / "journal.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_blocks_are_never_handed_out_twice_across_restarts(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "journal.db")
    first = [journal.reserve_block(), journal.reserve_block()]
    journal.close()
    journal = SqliteJournal(tmp_path / "journal.db")
    later = journal.reserve_block()
    journal.close()
    assert first == [1, 2] and later == 3


def test_reserve_later_calls_back_after_commit(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "journal.db")
    got: list[int] = []
    done = threading.Event()
    journal.reserve_block_later(lambda block: (got.append(block), done.set()))
    assert done.wait(5)
    journal.close()
    assert got == [1]
    assert SqliteJournal(tmp_path / "journal.db").load().meta["next_block"] == "2"


def test_orders_fills_and_meta_survive_a_reopen(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "journal.db")
    order = Order("ts1-1-0", "BTCUSDT", Side.BUY, 100, 5, created_ns=3)
    journal.record_order(order)
    order.status = OrderStatus.FILLED
    order.filled = 5
    journal.record_order(order)  # an upsert: the latest state wins
    fill = Fill("BTCUSDT", 77, "ts1-1-0", Side.BUY, 100, 5, 0, "USDT", 9)
    journal.record_fill(fill)
    journal.record_fill(fill)  # exactly once, even if recorded twice
    journal.put_meta_sync("kill_switch", "daily loss")
    journal.close()

    state = SqliteJournal(tmp_path / "journal.db").load()
    assert [(o.client_id, o.status, o.filled) for o in state.orders] == [("ts1-1-0", OrderStatus.FILLED, 5)]
    assert state.fills == [fill]
    assert state.meta["kill_switch"] == "daily loss"
