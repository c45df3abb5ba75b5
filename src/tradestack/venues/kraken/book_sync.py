"""Kraken WS v2 `book` local order book: snapshot + updates, truncated to depth, CRC32-checked. Pure.

One `KrakenBookSync` per pair, created with the depth subscribed (10, 25, 100, 500 or 1000). Kraken v2
has no sequence numbers: integrity rests on the checksum, as Kraken documents:
- a snapshot replaces the book; updates before the first snapshot are dropped (SKIP);
- an update applies its levels in order (qty 0 removes), then the book is truncated to the subscribed
  depth (levels pushed out of range are not deleted by Kraken explicitly);
- every message's `checksum` (CRC32 of the top 10 asks then the top 10 bids, see checksum.py) must
  equal ours; a mismatch or a crossed book discards the book: resubscribe for a new snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.book.sequencer import Decision
from tradestack.venues.kraken.checksum import DEPTH, checksum_of_units
from tradestack.venues.kraken.messages import KrakenBookUpdate

SUBSCRIBABLE_DEPTHS = (10, 25, 100, 500, 1000)


class SyncState(Enum):
    WAITING_SNAPSHOT = "waiting_snapshot"
    SYNCED = "synced"
    RESYNCING = "resyncing"


@dataclass(slots=True)
class SyncCounters:
    snapshots_applied: int = 0
    events_applied: int = 0
    skipped: int = 0
    gaps: int = 0  # always 0: v2 book has no sequence numbers (mismatches count as checksum_failed)
    crossed: int = 0
    checksum_ok: int = 0
    checksum_failed: int = 0
    checksum_absent: int = 0
    resyncs: int = 0


class KrakenBookSync:
    """The local book of one Kraken pair at the subscribed depth."""

    __slots__ = ("_updates", "book", "counters", "depth", "state", "symbol")

    def __init__(self, symbol: str, depth: int = DEPTH) -> None:
        if depth not in SUBSCRIBABLE_DEPTHS:
            raise ValueError(f"Kraken book depth {depth}: one of {SUBSCRIBABLE_DEPTHS}")
        self.symbol = symbol
        self.depth = depth
        self.book = OrderBook(symbol)
        self.state = SyncState.WAITING_SNAPSHOT
        self.counters = SyncCounters()
        self._updates = 0

    @property
    def needs_snapshot(self) -> bool:
        return self.state is not SyncState.SYNCED

    def on_message(self, message: KrakenBookUpdate) -> Decision:
        """APPLY: the book changed and (when sent) the checksum matched. SKIP: not synced yet.
        GAP: checksum mismatch or crossed book; the book is discarded and needs a new snapshot."""
        self._updates += 1
        if message.snapshot:
            self.book.load(message.bids, message.asks, self._updates)
            self.state = SyncState.SYNCED
            self.counters.snapshots_applied += 1
        elif self.state is not SyncState.SYNCED:
            self.counters.skipped += 1
            return Decision.SKIP
        else:
            self.book.apply(message.bids, message.asks, self._updates)
            self.counters.events_applied += 1
        self._truncate()
        if self.book.is_crossed():
            self.counters.crossed += 1
            self._discard()
            return Decision.GAP
        if message.checksum is None:
            self.counters.checksum_absent += 1
            return Decision.APPLY
        if self.checksum() == message.checksum:
            self.counters.checksum_ok += 1
            return Decision.APPLY
        self.counters.checksum_failed += 1
        self._discard()
        return Decision.GAP

    def checksum(self) -> int:
        return checksum_of_units(self.book.asks(DEPTH), self.book.bids(DEPTH))

    def restart(self) -> None:
        if self.state is SyncState.SYNCED:
            self.counters.resyncs += 1
            self.state = SyncState.RESYNCING
        self.book.clear()

    def _truncate(self) -> None:
        book = self.book
        depth = self.depth
        bids = book.bids()
        asks = book.asks()
        if len(bids) > depth or len(asks) > depth:
            book.apply(
                [(price, 0) for price, _ in bids[depth:]],
                [(price, 0) for price, _ in asks[depth:]],
                book.last_update_id,
            )

    def _discard(self) -> None:
        self.counters.resyncs += 1
        self.state = SyncState.RESYNCING
        self.book.clear()
