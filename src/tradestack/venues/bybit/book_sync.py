"""Bybit `orderbook.<depth>` local order book: snapshot + deltas with `u` continuity. Pure.

One `BybitBookSync` per symbol. Bybit pushes the snapshot itself after a subscribe, so a resync means
"unsubscribe and subscribe that symbol again" (the session's job, when `needs_snapshot`).

Rules, as Bybit documents them for v5:
- A snapshot replaces the book, whatever came before; Bybit sends one after a subscribe and after a
  service restart, when `u` starts again at 1 (counted in `restarts`). Deltas before the first
  snapshot are dropped (SKIP).
- A delta applies only if its `u` is the previous message's `u` + 1; otherwise messages were missed:
  GAP, the book is discarded and waits for a new snapshot. Size 0 removes a level.
- A crossed book after any message is discarded the same way.
- `seq` (the matching engine's cross sequence) is recorded (`last_seq`), not a continuity rule: it
  is shared across symbols and jumps.
- v2 recordings (no `u`): deltas must carry a strictly greater `cross_seq` than the message before
  (the only order v2 gives); one that does not is a GAP.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.book.sequencer import Decision
from tradestack.venues.bybit.messages import BybitBookUpdate


class SyncState(Enum):
    WAITING_SNAPSHOT = "waiting_snapshot"
    SYNCED = "synced"
    RESYNCING = "resyncing"


@dataclass(slots=True)
class SyncCounters:
    snapshots_applied: int = 0
    events_applied: int = 0  # deltas applied (snapshots not included)
    skipped: int = 0  # deltas while waiting for a snapshot
    gaps: int = 0  # `u` (v2: cross_seq) broke the chain
    crossed: int = 0
    restarts: int = 0  # snapshots with u == 1: Bybit's service restarted
    resyncs: int = 0  # times a synced book was discarded or replaced


class BybitBookSync:
    """The local book of one Bybit symbol."""

    __slots__ = ("book", "counters", "last_seq", "last_update_id", "state", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.book = OrderBook(symbol)
        self.state = SyncState.WAITING_SNAPSHOT
        self.counters = SyncCounters()
        self.last_update_id: int | None = None
        self.last_seq: int | None = None

    @property
    def needs_snapshot(self) -> bool:
        return self.state is not SyncState.SYNCED

    def on_message(self, message: BybitBookUpdate) -> Decision:
        """APPLY: the book changed. SKIP: not synced yet. GAP: discarded, resubscribe."""
        if message.symbol != self.symbol:
            raise ValueError(f"{message.symbol} pushed to {self.symbol}'s book")
        if message.snapshot:
            return self._snapshot(message)
        if self.state is not SyncState.SYNCED:
            self.counters.skipped += 1
            return Decision.SKIP
        if not self._continues(message):
            self.counters.gaps += 1
            self._discard()
            return Decision.GAP
        self.book.apply(message.bids, message.asks, self._book_id(message))
        self.last_update_id = message.update_id
        self.last_seq = message.seq
        self.counters.events_applied += 1
        return self._verify()

    def _continues(self, message: BybitBookUpdate) -> bool:
        if message.update_id is not None:
            return self.last_update_id is not None and message.update_id == self.last_update_id + 1
        # v2: no `u`; cross_seq must move forward
        return message.seq is not None and (self.last_seq is None or message.seq > self.last_seq)

    def _snapshot(self, message: BybitBookUpdate) -> Decision:
        if self.state is SyncState.SYNCED:
            self.counters.resyncs += 1  # a fresh snapshot replaces a live book
        if message.update_id == 1:
            self.counters.restarts += 1
        self.book.load(message.bids, message.asks, self._book_id(message))
        self.last_update_id = message.update_id
        self.last_seq = message.seq
        self.state = SyncState.SYNCED
        self.counters.snapshots_applied += 1
        return self._verify()

    @staticmethod
    def _book_id(message: BybitBookUpdate) -> int:
        if message.update_id is not None:
            return message.update_id
        return message.seq if message.seq is not None else 0

    def _verify(self) -> Decision:
        if self.book.is_crossed():
            self.counters.crossed += 1
            self._discard()
            return Decision.GAP
        return Decision.APPLY

    def restart(self) -> None:
        """Forget the book and wait for a new snapshot (after a reconnect, say)."""
        self._discard()

    def _discard(self) -> None:
        if self.state is SyncState.SYNCED:
            self.counters.resyncs += 1
        self.state = SyncState.RESYNCING
        self.book.clear()
        self.last_update_id = None
        self.last_seq = None
