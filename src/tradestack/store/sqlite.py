"""The SQLite journal: WAL, synchronous=FULL, one writer thread that batches behind the hot path."""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from tradestack.domain.events import Side
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.domain.positions import Fill
from tradestack.ports import JournalState
from tradestack.store import crash_points

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    client_id TEXT PRIMARY KEY, symbol TEXT NOT NULL, side TEXT NOT NULL, price INTEGER NOT NULL,
    size INTEGER NOT NULL, status TEXT NOT NULL, venue_order_id INTEGER, filled INTEGER NOT NULL,
    created_ns INTEGER NOT NULL, reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
    symbol TEXT NOT NULL, trade_id TEXT NOT NULL, client_id TEXT NOT NULL, side TEXT NOT NULL,
    price INTEGER NOT NULL, size INTEGER NOT NULL, fee INTEGER NOT NULL, fee_asset TEXT NOT NULL,
    ts_event INTEGER NOT NULL, PRIMARY KEY (symbol, trade_id)
);
"""

_Op = Callable[[sqlite3.Connection], Any]
# Writes append and reads happen at start-up only, so a small page cache costs nothing and caps the
# memory SQLite takes early: the cache fills as the file grows (2 MiB per connection by default, full
# after the first half hour of trading). 40,000 journaled fills take the same time with 128 KiB as
# with 512 KiB or 2 MiB (1.07 s, 1.09 s, 1.13 s; 64 KiB: 1.24 s), and hold 160 KiB of SQLite memory.
CACHE_KIB = 128
SNAPSHOT = "positions_snapshot"  # meta: {"upto": the last fills rowid it includes, "state": ...}


class JournalDurabilityError(RuntimeError):
    """The database would not give the durability the journal promises."""


class SqliteJournal:
    def __init__(self, path: Path, batch_max: int = 512) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        mode = self._db.execute("PRAGMA journal_mode").fetchone()[0]
        sync = self._db.execute("PRAGMA synchronous").fetchone()[0]
        if str(mode).lower() != "wal" or int(sync) != 2:
            raise JournalDurabilityError(
                f"{path}: journal_mode={mode} synchronous={sync}; need WAL and FULL (2). "
                "Put the data directory on a local filesystem that supports WAL."
            )
        self._db.executescript(_SCHEMA)
        self._queue: queue.SimpleQueue[tuple[_Op, Future[Any] | None] | None] = queue.SimpleQueue()
        self._batch_max = batch_max
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._write_loop, name="journal-writer", daemon=True)
        self._thread.start()

    # -- reads (start-up only) ------------------------------------------------------------------
    def load(self, finished_limit: int | None = None, recent_fills: int | None = None) -> JournalState:
        """Everything, or with `finished_limit` every live order but only that many of the most
        recent finished ones, and with `recent_fills` and a positions snapshot only the fills after
        the snapshot, plus that many of each symbol's last fills before it to remember as seen:
        a long-lived journal then restarts in bounded time and memory."""
        final = tuple(status.value for status in OrderStatus if not status.is_live)
        marks = ", ".join("?" * len(final))
        order_args: tuple[object, ...] = ()
        if finished_limit is None:
            order_query = "SELECT * FROM orders ORDER BY created_ns, client_id"
        else:
            order_query = (
                f"SELECT * FROM orders WHERE status NOT IN ({marks}) UNION ALL "
                f"SELECT * FROM (SELECT * FROM orders WHERE status IN ({marks}) "
                "ORDER BY created_ns DESC LIMIT ?) ORDER BY created_ns, client_id"
            )
            order_args = (*final, *final, finished_limit)

        def read(db: sqlite3.Connection) -> JournalState:
            orders = [
                Order(
                    client_id=row[0],
                    symbol=row[1],
                    side=Side(row[2]),
                    price=row[3],
                    size=row[4],
                    status=OrderStatus(row[5]),
                    venue_order_id=row[6],
                    filled=row[7],
                    created_ns=row[8],
                    reason=row[9],
                )
                for row in db.execute(order_query, order_args)
            ]
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if recent_fills is None or SNAPSHOT not in meta:
                fills = _fills(db.execute("SELECT * FROM fills ORDER BY ts_event, trade_id"))
                return JournalState(orders, fills, meta)
            snapshot = json.loads(meta[SNAPSHOT])
            upto = int(snapshot["upto"])
            fills = _fills(
                db.execute("SELECT * FROM fills WHERE rowid > ? ORDER BY ts_event, trade_id", (upto,))
            )
            seen: list[Fill] = []
            symbols = [row[0] for row in db.execute("SELECT DISTINCT symbol FROM fills")]
            for symbol in symbols:
                rows = db.execute(
                    "SELECT * FROM (SELECT rowid, * FROM fills WHERE symbol = ? AND rowid <= ? "
                    "ORDER BY rowid DESC LIMIT ?) ORDER BY ts_event, trade_id",
                    (symbol, upto, recent_fills),
                )
                seen.extend(_fills(row[1:] for row in rows))
            return JournalState(orders, fills, meta, tuple(seen), str(snapshot["state"]))

        result: JournalState = self._call(read)
        return result

    # -- durable, waited for ----------------------------------------------------------------------
    def reserve_block(self) -> int:
        result: int = self._call(_reserve)
        return result

    def reserve_block_later(self, on_reserved: Callable[[int], None]) -> None:
        # the callback runs only after the commit, once the block is durable
        future: Future[int] = Future()
        future.add_done_callback(lambda done: on_reserved(done.result()))
        self._queue.put((_reserve, future))

    def put_meta_sync(self, key: str, value: str) -> None:
        self._call(lambda db: _put_meta(db, key, value))

    # -- behind the hot path ------------------------------------------------------------------------
    def record_order(self, order: Order) -> None:
        row = (
            order.client_id,
            order.symbol,
            order.side.value,
            order.price,
            order.size,
            order.status.value,
            order.venue_order_id,
            order.filled,
            order.created_ns,
            order.reason,
        )
        if crash_points.armed and order.status is OrderStatus.PENDING_NEW:  # the kill -9 battery only
            crash_points.reached("before_intent", order.client_id)
        self._queue.put(
            (lambda db: db.execute("INSERT OR REPLACE INTO orders VALUES (?,?,?,?,?,?,?,?,?,?)", row), None)
        )

    def record_fill(self, fill: Fill) -> None:
        row = (
            fill.symbol,
            fill.trade_id,
            fill.client_id,
            fill.side.value,
            fill.price,
            fill.size,
            fill.fee,
            fill.fee_asset,
            fill.ts_event,
        )
        self._queue.put((lambda db: _insert_fill(db, row), None))

    def put_meta(self, key: str, value: str) -> None:
        self._queue.put((lambda db: _put_meta(db, key, value), None))

    def record_snapshot(self, state: str) -> None:
        # the writer takes ops in order, so every fill recorded before this call is in the table
        # when it runs: the snapshot covers exactly the rows up to the highest rowid then
        def write(db: sqlite3.Connection) -> None:
            upto = db.execute("SELECT coalesce(max(rowid), 0) FROM fills").fetchone()[0]
            _put_meta(db, SNAPSHOT, json.dumps({"upto": upto, "state": state}, separators=(",", ":")))

        self._queue.put((write, None))

    @property
    def queue_depth(self) -> int:
        """Writes waiting for the writer thread (approximate, for the queue-depth gauge)."""
        return self._queue.qsize()

    def flush(self) -> None:
        """Wait until everything queued so far is durable."""
        self._call(lambda db: None)

    def close(self) -> None:
        if self._thread.is_alive():
            self.flush()
            self._queue.put(None)
            self._thread.join(timeout=10)
        self._db.close()

    # -- the writer ---------------------------------------------------------------------------------
    def _call(self, op: _Op) -> Any:
        if self._failed is not None:
            raise JournalDurabilityError("journal writer failed") from self._failed
        future: Future[Any] = Future()
        self._queue.put((op, future))
        return future.result(timeout=30)

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self._batch_max:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            results: list[tuple[Future[Any], Any]] = []
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for op, future in batch:
                    value = op(self._db)
                    if future is not None:
                        results.append((future, value))
                self._db.execute("COMMIT")  # one fsync for the whole batch
                if crash_points.armed:  # the kill -9 battery: kill inside a WAL checkpoint
                    crash_points.after_commit(self._db, self.path)
            except BaseException as error:  # surfaced to every waiter; the process must not trade on
                self._failed = error
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                for _, future in batch:
                    if future is not None and not future.done():
                        future.set_exception(error)
                return
            for future, value in results:
                future.set_result(value)


def _fills(rows: Iterable[Sequence[Any]]) -> list[Fill]:
    return [
        Fill(
            symbol=row[0],
            trade_id=str(row[1]),  # journals before ids were text: INTEGER
            client_id=row[2],
            side=Side(row[3]),
            price=row[4],
            size=row[5],
            fee=row[6],
            fee_asset=row[7],
            ts_event=row[8],
        )
        for row in rows
    ]


def _insert_fill(db: sqlite3.Connection, row: tuple[object, ...]) -> None:
    db.execute("INSERT OR IGNORE INTO fills VALUES (?,?,?,?,?,?,?,?,?)", row)
    if crash_points.armed:  # the kill -9 battery: the fill is in the open transaction, not committed
        crash_points.reached("after_fill", f"{row[0]}:{row[1]}")


def _reserve(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = 'next_block'").fetchone()
    block = int(row[0]) if row else 1
    _put_meta(db, "next_block", str(block + 1))
    return block


def _put_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
