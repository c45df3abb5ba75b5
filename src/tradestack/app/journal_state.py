"""Opening the journal for a venue account and restoring the engine from it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import structlog

from tradestack.domain.orders.manager import FILL_WINDOW
from tradestack.engine.core import Engine
from tradestack.store.sqlite import SqliteJournal

log = structlog.get_logger("tradestack.journal")

KILL_SWITCH = "kill_switch"
VENUE_ACCOUNT = "venue_account"
LEDGER_BASELINE = "ledger_baseline"
RISK_DAY = "risk_day"


def journal_path(data_dir: Path) -> Path:
    return data_dir / "journal.db"


def open_for_account(data_dir: Path, account: str) -> tuple[SqliteJournal, bool]:
    """The journal of this venue account; (journal, fresh).

    A journal written against another account (a simulated venue that started afresh) is archived,
    not mixed in; only the kill-switch latch carries over, because it belongs to the operator.
    """
    path = journal_path(data_dir)
    journal = SqliteJournal(path)
    meta = journal.load().meta
    recorded = meta.get(VENUE_ACCOUNT)
    if recorded == account:
        return journal, False
    if recorded is not None:
        latch = meta.get(KILL_SWITCH, "")
        journal.close()
        archive = data_dir / "archive"
        archive.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                source.rename(archive / f"journal-{recorded}-{stamp}.db{suffix}")
        log.warning("venue account changed; previous journal archived", previous=recorded, now=account)
        journal = SqliteJournal(path)
        if latch:
            journal.put_meta_sync(KILL_SWITCH, latch)
    journal.put_meta_sync(VENUE_ACCOUNT, account)
    return journal, True


def restore(engine: Engine, journal: SqliteJournal) -> None:
    """Orders, fills, ledger baseline, kill switch and the risk day from the journal into the engine."""
    state = journal.load(finished_limit=engine.orders.retain_finished, recent_fills=FILL_WINDOW)
    if state.snapshot is not None:  # positions and balances after every fill but `state.fills`
        engine.restore_snapshot(state.snapshot, state.seen_fills)
    else:
        baseline = json.loads(state.meta.get(LEDGER_BASELINE, "{}"))
        for asset, amount in baseline.items():
            engine.ledger.set_balance(asset, int(amount))
    for order in state.orders:
        engine.orders.track(order)
    for fill in state.fills:
        engine.restore_fill(fill)
    latch = state.meta.get(KILL_SWITCH, "")
    if latch:
        engine.risk.kill_switch.engage(latch)
    # orders sent in the last moments before a restart still count against the order rate
    engine.risk.restore_rate(
        [order.created_ns for order in state.orders], engine.clock.now_ns(), engine.clock.monotonic_ns()
    )
    if RISK_DAY in state.meta:
        day, start = state.meta[RISK_DAY].split(":")
        engine.risk.restore_day(int(day), int(start))


def set_baseline(journal: SqliteJournal, balances: dict[str, int]) -> None:
    journal.put_meta_sync(LEDGER_BASELINE, json.dumps({asset: str(v) for asset, v in balances.items()}))


def trade_floor_key(symbol: str) -> str:
    return f"trade_floor:{symbol}"
