"""Replaying real Binance recordings: no false gaps, the venue's bookTicker agrees with our book, and a
frame taken out of a recording is caught as a gap and recovered from the next snapshot."""

from __future__ import annotations

import gzip
from pathlib import Path

import msgspec
import pytest

from tradestack.app.replay import ReplayReport, SymbolReport, render_text, replay_records, run_replay
from tradestack.domain.events import BookDelta
from tradestack.domain.instruments import format_fixed
from tradestack.venues.binance.book_sync import BinanceBookSync
from tradestack.venues.binance.parse import BinanceMarketParser
from tradestack.venues.replay.recordings import (
    Record,
    RecordingFormat,
    RecordKind,
    detect_format,
    read_recording,
    seconds_to_nanos,
)

pytestmark = pytest.mark.corpus

SPOT = "hftbacktest/examples/spot/btcusdt_20240808.gz"
USDM = "hftbacktest/examples/usdm/btcusdt_20240808.gz"
CRYPTOFEED_SPOT = "cryptofeed/sample_data/BINANCE.ws.1.0"
CRYPTOFEED_FUTURES = "cryptofeed/sample_data/BINANCE_FUTURES.ws.1.0"
JSON_KEYS = set(SymbolReport.JSON_KEYS)


@pytest.mark.parametrize(
    ("venue", "recording", "symbols"),
    [
        ("binance", SPOT, {"BTCUSDT"}),
        ("binance-futures", USDM, {"BTCUSDT"}),
        ("binance", CRYPTOFEED_SPOT, {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"}),
        ("binance-futures", CRYPTOFEED_FUTURES, {"SUSHIUSDT", "AKROUSDT", "KEEPUSDT", "CTKUSDT"}),
    ],
)
def test_recordings_replay_without_gaps_and_agree_with_the_venue(
    corpus: Path, venue: str, recording: str, symbols: set[str]
) -> None:
    report = run_replay(venue, corpus / recording)

    assert set(report.symbols) == symbols
    assert report.ok
    totals = report.to_json_dict()
    assert set(totals) == JSON_KEYS | {"symbols"}
    assert (totals["gaps"], totals["resyncs"], totals["crosscheck_failed"]) == (0, 0, 0)
    assert totals["checksum_ok"] == totals["checksum_failed"] == 0  # Binance has no book checksum
    for name, symbol in report.symbols.items():
        assert set(symbol.to_json_dict()) == JSON_KEYS
        assert symbol.events_applied > 0, name
        assert symbol.final_state == "synced", name
        if symbol.tickers and symbol.events_applied > 5:  # tickers exist and the book moved
            assert symbol.crosscheck_ok > 0, name
    assert totals["crosscheck_ok"] > 0
    assert report.malformed == 0


def test_the_spot_recording_in_numbers(corpus: Path) -> None:
    report = run_replay("binance", corpus / SPOT)
    btc = report.symbols["BTCUSDT"]
    assert report.messages == 41249  # 41,248 frames and one REST snapshot
    assert btc.depth_events == 3451
    assert btc.events_applied == 3449  # the two diffs the snapshot already covers are skipped
    assert btc.crosscheck_ok > 500
    assert btc.snapshots_used == 1
    text = render_text(report)
    assert "BTCUSDT" in text
    assert text.endswith("OK")


def depth_frame_indexes(records: list[Record]) -> list[int]:
    """Indexes of the depth frames that come after the recording's (first) snapshot."""
    snapshot_at = next(index for index, record in enumerate(records) if record.kind is RecordKind.SNAPSHOT)
    return [
        index
        for index, record in enumerate(records)
        if index > snapshot_at and record.kind is RecordKind.FRAME and b"@depth" in record.payload[:40]
    ]


@pytest.mark.parametrize(("venue", "recording"), [("binance", SPOT), ("binance-futures", USDM)])
def test_a_missing_depth_frame_is_detected_as_a_gap(corpus: Path, venue: str, recording: str) -> None:
    records = list(read_recording(corpus / recording))
    deleted = depth_frame_indexes(records)[100]
    report = replay_records(venue, records[:deleted] + records[deleted + 1 :])

    btc = report.symbols["BTCUSDT"]
    assert (btc.gaps, btc.resyncs) == (1, 1)
    assert btc.final_state == "resyncing"  # the recording holds no later snapshot to resync from
    assert btc.crosscheck_failed == 0  # a book known to be broken is never compared
    assert report.ok


def snapshot_body(
    book_bids: list[tuple[int, int]], book_asks: list[tuple[int, int]], update_id: int
) -> bytes:
    def wire(levels: list[tuple[int, int]]) -> list[list[str]]:
        return [[format_fixed(price, 8), format_fixed(size, 8)] for price, size in levels]

    return msgspec.json.encode({"lastUpdateId": update_id, "bids": wire(book_bids), "asks": wire(book_asks)})


def test_after_a_gap_the_next_snapshot_resyncs_the_book(corpus: Path) -> None:
    records = list(read_recording(corpus / SPOT))
    depth = depth_frame_indexes(records)
    deleted, resync_at = depth[100], depth[200]

    # What Binance's REST depth would have answered at that moment: the true book, from a clean pass.
    parser = BinanceMarketParser.inferring()
    truth = BinanceBookSync("BTCUSDT")
    for record in records[: resync_at + 1]:
        if record.kind is RecordKind.SNAPSHOT:
            truth.on_snapshot(parser.parse_depth_snapshot(record.payload, "BTCUSDT", record.ts_recv))
            continue
        for event in parser.parse(record.payload, record.ts_recv):
            if isinstance(event, BookDelta):
                truth.on_delta(event)
    body = snapshot_body(truth.book.bids(1000), truth.book.asks(1000), truth.book.last_update_id)
    later_snapshot = Record(records[resync_at].ts_recv, RecordKind.SNAPSHOT, body, "BTCUSDT")

    edited = (
        records[:deleted] + records[deleted + 1 : resync_at + 1] + [later_snapshot] + records[resync_at + 1 :]
    )
    report = replay_records("binance", edited)
    clean = run_replay("binance", corpus / SPOT).symbols["BTCUSDT"]

    btc = report.symbols["BTCUSDT"]
    assert (btc.gaps, btc.resyncs, btc.final_state) == (1, 1, "synced")
    assert btc.snapshots_used == 2
    assert btc.crosscheck_failed == 0
    assert 0 < btc.crosscheck_ok < clean.crosscheck_ok  # fewer: none while the book was resyncing
    # all but the deleted diff and the 100 buffered while resyncing, which the new snapshot covers
    assert btc.events_applied == clean.events_applied - 1 - 100


def test_malformed_frames_in_a_recording_are_counted_not_raised(corpus: Path) -> None:
    records = list(read_recording(corpus / CRYPTOFEED_SPOT))
    garbage = [Record(records[10].ts_recv, RecordKind.FRAME, payload) for payload in (b"{", b"\xff", b"[]")]
    report = replay_records("binance", records[:10] + garbage + records[10:])
    assert report.malformed == 3
    assert report.first_malformed is not None
    assert report.total("gaps") == 0
    assert report.ok
    assert "malformed frames: 3" in render_text(report)


# -- the recording formats --------------------------------------------------------------------------


def test_cryptofeed_ws_file_is_merged_with_the_http_file_beside_it(corpus: Path) -> None:
    ws = corpus / CRYPTOFEED_SPOT
    assert detect_format(ws) is RecordingFormat.CRYPTOFEED
    records = list(read_recording(ws))
    snapshots = [record for record in records if record.kind is RecordKind.SNAPSHOT]
    assert [record.symbol for record in snapshots] == ["NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"]
    assert all(record.payload.startswith(b'{"lastUpdateId"') for record in snapshots)
    assert len(records) - len(snapshots) == 265  # received frames; connect and blank lines skipped
    assert [record.ts_recv for record in records] == sorted(record.ts_recv for record in records)
    # the same session whichever of its files is named
    assert list(read_recording(ws.with_name("BINANCE.http.0.0"))) == records


def test_hftbacktest_plain_text_and_symbol_from_the_streams(corpus: Path, tmp_path: Path) -> None:
    with gzip.open(corpus / SPOT, "rb") as source:
        head = [next(source) for _ in range(40)]
    plain = tmp_path / "btcusdt_plain.txt"
    plain.write_bytes(b"".join(head))
    assert detect_format(plain) is RecordingFormat.HFTBACKTEST
    records = list(read_recording(plain))
    assert len(records) == 40
    snapshot = next(record for record in records if record.kind is RecordKind.SNAPSHOT)
    assert snapshot.symbol == "BTCUSDT"
    assert records[0].ts_recv == 1723161253937085768

    report = run_replay("binance", plain)
    assert isinstance(report, ReplayReport)
    assert report.symbols["BTCUSDT"].events_applied > 0


def test_unix_seconds_become_nanoseconds_exactly() -> None:
    assert seconds_to_nanos("1633998512.0633569") == 1_633_998_512_063_356_900
    assert seconds_to_nanos("1633998512") == 1_633_998_512_000_000_000
    assert seconds_to_nanos("1.1234567891") == 1_123_456_789  # beyond nanoseconds: dropped
    with pytest.raises(ValueError, match="unix time"):
        seconds_to_nanos("1e9")


def test_unknown_venue_is_refused(corpus: Path) -> None:
    with pytest.raises(ValueError, match="binance-futures"):
        run_replay("deribit", corpus / SPOT)
