"""Named crash points for the kill -9 battery (tests/reliability/crash_battery.py).

`TRADESTACK_CRASH_AT=after_send:3` makes the process SIGKILL itself the 3rd time the order path reaches
`after_send`; unset (always, outside the battery) nothing happens. The cost on the hot path when unarmed
is one module-attribute check at each point: `if crash_points.armed: crash_points.reached(...)`.

The points, in the order one order and its fill travel (see docs/reliability.md, "Kill -9"):

* `before_intent`  — the engine decided an order; its intent is not yet queued for the journal.
* `after_intent`   — the intent is durable (the point waits for the writer's commit), nothing sent.
* `after_send`     — the order request is written to the venue's socket; no answer yet.
* `after_ack`      — the venue's answer is here and not yet applied or queued for the journal.
* `after_fill`     — a fill is inserted in the writer's open transaction, before its COMMIT: the
                     engine has applied it in memory (and may have acted on it); the journal has not.
* `mid_checkpoint` — inside a WAL checkpoint (`PRAGMA wal_checkpoint(TRUNCATE)`): the writer thread
                     is in SQLite copying the WAL into the database file when the kill lands.

The journal's records are queued by the hot path and made durable by one writer thread (one fsync per
batch), so the order leaves without waiting for its intent's commit. `before_intent` and `after_intent`
pin the two durable states an unsent order can be in; at `after_send` and `after_ack` the intent may or
may not be durable yet (the race of the real sequence); the battery checks every case recovers.

Only this module, the journal's writer and the trader know these names. It lives in store/ because both
the journal (store) and the trader (app) reach it and the layers allow app -> store, not store -> app.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ENV = "TRADESTACK_CRASH_AT"
POINTS = ("before_intent", "after_intent", "after_send", "after_ack", "after_fill", "mid_checkpoint")
CHECKPOINT_EVERY = 8  # armed at mid_checkpoint: a checkpoint after every 8th commit of the writer

armed = False  # the one check on the hot path
_point = ""
_remaining = 0
_lock = threading.Lock()
_commits = 0
_checkpoint_s: list[float] = []
_missed = 0


class CrashSpecError(ValueError):
    """TRADESTACK_CRASH_AT is not `<point>:<n>` with a known point and n >= 1."""


def arm(spec: str | None) -> None:
    """Arm from `<point>:<n>` (die the n-th time `point` is reached); None or "" disarms."""
    global armed, _point, _remaining, _commits, _missed
    if not spec:
        armed, _point, _remaining = False, "", 0
        return
    point, _, count = spec.partition(":")
    if point not in POINTS or not count.isdigit() or int(count) < 1:
        raise CrashSpecError(f"{ENV}={spec!r}: want <point>:<n>, n >= 1, point one of {', '.join(POINTS)}")
    _point, _remaining, _commits, _missed = point, int(count), 0, 0
    _checkpoint_s.clear()
    armed = True


def reached(point: str, detail: str = "", before: Callable[[], object] | None = None) -> None:
    """Count a pass through `point`; on the armed pass run `before` (if any), then SIGKILL."""
    if not _take(point):
        return
    if before is not None:
        before()
    die(point, detail)


def _take(point: str) -> bool:
    global _remaining
    if point != _point:
        return False
    with _lock:
        _remaining -= 1
        return _remaining == 0


def die(point: str, detail: str = "") -> None:
    """Say where (stderr, for the battery), then SIGKILL this process: no handler, no flush, no atexit."""
    sys.stderr.write(f"CRASH_POINT {point} pid={os.getpid()} {detail}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(10)  # not reached: SIGKILL cannot be caught; never let the caller carry on meanwhile


def after_commit(db: sqlite3.Connection, path: Path) -> None:
    """The journal's writer, after each COMMIT while armed: at `mid_checkpoint`, checkpoint the WAL every
    CHECKPOINT_EVERY commits, and on the armed checkpoint SIGKILL from another thread while SQLite is
    inside it (a kill that would land after the checkpoint finished is held back and retried on the
    next checkpoint, so every kill counted here is one that landed inside)."""
    global _commits, _missed, _remaining
    if _point != "mid_checkpoint":
        return
    _commits += 1
    if _commits % CHECKPOINT_EVERY:
        return
    if not _take("mid_checkpoint"):
        started = time.perf_counter()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        _checkpoint_s.append(time.perf_counter() - started)
        return
    wal = Path(f"{path}-wal")
    typical = sorted(_checkpoint_s)[len(_checkpoint_s) // 2] if _checkpoint_s else 0.001
    delay = random.uniform(0.0, 0.9) * typical
    inside = threading.Event()
    done = threading.Event()

    def killer() -> None:
        inside.wait()
        time.sleep(delay)
        # the checkpoint TRUNCATEs the WAL to 0 bytes as its last step: a WAL with frames means the
        # checkpoint has not finished (checked here, not by a Python flag the writer may not have
        # cleared yet for want of the GIL)
        if not done.is_set() and wal.exists() and wal.stat().st_size > 0:
            die(
                "mid_checkpoint",
                f"wal_bytes={wal.stat().st_size} delay_us={delay * 1e6:.0f} missed={_missed}",
            )

    thread = threading.Thread(target=killer, name="crash-point-killer", daemon=True)
    thread.start()
    inside.set()
    started = time.perf_counter()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    done.set()
    thread.join()
    _checkpoint_s.append(time.perf_counter() - started)
    _missed += 1
    with _lock:
        _remaining = 1  # landed after it: try again at the next checkpoint
