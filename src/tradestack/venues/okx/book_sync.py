"""OKX v5 `books` local order book: snapshot + updates, seqId continuity and CRC32 checksum. Pure.

One `OkxBookSync` per instrument. OKX pushes the snapshot itself after a subscribe, so a resync means
"unsubscribe and subscribe that instrument again" (the session's job, when `needs_snapshot`).

Rules, as OKX documents them:
- A snapshot (prevSeqId -1) replaces the book. Updates before the first snapshot are dropped (SKIP).
- An update applies only if its prevSeqId equals the seqId of the message before it; otherwise
  messages were missed: GAP, the book is discarded and waits for a new snapshot. The keep-alive
  "no change" update (empty sides, seqId == prevSeqId == the last seqId) passes this rule and changes
  nothing. A sequence reset after maintenance (seqId < prevSeqId) is still continuous by this rule.
- Recordings from before OKX added seqId (cryptofeed's OKCOIN) carry none: continuity is then
  proven by the checksum alone.
- After each snapshot or update, a non-zero `checksum` must equal the signed CRC32 of the top 25
  levels (see checksum.py), over the exact strings received. A mismatch, or a crossed book,
  discards the book (resync). A zero checksum is not verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.book.sequencer import Decision
from tradestack.venues.okx.checksum import DEPTH, TextLevel, checksum
from tradestack.venues.okx.messages import BookLevel, OkxBookUpdate


class SyncState(Enum):
    WAITING_SNAPSHOT = "waiting_snapshot"
    SYNCED = "synced"
    RESYNCING = "resyncing"


@dataclass(slots=True)
class SyncCounters:
    snapshots_applied: int = 0
    events_applied: int = 0  # updates applied (snapshots not included)
    no_change: int = 0  # keep-alive updates with nothing in them
    skipped: int = 0  # updates while waiting for a snapshot
    gaps: int = 0  # prevSeqId broke the chain
    crossed: int = 0
    checksum_ok: int = 0
    checksum_failed: int = 0
    checksum_absent: int = 0  # checksum 0: not verified
    resyncs: int = 0  # times a synced book was discarded


class OkxBookSync:
    """The local book of one OKX instrument, with the exact strings the checksum needs."""

    __slots__ = ("_ask_text", "_bid_text", "book", "counters", "last_seq_id", "state", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.book = OrderBook(symbol)
        self.state = SyncState.WAITING_SNAPSHOT
        self.counters = SyncCounters()
        self.last_seq_id: int | None = None
        self._bid_text: dict[int, TextLevel] = {}
        self._ask_text: dict[int, TextLevel] = {}

    @property
    def needs_snapshot(self) -> bool:
        return self.state is not SyncState.SYNCED

    def on_message(self, message: OkxBookUpdate) -> Decision:
        """APPLY: the book changed (or was confirmed). SKIP: not synced yet. GAP: discarded, resync."""
        if message.snapshot:
            return self._snapshot(message)
        if self.state is not SyncState.SYNCED:
            self.counters.skipped += 1
            return Decision.SKIP
        if message.prev_seq_id is not None and message.prev_seq_id != self.last_seq_id:
            self.counters.gaps += 1
            self._discard()
            return Decision.GAP
        if not message.bids and not message.asks:
            self.counters.no_change += 1
        self._apply(message.bids, self._bid_text)
        self._apply(message.asks, self._ask_text)
        self.book.apply(
            [(price, size) for price, size, _, _ in message.bids],
            [(price, size) for price, size, _, _ in message.asks],
            message.seq_id if message.seq_id is not None else self.book.last_update_id + 1,
        )
        self.last_seq_id = message.seq_id
        self.counters.events_applied += 1
        return self._verify(message)

    def _snapshot(self, message: OkxBookUpdate) -> Decision:
        if self.state is SyncState.SYNCED:
            self.counters.resyncs += 1  # a fresh snapshot replaces a live book (resubscribe)
        self._bid_text = {}
        self._ask_text = {}
        self._apply(message.bids, self._bid_text)
        self._apply(message.asks, self._ask_text)
        self.book.load(
            [(price, size) for price, size, _, _ in message.bids],
            [(price, size) for price, size, _, _ in message.asks],
            message.seq_id if message.seq_id is not None else 0,
        )
        self.last_seq_id = message.seq_id
        self.state = SyncState.SYNCED
        self.counters.snapshots_applied += 1
        return self._verify(message)

    def _verify(self, message: OkxBookUpdate) -> Decision:
        if self.book.is_crossed():
            self.counters.crossed += 1
            self._discard()
            return Decision.GAP
        if message.checksum == 0:
            self.counters.checksum_absent += 1
            return Decision.APPLY
        if self.checksum() == message.checksum:
            self.counters.checksum_ok += 1
            return Decision.APPLY
        self.counters.checksum_failed += 1
        self._discard()
        return Decision.GAP

    def checksum(self) -> int:
        """The signed CRC32 of our book's top 25 levels, over the strings OKX sent."""
        bid_text = self._bid_text
        ask_text = self._ask_text
        bids = [bid_text[price] for price, _ in self.book.bids(DEPTH)]
        asks = [ask_text[price] for price, _ in self.book.asks(DEPTH)]
        return checksum(bids, asks)

    def restart(self) -> None:
        """Forget the book and wait for a new snapshot (after a reconnect, say)."""
        if self.state is SyncState.SYNCED:
            self.counters.resyncs += 1
            self.state = SyncState.RESYNCING
        self._clear()

    def _discard(self) -> None:
        self.counters.resyncs += 1
        self.state = SyncState.RESYNCING
        self._clear()

    def _clear(self) -> None:
        self.book.clear()
        self._bid_text = {}
        self._ask_text = {}
        self.last_seq_id = None

    @staticmethod
    def _apply(levels: list[BookLevel], texts: dict[int, TextLevel]) -> None:
        for price, size, price_text, size_text in levels:
            if size:
                texts[price] = (price_text, size_text)
            else:
                texts.pop(price, None)
