"""Bybit `u` continuity: the real ob500 capture applies with no gap; deleting a delta is a gap."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tradestack.domain.book.sequencer import Decision
from tradestack.venues.bybit.book_sync import BybitBookSync, SyncState
from tradestack.venues.bybit.messages import BybitBookUpdate
from tradestack.venues.bybit.parse import BybitMarketParser

OB500 = "nautilus_trader/tests/test_data/bybit/xrpusdt-ob500.data.zip"


def update(u: int | None, bids: list[tuple[int, int]], asks: list[tuple[int, int]], *, snapshot: bool = False,
           seq: int | None = None) -> BybitBookUpdate:  # fmt: skip
    return BybitBookUpdate("XRPUSDT", snapshot, bids, asks, u, seq, 0, 0)


def ob500_updates(corpus: Path) -> list[BybitBookUpdate]:
    parser = BybitMarketParser.inferring()
    with zipfile.ZipFile(corpus / OB500) as archive:
        lines = [line for name in archive.namelist() for line in archive.read(name).splitlines() if line]
    events = [event for line in lines for event in parser.parse(line, 0)]
    assert all(isinstance(event, BybitBookUpdate) for event in events)
    return [event for event in events if isinstance(event, BybitBookUpdate)]


@pytest.mark.corpus
def test_ob500_capture_applies_with_no_gap_and_never_crosses(corpus: Path) -> None:
    sync = BybitBookSync("XRPUSDT")
    for message in ob500_updates(corpus):
        assert sync.on_message(message) is Decision.APPLY
        assert not sync.book.is_crossed()
    counters = sync.counters
    assert (counters.snapshots_applied, counters.events_applied, counters.gaps, counters.crossed) == (
        1,
        49,
        0,
        0,
    )
    assert sync.state is SyncState.SYNCED and sync.last_update_id == 20254918
    assert sync.last_seq == 130020252664
    assert sync.book.best_bid() == (19537, 10605) and sync.book.best_ask() == (19538, 6702)


@pytest.mark.corpus
@pytest.mark.parametrize("deleted", [1, 10, 25, 49])
def test_deleting_a_recorded_delta_is_a_gap(corpus: Path, deleted: int) -> None:
    messages = ob500_updates(corpus)
    del messages[deleted]
    sync = BybitBookSync("XRPUSDT")
    decisions = [sync.on_message(message) for message in messages]
    if deleted == len(messages):  # the last one deleted: nothing follows it, so nothing to detect
        assert Decision.GAP not in decisions
        return
    assert decisions[deleted] is Decision.GAP
    assert decisions[deleted + 1 :] == [Decision.SKIP] * (len(messages) - deleted - 1)
    assert sync.counters.gaps == 1 and sync.counters.resyncs == 1 and sync.needs_snapshot
    assert len(sync.book) == 0


@pytest.mark.corpus
def test_a_fresh_snapshot_after_a_gap_resyncs(corpus: Path) -> None:
    messages = ob500_updates(corpus)
    sync = BybitBookSync("XRPUSDT")
    for message in messages[:5] + messages[6:10]:
        sync.on_message(message)
    assert sync.needs_snapshot
    assert sync.on_message(update(100, [(10, 1)], [(11, 1)], snapshot=True)) is Decision.APPLY
    assert sync.on_message(update(101, [(10, 0)], [])) is Decision.APPLY
    assert sync.book.best_bid() is None and sync.state is SyncState.SYNCED


def test_u_1_snapshot_after_a_service_restart_resets_the_book() -> None:
    sync = BybitBookSync("XRPUSDT")
    sync.on_message(update(500, [(10, 1), (9, 2)], [(12, 1)], snapshot=True))
    assert sync.on_message(update(501, [(11, 3)], [])) is Decision.APPLY
    assert sync.on_message(update(1, [(20, 1)], [(21, 1)], snapshot=True)) is Decision.APPLY
    assert sync.book.bids() == [(20, 1)] and sync.book.asks() == [(21, 1)]
    assert sync.counters.restarts == 1 and sync.counters.gaps == 0
    assert sync.on_message(update(2, [(19, 1)], [])) is Decision.APPLY
    assert sync.on_message(update(4, [(18, 1)], [])) is Decision.GAP


def test_deltas_before_a_snapshot_are_skipped_and_repeats_are_gaps() -> None:
    sync = BybitBookSync("XRPUSDT")
    assert sync.on_message(update(7, [(10, 1)], [])) is Decision.SKIP
    sync.on_message(update(8, [(10, 1)], [(12, 1)], snapshot=True))
    assert sync.on_message(update(8, [(10, 2)], [])) is Decision.GAP  # a replay of u is not u + 1
    assert sync.counters.skipped == 1 and sync.counters.gaps == 1


def test_a_crossed_book_is_discarded() -> None:
    sync = BybitBookSync("XRPUSDT")
    sync.on_message(update(1, [(10, 1)], [(12, 1)], snapshot=True))
    assert sync.on_message(update(2, [(13, 1)], [])) is Decision.GAP
    assert sync.counters.crossed == 1 and sync.needs_snapshot and len(sync.book) == 0


def test_v2_cross_seq_must_move_forward() -> None:
    sync = BybitBookSync("XRPUSDT")
    sync.on_message(update(None, [(10, 1)], [(12, 1)], snapshot=True, seq=100))
    assert sync.on_message(update(None, [(11, 1)], [], seq=105)) is Decision.APPLY
    assert sync.on_message(update(None, [(11, 0)], [], seq=105)) is Decision.GAP
    assert sync.counters.events_applied == 1 and sync.counters.gaps == 1


def test_another_symbols_message_is_refused() -> None:
    with pytest.raises(ValueError, match="pushed to"):
        BybitBookSync("BTCUSDT").on_message(update(1, [], [], snapshot=True))
