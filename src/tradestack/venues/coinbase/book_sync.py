"""Coinbase Exchange level2 local order book, trade continuity, and the ticker cross-check. Pure.

One `CoinbaseBookSync` per product. Coinbase sends the `snapshot` itself after a subscribe, so a
resync means "unsubscribe and subscribe that product again" (the session's job, when `needs_snapshot`).

Rules:
- A `snapshot` replaces the book. `l2update`s before the first snapshot are dropped (SKIP). Each
  change is the new absolute size at that price; size 0 removes the level.
- level2 messages carry no sequence number, so a lost `l2update` cannot be seen directly. What can:
  * a crossed book after any message (GAP: the book is discarded, resync);
  * the `matches` channel: `trade_id` is contiguous per product (`last_match`, sent on subscribe,
    gives the start). A missing trade id means the connection lost messages: GAP, resync that
    product's book as well. A trade id at or below the last one (a replay after resubscribing) is
    counted `stale_trades` and changes nothing;
  * `sequence` (the product's full-feed sequence, on `ticker`, `match`, `last_match`) may skip
    (other full-feed messages lie between) but never goes back within a channel: a regression is
    GAP too. The `ticker` channel's trade ids may skip (Coinbase batches cascading matches), so
    only `matches` trade ids are held to contiguity.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.book.sequencer import Decision
from tradestack.venues.coinbase.messages import CoinbaseBestBidAsk, CoinbaseBookUpdate, CoinbaseTradePrint


class SyncState(Enum):
    WAITING_SNAPSHOT = "waiting_snapshot"
    SYNCED = "synced"
    RESYNCING = "resyncing"


@dataclass(slots=True)
class SyncCounters:
    snapshots_applied: int = 0
    events_applied: int = 0  # l2updates applied (snapshots not included)
    skipped: int = 0  # l2updates while waiting for a snapshot
    gaps: int = 0  # every detected break: trade id gaps, sequence regressions, crossed books
    trade_gaps: int = 0
    sequence_regressions: int = 0
    crossed: int = 0
    stale_trades: int = 0
    resyncs: int = 0  # times a synced book was discarded


class CoinbaseBookSync:
    """The local level2 book of one Coinbase product, with the feed's detectable continuity."""

    __slots__ = (
        "_last_sequence",
        "book",
        "counters",
        "last_time",
        "last_trade_id",
        "state",
        "symbol",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.book = OrderBook(symbol)
        self.state = SyncState.WAITING_SNAPSHOT
        self.counters = SyncCounters()
        self.last_time: int | None = None  # `time` of the last applied l2update; None: as of a snapshot
        self.last_trade_id: int | None = None
        self._last_sequence: dict[str, int] = {}  # per channel: "ticker", "matches"

    @property
    def needs_snapshot(self) -> bool:
        return self.state is not SyncState.SYNCED

    def on_book(self, update: CoinbaseBookUpdate) -> Decision:
        """APPLY: the book changed. SKIP: not synced yet. GAP: crossed, discarded, resync."""
        if update.snapshot:
            if self.state is SyncState.SYNCED:
                self.counters.resyncs += 1  # a fresh snapshot replaces a live book (resubscribe)
            self.book.load(update.bids, update.asks, 0)
            self.state = SyncState.SYNCED
            self.last_time = None
            self.counters.snapshots_applied += 1
            return self._verify()
        if self.state is not SyncState.SYNCED:
            self.counters.skipped += 1
            return Decision.SKIP
        self.book.apply(update.bids, update.asks, self.book.last_update_id + 1)
        self.last_time = update.ts_event
        self.counters.events_applied += 1
        return self._verify()

    def on_trade(self, trade: CoinbaseTradePrint) -> Decision:
        """A `match`/`last_match`: APPLY when continuous (or stale), GAP when messages were lost."""
        if not self._sequence_ok("matches", trade.sequence):
            return self._gap()
        last = self.last_trade_id
        if last is not None and trade.trade_id <= last:
            self.counters.stale_trades += 1
            return Decision.SKIP
        self.last_trade_id = trade.trade_id
        if last is not None and trade.trade_id != last + 1:
            self.counters.trade_gaps += 1
            return self._gap()
        return Decision.APPLY

    def on_ticker_sequence(self, ticker: CoinbaseBestBidAsk) -> Decision:
        """A `ticker`'s sequence must not go back: GAP (resync) when it does."""
        if not self._sequence_ok("ticker", ticker.update_id):
            return self._gap()
        return Decision.APPLY

    def _sequence_ok(self, channel: str, sequence: int) -> bool:
        last = self._last_sequence.get(channel)
        if last is not None and sequence < last:
            self.counters.sequence_regressions += 1
            return False
        self._last_sequence[channel] = sequence
        return True

    def _gap(self) -> Decision:
        self.counters.gaps += 1
        if self.state is SyncState.SYNCED:
            self._discard()
        return Decision.GAP

    def _verify(self) -> Decision:
        if self.book.is_crossed():
            self.counters.crossed += 1
            self.counters.gaps += 1
            self._discard()
            return Decision.GAP
        return Decision.APPLY

    def restart(self) -> None:
        """Forget the book and the continuity state; wait for a new snapshot (after a reconnect)."""
        if self.state is SyncState.SYNCED:
            self.counters.resyncs += 1
            self.state = SyncState.RESYNCING
        self.book.clear()
        self.last_time = None
        self.last_trade_id = None
        self._last_sequence = {}

    def _discard(self) -> None:
        self.counters.resyncs += 1
        self.state = SyncState.RESYNCING
        self.book.clear()
        self.last_time = None


class TickerCrossCheck:
    """Compares each `ticker`'s best bid/ask with the rebuilt book around the ticker's `time` T.

    level2 and ticker are separate channels with no shared sequence, and in the recording a ticker
    shares its microsecond T with the l2update(s) of its own match, so where it falls among them is
    not knowable. The check is: the ticker's best bid/ask equals the book at SOME point of the
    same-T group (just before its first l2update, or after any of them). A ticker is held until an
    l2update with `time` > T arrives (`before_update`), then settled: `ok` if some point matched;
    `failed` if none did and every point of the group was seen; `unmatched` when the group was
    already partly applied on arrival and nothing later matched, when the book had passed T, is as
    of a snapshot (which names no time: the ticker Coinbase sends on subscribe is about an older
    trade), is not synced, or when the ticker is still waiting at the end. Prices are always
    compared; sizes only when the feed gives them.
    """

    __slots__ = ("_pending", "_sync", "failed", "last_failure", "max_pending", "ok", "unmatched")

    def __init__(self, sync: CoinbaseBookSync, max_pending: int = 1024) -> None:
        self._sync = sync
        # [ticker, matched at some point so far, whole group seen]
        self._pending: deque[list[object]] = deque()
        self.max_pending = max_pending
        self.ok = 0
        self.failed = 0
        self.unmatched = 0
        self.last_failure: CoinbaseBestBidAsk | None = None

    def on_ticker(self, ticker: CoinbaseBestBidAsk) -> None:
        sync = self._sync
        if sync.state is not SyncState.SYNCED or ticker.ts_event == 0:
            self.unmatched += 1
            return
        if sync.last_time is None or sync.last_time > ticker.ts_event:
            self.unmatched += 1
            return
        if len(self._pending) >= self.max_pending:
            self._pending.popleft()
            self.unmatched += 1
        whole = sync.last_time < ticker.ts_event
        self._pending.append([ticker, matches_book(sync.book, ticker), whole])

    def before_update(self, update: CoinbaseBookUpdate) -> None:
        """Call before the sync sees `update`: settles tickers whose moment has passed."""
        pending = self._pending
        if update.snapshot or self._sync.state is not SyncState.SYNCED:
            self.unmatched += len(pending)
            pending.clear()
            return
        for entry in list(pending):
            ticker = entry[0]
            assert isinstance(ticker, CoinbaseBestBidAsk)
            if ticker.ts_event < update.ts_event:
                pending.remove(entry)
                self._settle(ticker, bool(entry[1]), bool(entry[2]))

    def after_update(self) -> None:
        """Call after the sync saw an update: each waiting ticker may match the new state."""
        sync = self._sync
        if sync.state is not SyncState.SYNCED:
            self.unmatched += len(self._pending)
            self._pending.clear()
            return
        for entry in self._pending:
            ticker = entry[0]
            assert isinstance(ticker, CoinbaseBestBidAsk)
            last = sync.last_time
            if last is not None and last < ticker.ts_event:
                entry[1] = matches_book(sync.book, ticker)  # still before the group: the newest state counts
            elif not entry[1] and matches_book(sync.book, ticker):
                entry[1] = True

    def finish(self) -> None:
        """End of stream: tickers still waiting were never settled."""
        self.unmatched += len(self._pending)
        self._pending.clear()

    def _settle(self, ticker: CoinbaseBestBidAsk, matched: bool, whole: bool) -> None:
        if matched:
            self.ok += 1
        elif whole:
            self.failed += 1
            self.last_failure = ticker
        else:
            self.unmatched += 1


def matches_book(book: OrderBook, ticker: CoinbaseBestBidAsk) -> bool:
    bid = book.best_bid()
    ask = book.best_ask()
    if bid is None or ask is None:
        return False
    if bid[0] != ticker.bid_price or ask[0] != ticker.ask_price:
        return False
    return not ticker.sizes_known or (bid[1] == ticker.bid_size and ask[1] == ticker.ask_size)
