"""OKX `books` sync: seqId/prevSeqId continuity, no-change updates, checksums, and the OKCOIN replay."""

from __future__ import annotations

import zlib
from decimal import Decimal
from pathlib import Path

import pytest

from tradestack.app.replay import render_text, run_replay
from tradestack.app.replay_checksum import recorded_instruments, replay_checksum_records
from tradestack.domain.book.sequencer import Decision
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.venues.okx.book_sync import OkxBookSync, SyncState
from tradestack.venues.okx.messages import BookLevel, OkxBookUpdate
from tradestack.venues.replay.recordings import read_recording

OKCOIN = "cryptofeed/sample_data/OKCOIN.ws.1.0"
SYMBOL = "BTC-USDT"
INSTRUMENT = Instrument.from_steps("okx", SYMBOL, "BTC", "USDT", "0.1", "0.00000001")


def level(price: str, size: str) -> BookLevel:
    return (parse_fixed(price, 1), parse_fixed(size, 8), price, size)


class Venue:
    """An independent model of what OKX sends: books of strings, checksum by Decimal ordering."""

    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.seq = 100

    def checksum(self) -> int:
        bids = sorted(self.bids.items(), key=lambda item: -Decimal(item[0]))[:25]
        asks = sorted(self.asks.items(), key=lambda item: Decimal(item[0]))[:25]
        parts: list[str] = []
        for index in range(25):
            if index < len(bids):
                parts += bids[index]
            if index < len(asks):
                parts += asks[index]
        value = zlib.crc32(":".join(parts).encode())
        return value - 2**32 if value >= 2**31 else value

    def snapshot(self, seq: bool = True) -> OkxBookUpdate:
        for index in range(40):
            self.bids[f"{100 + index}.5"] = f"{index + 1}"
            self.asks[f"{200 + index}"] = f"0.{index + 1:03d}"
        return self._message(True, list(self.bids.items()), list(self.asks.items()), -1 if seq else None, seq)

    def update(
        self, bids: list[tuple[str, str]], asks: list[tuple[str, str]], seq: bool = True
    ) -> OkxBookUpdate:
        for book, changes in ((self.bids, bids), (self.asks, asks)):
            for price, size in changes:
                if size == "0":
                    book.pop(price, None)
                else:
                    book[price] = size
        previous = self.seq
        if bids or asks:
            self.seq += 3
        return self._message(False, bids, asks, previous if seq else None, seq)

    def _message(
        self,
        snapshot: bool,
        bids: list[tuple[str, str]],
        asks: list[tuple[str, str]],
        prev: int | None,
        seq: bool,
    ) -> OkxBookUpdate:
        return OkxBookUpdate(
            symbol=SYMBOL,
            snapshot=snapshot,
            bids=[level(*item) for item in bids],
            asks=[level(*item) for item in asks],
            checksum=self.checksum(),
            seq_id=self.seq if seq else None,
            prev_seq_id=prev,
            ts_event=0,
            ts_recv=0,
        )


def test_snapshot_then_continuous_updates_apply_and_every_checksum_matches() -> None:
    venue = Venue()
    sync = OkxBookSync(SYMBOL)
    assert sync.on_message(venue.snapshot()) is Decision.APPLY
    assert sync.state is SyncState.SYNCED and sync.last_seq_id == 100
    assert sync.on_message(venue.update([("139.5", "0"), ("99.9", "3")], [("200", "0.5")])) is Decision.APPLY
    assert (
        sync.on_message(venue.update([("140.1", "2")], [("199.9", "0.25"), ("201", "0")])) is Decision.APPLY
    )
    assert sync.book.best_bid() == (1401, 200000000)
    assert sync.book.best_ask() == (1999, 25000000)
    assert sync.counters.checksum_ok == 3 and sync.counters.checksum_failed == 0


def test_no_change_update_with_seq_equal_to_prev_seq_is_applied_as_nothing() -> None:
    venue = Venue()
    sync = OkxBookSync(SYMBOL)
    sync.on_message(venue.snapshot())
    keep_alive = venue.update([], [])
    assert keep_alive.seq_id == keep_alive.prev_seq_id == 100
    assert sync.on_message(keep_alive) is Decision.APPLY
    assert sync.counters.no_change == 1 and sync.state is SyncState.SYNCED
    assert sync.on_message(venue.update([("99", "1")], [])) is Decision.APPLY


def test_a_deleted_update_is_a_gap_and_the_book_waits_for_a_snapshot() -> None:
    venue = Venue()
    sync = OkxBookSync(SYMBOL)
    sync.on_message(venue.snapshot())
    venue.update([("99", "1")], [])  # lost in transit
    assert sync.on_message(venue.update([("98", "1")], [])) is Decision.GAP
    assert sync.counters.gaps == 1 and sync.counters.resyncs == 1
    assert sync.needs_snapshot and len(sync.book) == 0
    assert sync.on_message(venue.update([("97", "1")], [])) is Decision.SKIP
    assert sync.on_message(venue.snapshot()) is Decision.APPLY
    assert sync.state is SyncState.SYNCED


def test_without_seq_ids_a_deleted_update_is_caught_by_the_checksum() -> None:
    venue = Venue()
    sync = OkxBookSync(SYMBOL)
    sync.on_message(venue.snapshot(seq=False))
    venue.update([("139.5", "7")], [], seq=False)  # lost in transit
    assert sync.on_message(venue.update([("99", "1")], [], seq=False)) is Decision.GAP
    assert sync.counters.checksum_failed == 1 and sync.counters.gaps == 0
    assert sync.needs_snapshot


def test_zero_checksum_is_not_verified_and_crossed_book_resyncs() -> None:
    sync = OkxBookSync(SYMBOL)
    snapshot = OkxBookUpdate(SYMBOL, True, [level("100", "1")], [level("101", "1")], 0, 5, -1, 0, 0)
    assert sync.on_message(snapshot) is Decision.APPLY
    assert sync.counters.checksum_absent == 1
    crossing = OkxBookUpdate(SYMBOL, False, [level("102", "1")], [], 0, 6, 5, 0, 0)
    assert sync.on_message(crossing) is Decision.GAP
    assert sync.counters.crossed == 1 and sync.needs_snapshot


CORPUS = pytest.mark.corpus


@CORPUS
def test_okcoin_recording_every_checksum_matches(corpus: Path) -> None:
    report = run_replay("okx", corpus / OKCOIN)
    assert report.ok and report.malformed == 0
    assert set(report.symbols) == {"BTC-USD", "ETH-USD", "USDC-USDT", "USDT-USD"}
    assert report.total("checksum_ok") == 6  # 4 snapshots + 2 updates: every checksum the recording holds
    assert report.total("checksum_failed") == 0
    assert report.total("gaps") == 0 and report.total("resyncs") == 0
    assert all(symbol.final_state == "synced" for symbol in report.symbols.values())
    assert report.to_json_dict()["checksum_ok"] == 6
    assert "checksums: 6 verified, 0 failed" in render_text(report)


@CORPUS
def test_okcoin_recording_with_a_changed_level_fails_its_checksum(corpus: Path) -> None:
    path = corpus / OKCOIN
    records = list(read_recording(path))
    edited = [
        record._replace(payload=record.payload.replace(b'["1.0007","4000"', b'["1.0007","4001"', 1))
        if b'"action":"snapshot"' in record.payload
        else record
        for record in records
    ]
    report = replay_checksum_records("okx", edited, recorded_instruments("okx", path), path)
    assert report.symbols["USDC-USDT"].checksum_failed == 1
    assert report.symbols["USDC-USDT"].resyncs == 1
    assert not report.ok


@CORPUS
def test_okcoin_recording_with_a_deleted_snapshot_skips_its_updates(corpus: Path) -> None:
    path = corpus / OKCOIN
    records = [
        record
        for record in read_recording(path)
        if not (b'"action":"snapshot"' in record.payload and b"USDT-USD" in record.payload[:60])
    ]
    report = replay_checksum_records("okx", records, recorded_instruments("okx", path), path)
    assert report.symbols["USDT-USD"].skipped == 1
    assert report.symbols["USDT-USD"].final_state == "waiting_snapshot"
    assert report.total("checksum_ok") == 4
