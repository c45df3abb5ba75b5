"""The firm risk service's durable state: the kill-switch latch and the day's PnL baselines.

Small and rare writes (a trip, a new shard or a new day), each committed before the answer that depends
on it leaves the service: WAL and synchronous=FULL, like the trading journal.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from tradestack.store.sqlite import JournalDurabilityError

FILE_NAME = "firm-risk.db"
_KILL = "kill_switch"
_DAY = "day"


@dataclass(frozen=True, slots=True)
class FirmRiskState:
    kill_reason: str = ""
    day: int = -1
    day_start: dict[tuple[str, str], int] = field(default_factory=dict)


class RiskStateStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        mode = self._db.execute("PRAGMA journal_mode").fetchone()[0]
        sync = self._db.execute("PRAGMA synchronous").fetchone()[0]
        if str(mode).lower() != "wal" or int(sync) != 2:
            raise JournalDurabilityError(
                f"{path}: journal_mode={mode} synchronous={sync}; need WAL and FULL (2). "
                "Put the data directory on a local filesystem that supports WAL."
            )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def load(self) -> FirmRiskState:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        day, day_start = -1, {}
        if _DAY in meta:
            saved = json.loads(meta[_DAY])
            day = int(saved["day"])
            day_start = {(shard, quote): int(value) for shard, quote, value in saved["start"]}
        return FirmRiskState(meta.get(_KILL, ""), day, day_start)

    def save_kill(self, reason: str) -> None:
        self._put(_KILL, reason)

    def save_day(self, day: int, day_start: dict[tuple[str, str], int]) -> None:
        start = [[shard, quote, value] for (shard, quote), value in sorted(day_start.items())]
        self._put(_DAY, json.dumps({"day": day, "start": start}))

    def _put(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        self._db.close()
