"""Binance local-book procedure, spot and futures: buffering, bracket rule, stale skip, gaps, resync."""

from __future__ import annotations

from tradestack.domain.book.sequencer import Decision
from tradestack.domain.events import BestBidAsk, BookDelta, BookSnapshot, Level, Malformed
from tradestack.venues.binance.book_sync import (
    BinanceBookSync,
    SequenceRules,
    SnapshotOutcome,
    SyncState,
    TickerCrossCheck,
)
from tradestack.venues.binance.parse import BinanceMarketParser

SYMBOL = "BTCUSDT"


def delta(
    first: int, last: int, bids: list[Level] | None = None, asks: list[Level] | None = None, pu: int = -1
) -> BookDelta:
    return BookDelta(
        symbol=SYMBOL,
        first_update_id=first,
        final_update_id=last,
        bids=bids if bids is not None else [],
        asks=asks if asks is not None else [],
        ts_event=0,
        ts_recv=0,
        prev_final_update_id=pu,
    )


def snapshot(
    last_update_id: int, bids: list[Level] | None = None, asks: list[Level] | None = None
) -> BookSnapshot:
    return BookSnapshot(
        symbol=SYMBOL,
        last_update_id=last_update_id,
        bids=bids if bids is not None else [(100, 1)],
        asks=asks if asks is not None else [(101, 1)],
        ts_event=0,
        ts_recv=0,
    )


def ticker(update_id: int, bid: Level, ask: Level) -> BestBidAsk:
    return BestBidAsk(SYMBOL, update_id, bid[0], bid[1], ask[0], ask[1], ts_recv=0)


# -- spot -------------------------------------------------------------------------------------------


def test_events_are_buffered_until_a_snapshot_arrives() -> None:
    sync = BinanceBookSync(SYMBOL)
    assert sync.state is SyncState.WAITING_SNAPSHOT
    assert sync.needs_snapshot
    assert sync.on_delta(delta(100, 105)) is Decision.SKIP
    assert sync.on_delta(delta(106, 110)) is Decision.SKIP
    assert (sync.buffered, sync.counters.buffered, sync.counters.events_applied) == (2, 2, 0)
    assert len(sync.book) == 0


def test_spot_snapshot_drops_covered_events_and_the_first_applied_brackets_it() -> None:
    sync = BinanceBookSync(SYMBOL)
    sync.on_delta(delta(90, 99, bids=[(50, 1)]))  # entirely before the snapshot: dropped
    sync.on_delta(delta(100, 105, bids=[(99, 7)]))  # brackets 103 + 1 = 104
    sync.on_delta(delta(106, 110, asks=[(101, 0), (102, 4)]))
    assert sync.on_snapshot(snapshot(103)) is SnapshotOutcome.SYNCED
    assert sync.state is SyncState.SYNCED
    assert not sync.needs_snapshot
    assert sync.book.last_update_id == 110
    assert sync.book.bids() == [(100, 1), (99, 7)]
    assert sync.book.asks() == [(102, 4)]
    assert (sync.counters.events_applied, sync.counters.skipped, sync.buffered) == (2, 1, 0)


def test_spot_then_each_event_continues_the_previous_one() -> None:
    sync = BinanceBookSync(SYMBOL)
    sync.on_snapshot(snapshot(103))
    assert sync.on_delta(delta(100, 103)) is Decision.SKIP  # u <= lastUpdateId: stale
    assert sync.on_delta(delta(104, 108, bids=[(99, 2)])) is Decision.APPLY  # U == L + 1
    assert sync.on_delta(delta(109, 109)) is Decision.APPLY  # U == previous u + 1
    assert sync.on_delta(delta(105, 109)) is Decision.SKIP  # already applied
    assert sync.counters.skipped == 2
    assert sync.counters.events_applied == 2
    assert sync.book.last_update_id == 109


def test_spot_first_event_after_snapshot_that_starts_too_late_is_a_gap() -> None:
    sync = BinanceBookSync(SYMBOL)
    sync.on_snapshot(snapshot(103))
    assert sync.on_delta(delta(105, 110)) is Decision.GAP  # 104 is missing
    assert sync.state is SyncState.RESYNCING
    assert sync.counters.gaps == 1


def test_spot_gap_discards_the_book_and_buffers_from_the_revealing_event() -> None:
    sync = BinanceBookSync(SYMBOL)
    sync.on_snapshot(snapshot(103))
    sync.on_delta(delta(104, 108))
    assert sync.on_delta(delta(112, 115, bids=[(99, 5)])) is Decision.GAP  # 109..111 never came
    assert sync.state is SyncState.RESYNCING
    assert sync.needs_snapshot
    assert len(sync.book) == 0
    assert (sync.counters.gaps, sync.counters.resyncs, sync.buffered) == (1, 1, 1)
    assert sync.on_delta(delta(116, 120, bids=[(98, 1)])) is Decision.SKIP  # buffered meanwhile

    # the next snapshot (L = 113) is inside the revealing event: it applies, then the rest
    assert sync.on_snapshot(snapshot(113)) is SnapshotOutcome.SYNCED
    assert sync.book.last_update_id == 120
    assert sync.book.bids() == [(100, 1), (99, 5), (98, 1)]


def test_a_snapshot_older_than_every_buffered_event_is_refused() -> None:
    sync = BinanceBookSync(SYMBOL)
    sync.on_delta(delta(100, 105))
    assert sync.on_snapshot(snapshot(90)) is SnapshotOutcome.TOO_OLD  # 91..99 would be missing
    assert sync.needs_snapshot
    assert sync.counters.snapshots_too_old == 1
    assert len(sync.book) == 0
    assert sync.buffered == 1  # kept for the next snapshot
    assert sync.on_snapshot(snapshot(99)) is SnapshotOutcome.SYNCED  # 99 + 1 == U: continuous
    assert sync.book.last_update_id == 105


def test_a_hole_inside_the_buffer_needs_another_snapshot() -> None:
    sync = BinanceBookSync(SYMBOL)
    for first, last in ((100, 105), (106, 110), (115, 120), (121, 125)):
        sync.on_delta(delta(first, last))
    assert sync.on_snapshot(snapshot(102)) is SnapshotOutcome.GAP
    assert sync.state is SyncState.RESYNCING
    assert sync.buffered == 2  # (115, 120) and (121, 125) wait for the next snapshot
    assert sync.on_snapshot(snapshot(117)) is SnapshotOutcome.SYNCED
    assert sync.book.last_update_id == 125


def test_an_update_that_crosses_the_book_forces_a_resync() -> None:
    sync = BinanceBookSync(SYMBOL)
    sync.on_snapshot(snapshot(10, bids=[(100, 1)], asks=[(101, 1)]))
    assert sync.on_delta(delta(11, 11, bids=[(102, 1)])) is Decision.GAP
    assert (sync.counters.crossed, sync.counters.resyncs, sync.counters.gaps) == (1, 1, 0)
    assert sync.state is SyncState.RESYNCING
    assert len(sync.book) == 0


def test_a_snapshot_while_synced_is_ignored_and_restart_forgets_everything() -> None:
    sync = BinanceBookSync(SYMBOL)
    sync.on_snapshot(snapshot(10))
    assert sync.on_snapshot(snapshot(50)) is SnapshotOutcome.IGNORED
    assert sync.book.last_update_id == 10
    sync.restart()  # e.g. the connection dropped
    assert sync.state is SyncState.RESYNCING
    assert sync.needs_snapshot
    assert (len(sync.book), sync.buffered, sync.counters.resyncs) == (0, 0, 1)


def test_the_buffer_is_bounded_oldest_first() -> None:
    sync = BinanceBookSync(SYMBOL, max_buffered=3)
    for first in range(100, 105):
        sync.on_delta(delta(first, first))
    assert sync.buffered == 3
    assert sync.counters.buffer_overflows == 2
    assert sync.on_snapshot(snapshot(101)) is SnapshotOutcome.SYNCED  # 102..104 were kept
    assert sync.book.last_update_id == 104


# -- USD-M / COIN-M futures -------------------------------------------------------------------------


def test_futures_first_event_brackets_the_snapshot_then_pu_chains() -> None:
    sync = BinanceBookSync(SYMBOL, SequenceRules.FUTURES)
    sync.on_delta(delta(80, 90, pu=70))  # u < L: dropped
    sync.on_delta(delta(91, 100, pu=90, bids=[(99, 3)]))  # U <= 100 <= u: first applied
    sync.on_delta(delta(105, 130, pu=100))  # ids need not be contiguous: pu links them
    assert sync.on_snapshot(snapshot(100)) is SnapshotOutcome.SYNCED
    assert sync.book.last_update_id == 130
    assert sync.book.bids() == [(100, 1), (99, 3)]
    assert sync.on_delta(delta(131, 140, pu=130)) is Decision.APPLY
    assert sync.on_delta(delta(120, 140, pu=110)) is Decision.SKIP  # stale
    assert sync.on_delta(delta(150, 160, pu=145)) is Decision.GAP  # 140 -> 145: an event was lost
    assert (sync.counters.events_applied, sync.counters.gaps, sync.state) == (3, 1, SyncState.RESYNCING)


def test_futures_snapshot_after_which_the_stream_starts_is_refused() -> None:
    sync = BinanceBookSync(SYMBOL, SequenceRules.FUTURES)
    sync.on_delta(delta(101, 110, pu=95))
    assert sync.on_snapshot(snapshot(100)) is SnapshotOutcome.TOO_OLD  # U must be <= lastUpdateId
    assert sync.on_snapshot(snapshot(105)) is SnapshotOutcome.SYNCED
    assert sync.book.last_update_id == 110


def test_futures_first_live_event_after_an_empty_buffer() -> None:
    sync = BinanceBookSync(SYMBOL, SequenceRules.FUTURES)
    assert sync.on_snapshot(snapshot(100)) is SnapshotOutcome.SYNCED
    assert sync.on_delta(delta(90, 99, pu=80)) is Decision.SKIP
    assert sync.on_delta(delta(95, 100, pu=94)) is Decision.APPLY  # u == lastUpdateId still qualifies
    assert sync.on_delta(delta(101, 120, pu=100)) is Decision.APPLY


# -- the venue's own top of book ------------------------------------------------------------------


def test_check_ticker_compares_only_at_the_same_update_id() -> None:
    sync = BinanceBookSync(SYMBOL)
    assert sync.check_ticker(ticker(10, (100, 1), (101, 1))) is None  # not synced
    sync.on_snapshot(snapshot(10, bids=[(100, 1)], asks=[(101, 2)]))
    assert sync.check_ticker(ticker(10, (100, 1), (101, 2))) is True
    assert sync.check_ticker(ticker(10, (100, 1), (101, 3))) is False  # size differs
    assert sync.check_ticker(ticker(10, (99, 1), (101, 2))) is False  # price differs
    assert sync.check_ticker(ticker(11, (100, 1), (101, 2))) is None  # another moment


def test_cross_check_holds_tickers_until_the_book_reaches_their_id() -> None:
    sync = BinanceBookSync(SYMBOL)
    check = TickerCrossCheck(sync)
    check.on_ticker(ticker(12, (100, 5), (101, 2)))  # arrives before the depth event ending at 12
    check.on_ticker(ticker(14, (100, 5), (101, 2)))  # 14 will fall inside an event: never comparable
    sync.on_snapshot(snapshot(10, bids=[(100, 1)], asks=[(101, 2)]))
    check.on_book_update()
    assert (check.ok, check.failed, check.unmatched) == (0, 0, 0)
    sync.on_delta(delta(11, 12, bids=[(100, 5)]))
    check.on_book_update()
    assert (check.ok, check.failed, check.unmatched) == (1, 0, 0)
    sync.on_delta(delta(13, 15, asks=[(101, 9)]))
    check.on_book_update()
    assert check.unmatched == 1
    check.on_ticker(ticker(15, (100, 5), (101, 8)))  # same id, different size: the book is wrong
    assert (check.ok, check.failed) == (1, 1)
    assert check.last_failure == ticker(15, (100, 5), (101, 8))


# -- with the parser: what a session does ---------------------------------------------------------


def test_a_session_of_frames_with_garbage_in_between() -> None:
    parser = BinanceMarketParser.inferring()
    sync = BinanceBookSync(SYMBOL)
    frames = [
        b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":7,'
        b'"b":[["100.00","2.0"]],"a":[]}}',
        b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpd',  # cut short
        b"\x00\xff",
        b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":2,"s":"BTCUSDT","U":8,"u":9,'
        b'"b":[],"a":[["101.00","0.5"]]}}',
    ]
    malformed = 0
    for frame in frames:
        for event in parser.parse(frame, ts_recv=0):
            if isinstance(event, Malformed):
                malformed += 1  # counted, never raised
            elif isinstance(event, BookDelta):
                sync.on_delta(event)
        if sync.needs_snapshot and sync.buffered:
            # the I/O layer would GET /api/v3/depth now; here the reply is canned
            body = b'{"lastUpdateId":6,"bids":[["99.00","1.0"]],"asks":[["101.00","1.0"]]}'
            sync.on_snapshot(parser.parse_depth_snapshot(body, SYMBOL, ts_recv=0))
    assert malformed == 2
    assert sync.state is SyncState.SYNCED
    assert sync.book.best_bid() == (10000, 20)
    assert sync.book.best_ask() == (10100, 5)
    assert sync.book.last_update_id == 9
