"""The SQLite journal on a real file: durability settings (refused unless WAL + synchronous=FULL), id
blocks, records across a reopen, and a torn last commit dropped while every acknowledged one survives."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from tradestack.domain.events import Side
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import Fill
from tradestack.store.sqlite import JournalDurabilityError, SqliteJournal


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
    fill = Fill("BTCUSDT", "77", "ts1-1-0", Side.BUY, 100, 5, 0, "USDT", 9)
    journal.record_fill(fill)
    journal.record_fill(fill)  # exactly once, even if recorded twice
    journal.put_meta_sync("kill_switch", "daily loss")
    journal.close()

    state = SqliteJournal(tmp_path / "journal.db").load()
    assert [(o.client_id, o.status, o.filled) for o in state.orders] == [("ts1-1-0", OrderStatus.FILLED, 5)]
    assert state.fills == [fill]
    assert state.meta["kill_switch"] == "daily loss"


def test_trade_ids_are_venue_text_and_older_integer_journals_still_load(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    old = sqlite3.connect(path)  # the fills table as journals wrote it while trade ids were integers
    old.execute(
        "CREATE TABLE fills (symbol TEXT NOT NULL, trade_id INTEGER NOT NULL, client_id TEXT NOT NULL, "
        "side TEXT NOT NULL, price INTEGER NOT NULL, size INTEGER NOT NULL, fee INTEGER NOT NULL, "
        "fee_asset TEXT NOT NULL, ts_event INTEGER NOT NULL, PRIMARY KEY (symbol, trade_id))"
    )
    old.execute("INSERT INTO fills VALUES ('BTCUSDT', 41, 'ts1-1-0', 'BUY', 100, 5, 0, 'USDT', 1)")
    old.commit()
    old.close()
    journal = SqliteJournal(path)
    bybit = Fill(
        "BTCUSDT", "a8ea3e6a-7a79-5ac5-9bf8-3ed9b5a1ff09", "ts1-1-1", Side.SELL, 101, 5, 0, "USDT", 2
    )
    journal.record_fill(bybit)
    journal.record_fill(Fill("BTCUSDT", "41", "ts1-1-0", Side.BUY, 100, 5, 0, "USDT", 1))  # already there
    journal.close()
    fills = SqliteJournal(path).load().fills
    assert [fill.trade_id for fill in fills] == ["41", bybit.trade_id]


def test_refuses_to_run_without_wal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an in-memory database cannot be put in WAL mode (it stays "memory"): the journal must refuse it
    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *args, **kwargs: real_connect(":memory:", **kwargs))
    with pytest.raises(JournalDurabilityError, match="journal_mode=memory"):
        SqliteJournal(tmp_path / "journal.db")


def test_refuses_to_run_without_full_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Downgraded(sqlite3.Connection):  # a build or a wrapper that quietly keeps synchronous=NORMAL
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            return super().execute(sql.replace("synchronous=FULL", "synchronous=NORMAL"), *args)

    real_connect = sqlite3.connect
    monkeypatch.setattr(
        sqlite3, "connect", lambda *args, **kwargs: real_connect(*args, factory=Downgraded, **kwargs)
    )
    with pytest.raises(JournalDurabilityError, match="synchronous=1"):
        SqliteJournal(tmp_path / "journal.db")


def _crash_image(journal: SqliteJournal, into: Path) -> Path:
    """The files on disk as a kill -9 would leave them: database and WAL, no checkpoint, no close."""
    into.mkdir()
    for suffix in ("", "-wal"):
        shutil.copyfile(f"{journal.path}{suffix}", into / f"journal.db{suffix}")
    return into / "journal.db"


def _two_commits(tmp_path: Path) -> tuple[SqliteJournal, Fill, Fill]:
    journal = SqliteJournal(tmp_path / "live" / "journal.db")
    acknowledged = Fill("BTCUSDT", "1", "ts1-1-0", Side.BUY, 100, 5, 0, "USDT", 1)
    journal.record_fill(acknowledged)
    journal.flush()  # committed and fsynced: acknowledged
    last = Fill("BTCUSDT", "2", "ts1-1-1", Side.SELL, 101, 5, 0, "USDT", 2)
    journal.record_fill(last)
    journal.flush()
    return journal, acknowledged, last


@pytest.mark.parametrize("tear", ["truncated", "corrupted"])
def test_a_torn_last_record_is_dropped_never_an_acknowledged_one(tmp_path: Path, tear: str) -> None:
    journal, acknowledged, last = _two_commits(tmp_path)
    image = _crash_image(journal, tmp_path / "crashed")
    journal.close()
    wal = Path(f"{image}-wal")
    page_size = sqlite3.connect(image).execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(wal.read_bytes())
    assert len(data) > 32 + 2 * (24 + page_size)  # frames are in the WAL, not checkpointed
    if tear == "truncated":  # the last frame (the last commit's) only half written
        data = data[: len(data) - page_size // 2]
    else:  # written in full, but not what was meant: its checksum no longer matches
        data[-page_size // 2] ^= 0xFF
    wal.write_bytes(bytes(data))

    recovered = SqliteJournal(image)
    try:
        state = recovered.load()
        assert acknowledged in state.fills  # every commit before the torn one survives
        assert last not in state.fills  # the torn commit is dropped whole, not half applied
        assert recovered.reserve_block() == 1  # and the journal writes on from there
        assert recovered._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        recovered.close()


def test_an_untorn_image_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    journal, acknowledged, last = _two_commits(tmp_path)
    image = _crash_image(journal, tmp_path / "crashed")
    journal.close()
    recovered = SqliteJournal(image)
    try:
        assert [acknowledged, last] == recovered.load().fills
    finally:
        recovered.close()


def test_a_bounded_load_keeps_every_live_order_and_only_the_latest_finished(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "journal.db")
    try:
        for n in range(10):
            status = OrderStatus.NEW if n in (0, 5) else OrderStatus.CANCELED
            journal.record_order(
                Order(f"ts1-1-{n}", "BTCUSDT", Side.BUY, 100, 1, status=status, created_ns=n)
            )
        journal.flush()
        loaded = journal.load(finished_limit=3)
        assert [order.client_id for order in loaded.orders] == [
            "ts1-1-0",
            "ts1-1-5",
            "ts1-1-7",
            "ts1-1-8",
            "ts1-1-9",
        ]
        assert len(journal.load().orders) == 10
    finally:
        journal.close()
