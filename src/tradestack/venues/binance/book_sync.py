"""Binance local order book: diff stream + REST snapshot, per Binance's documented procedure. Pure.

One `BinanceBookSync` per symbol. The WebSocket session calls `on_delta` for every depth event;
whenever `needs_snapshot` is true it fetches REST depth (spot `/api/v3/depth?symbol=X&limit=1000`,
USD-M `/fapi/v1/depth`) and calls `on_snapshot`. Events that arrive meanwhile are buffered here.

Spot (`SequenceRules.SPOT`), after loading a snapshot with `lastUpdateId` L:
  drop buffered events with u <= L; the first event applied must bracket L+1 (U <= L+1 <= u); then
  an event with u <= the book's update id is stale (SKIP), one with U > update id + 1 means events
  were missed (GAP), anything else applies (normally U == previous u + 1; Binance's procedure also
  applies an overlapping event, harmless as depth quantities are absolute).
USD-M / COIN-M futures (`SequenceRules.FUTURES`):
  drop buffered events with u < L; the first event applied must have U <= L <= u; then each event's
  `pu` must equal the previous event's u (GAP otherwise); u <= update id is stale (SKIP).
If the first event that should follow the snapshot starts after it (spot U > L+1, futures U > L),
the snapshot is too old: it is not used and another is needed. A GAP, or a book left crossed by an
update, discards the book (state RESYNCING, `needs_snapshot`) and buffering starts again with the
event that revealed it. Strategies and risk must not use a book whose `state` is not SYNCED.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.book.sequencer import Decision
from tradestack.domain.events import BestBidAsk, BookDelta, BookSnapshot

DEFAULT_MAX_BUFFERED = 10_000  # depth events held while a snapshot is fetched (~17 min of 100ms diffs)


class SequenceRules(Enum):
    SPOT = "spot"  # U/u continuity
    FUTURES = "futures"  # USD-M and COIN-M: the `pu` chain


class SyncState(Enum):
    WAITING_SNAPSHOT = "waiting_snapshot"  # never synced yet
    SYNCED = "synced"
    RESYNCING = "resyncing"  # was synced, lost continuity, waiting for a new snapshot


class SnapshotOutcome(Enum):
    SYNCED = "synced"  # loaded, buffered events applied: the book is live
    TOO_OLD = "too_old"  # the buffered stream starts after it: fetch another (needs_snapshot stays true)
    GAP = "gap"  # loaded, but the buffered events themselves skip some: fetch another
    IGNORED = "ignored"  # no snapshot was needed (already synced)


@dataclass(slots=True)
class SyncCounters:
    events_applied: int = 0
    skipped: int = 0  # stale: already in the snapshot or an earlier event
    buffered: int = 0  # held while waiting for a snapshot
    buffer_overflows: int = 0  # buffered events dropped, oldest first, from a full buffer
    gaps: int = 0  # continuity broken (events missed)
    crossed: int = 0  # an update left best bid >= best ask
    resyncs: int = 0  # times a synced book was discarded for a new snapshot (gap, crossed, restart)
    snapshots_applied: int = 0
    snapshots_too_old: int = 0


class BinanceBookSync:
    """The local book of one symbol, kept in step with Binance's depth stream."""

    __slots__ = ("_awaiting_first", "_buffer", "book", "counters", "rules", "state", "symbol")

    def __init__(
        self,
        symbol: str,
        rules: SequenceRules = SequenceRules.SPOT,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
    ) -> None:
        self.symbol = symbol
        self.rules = rules
        self.book = OrderBook(symbol)
        self.state = SyncState.WAITING_SNAPSHOT
        self.counters = SyncCounters()
        self._buffer: deque[BookDelta] = deque(maxlen=max_buffered)
        self._awaiting_first = False  # a snapshot is loaded and no event has followed it yet

    @property
    def needs_snapshot(self) -> bool:
        """True until a usable snapshot has been given: the I/O layer should fetch one."""
        return self.state is not SyncState.SYNCED

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # -- the stream ---------------------------------------------------------------------------------

    def on_delta(self, delta: BookDelta) -> Decision:
        """APPLY: the book changed. SKIP: stale, or buffered while waiting for a snapshot.
        GAP: continuity broke; the book is discarded and `needs_snapshot` is now true."""
        if self.state is not SyncState.SYNCED:
            self._hold(delta)
            return Decision.SKIP
        book = self.book
        current = book.last_update_id
        if self._awaiting_first:
            decision = self._decide_first(delta, current)
        elif delta.final_update_id <= current:
            decision = Decision.SKIP
        elif self.rules is SequenceRules.SPOT:
            decision = Decision.GAP if delta.first_update_id > current + 1 else Decision.APPLY
        else:
            decision = Decision.APPLY if delta.prev_final_update_id == current else Decision.GAP

        if decision is Decision.APPLY:
            book.apply(delta.bids, delta.asks, delta.final_update_id)
            self._awaiting_first = False
            self.counters.events_applied += 1
            if book.is_crossed():
                self.counters.crossed += 1
                self._discard(None)
                return Decision.GAP
        elif decision is Decision.SKIP:
            self.counters.skipped += 1
        else:
            self.counters.gaps += 1
            self._discard(delta)
        return decision

    def on_snapshot(self, snapshot: BookSnapshot) -> SnapshotOutcome:
        """Load a REST snapshot and replay the buffered events on top of it."""
        if self.state is SyncState.SYNCED:
            return SnapshotOutcome.IGNORED
        buffer = self._buffer
        last_update_id = snapshot.last_update_id
        # drop what the snapshot already covers (futures keep u == L: it may be the first to apply)
        if self.rules is SequenceRules.SPOT:
            while buffer and buffer[0].final_update_id <= last_update_id:
                buffer.popleft()
                self.counters.skipped += 1
        else:
            while buffer and buffer[0].final_update_id < last_update_id:
                buffer.popleft()
                self.counters.skipped += 1
        if buffer and self._starts_after(buffer[0], last_update_id):
            self.counters.snapshots_too_old += 1
            return SnapshotOutcome.TOO_OLD
        self.book.load(snapshot.bids, snapshot.asks, last_update_id)
        self.counters.snapshots_applied += 1
        self.state = SyncState.SYNCED
        self._awaiting_first = True
        if self.book.is_crossed():
            self.counters.crossed += 1
            self._discard(None)
            return SnapshotOutcome.GAP
        pending = list(buffer)
        buffer.clear()
        for index, delta in enumerate(pending):
            if self.on_delta(delta) is Decision.GAP:
                # the buffered stream itself has a hole: keep what follows for the next snapshot
                buffer.extend(pending[index + 1 :])
                return SnapshotOutcome.GAP
        return SnapshotOutcome.SYNCED

    def restart(self) -> None:
        """Forget the book and the buffer, and wait for a new snapshot (after a reconnect, say)."""
        if self.state is SyncState.SYNCED:
            self.counters.resyncs += 1
            self.state = SyncState.RESYNCING
        self.book.clear()
        self._buffer.clear()
        self._awaiting_first = False

    # -- the venue's own top of book ----------------------------------------------------------------

    def check_ticker(self, ticker: BestBidAsk) -> bool | None:
        """None unless synced at exactly the ticker's update id; else whether best bid and best ask
        (price and size) equal the ticker's."""
        book = self.book
        if self.state is not SyncState.SYNCED or ticker.update_id != book.last_update_id:
            return None
        return book.best_bid() == (ticker.bid_price, ticker.bid_size) and book.best_ask() == (
            ticker.ask_price,
            ticker.ask_size,
        )

    # -- rules --------------------------------------------------------------------------------------

    def _decide_first(self, delta: BookDelta, snapshot_id: int) -> Decision:
        """The first event after a snapshot must bracket it (spot: L+1, futures: L)."""
        if self.rules is SequenceRules.SPOT:
            if delta.final_update_id <= snapshot_id:
                return Decision.SKIP
        elif delta.final_update_id < snapshot_id:
            return Decision.SKIP
        return Decision.GAP if self._starts_after(delta, snapshot_id) else Decision.APPLY

    def _starts_after(self, delta: BookDelta, last_update_id: int) -> bool:
        """Whether events between `last_update_id` and `delta` are missing (the bracket rule fails)."""
        if self.rules is SequenceRules.SPOT:
            return delta.first_update_id > last_update_id + 1
        return delta.first_update_id > last_update_id

    def _hold(self, delta: BookDelta) -> None:
        buffer = self._buffer
        if len(buffer) == buffer.maxlen:
            self.counters.buffer_overflows += 1
        buffer.append(delta)
        self.counters.buffered += 1

    def _discard(self, revealing: BookDelta | None) -> None:
        """Drop the book; wait for a snapshot, buffering from the event that showed the problem."""
        self.counters.resyncs += 1
        self.state = SyncState.RESYNCING
        self.book.clear()
        self._buffer.clear()
        self._awaiting_first = False
        if revealing is not None:
            self._hold(revealing)


class TickerCrossCheck:
    """Holds bookTickers until the book reaches their update id, then compares (`check_ticker`).

    A ticker usually arrives before the depth event that ends at its update id; one whose id the
    book passes without stopping on (it fell inside an event's range) is counted `unmatched`.
    """

    __slots__ = ("_pending", "_sync", "failed", "last_failure", "max_pending", "ok", "unmatched")

    def __init__(self, sync: BinanceBookSync, max_pending: int = 1024) -> None:
        self._sync = sync
        self._pending: deque[BestBidAsk] = deque()
        self.max_pending = max_pending
        self.ok = 0
        self.failed = 0
        self.unmatched = 0
        self.last_failure: BestBidAsk | None = None

    def on_ticker(self, ticker: BestBidAsk) -> None:
        sync = self._sync
        current = sync.book.last_update_id
        if sync.state is SyncState.SYNCED and ticker.update_id <= current:
            self._settle(ticker, current)
            return
        if len(self._pending) >= self.max_pending:
            self._pending.popleft()
            self.unmatched += 1
        self._pending.append(ticker)

    def on_book_update(self) -> None:
        """Call after the book changed (an APPLY, or a snapshot that synced it)."""
        sync = self._sync
        if sync.state is not SyncState.SYNCED:
            return
        current = sync.book.last_update_id
        pending = self._pending
        while pending and pending[0].update_id <= current:
            self._settle(pending.popleft(), current)

    def _settle(self, ticker: BestBidAsk, current: int) -> None:
        if ticker.update_id != current:
            self.unmatched += 1  # the book went past this id without stopping on it
        elif self._sync.check_ticker(ticker):
            self.ok += 1
        else:
            self.failed += 1
            self.last_failure = ticker
