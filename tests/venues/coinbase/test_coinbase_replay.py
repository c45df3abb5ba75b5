"""Coinbase ws-feed: every recorded message, the replay figures, a deleted match, and fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradestack.app.replay import SymbolReport
from tradestack.app.replay_coinbase import recorded_products, replay_coinbase_records, run_coinbase_replay
from tradestack.domain.events import Malformed, Side
from tradestack.venues.coinbase.messages import CoinbaseBestBidAsk, CoinbaseBookUpdate, CoinbaseTradePrint
from tradestack.venues.coinbase.parse import CoinbaseMarketParser, iso_nanos
from tradestack.venues.replay.recordings import read_recording

CORPUS = pytest.mark.corpus
COINBASE = "cryptofeed/sample_data/COINBASE.ws.28.0"


@CORPUS
def test_every_recorded_message_parses_or_is_deliberately_ignored(corpus: Path) -> None:
    path = corpus / COINBASE
    parser = CoinbaseMarketParser(recorded_products(path))
    kinds: dict[str, int] = {}
    ignored = 0
    for record in read_recording(path):
        events = parser.parse(record.payload, record.ts_recv)
        if not events:
            ignored += 1
            assert b'"type":"subscriptions"' in record.payload
        for event in events:
            assert not isinstance(event, Malformed), event
            kinds[type(event).__name__] = kinds.get(type(event).__name__, 0) + 1
    assert kinds == {"CoinbaseBookUpdate": 9729, "CoinbaseBestBidAsk": 107, "CoinbaseTradePrint": 107}
    assert ignored == 3


@CORPUS
def test_replay_figures(corpus: Path) -> None:
    report = run_coinbase_replay(corpus / COINBASE)
    totals = report.to_json_dict()
    assert set(totals) == {*SymbolReport.JSON_KEYS, "symbols"}
    assert report.malformed == 0 and totals["gaps"] == 0 and totals["resyncs"] == 0
    assert totals["checksum_ok"] == 0 and totals["checksum_failed"] == 0
    assert totals["events_applied"] == 9719 and len(report.symbols) == 10
    assert totals["crosscheck_ok"] == 97 and totals["crosscheck_failed"] == 0
    assert report.total("crosscheck_unmatched") == 10  # the ticker sent on subscribe, one per product
    assert all(symbol.final_state == "synced" for symbol in report.symbols.values())


@CORPUS
def test_a_deleted_match_is_detected_and_resyncs_the_book(corpus: Path) -> None:
    path = corpus / COINBASE
    records = list(read_recording(path))
    matches = [i for i, r in enumerate(records) if b'"type":"match"' in r.payload and b"SKL-USD" in r.payload]
    del records[matches[5]]
    report = replay_coinbase_records(records, recorded_products(path))
    assert report.symbols["SKL-USD"].gaps == 1 and report.symbols["SKL-USD"].resyncs == 1
    assert report.total("gaps") == 1


def test_l2update_and_match_exactly() -> None:
    parser = CoinbaseMarketParser()
    [update] = parser.parse(
        b'{"type":"l2update","product_id":"X-Y","changes":[["buy","1.5","0"],["sell","2","0.25000000"]],'
        b'"time":"2021-04-17T16:43:37.075687Z"}',
        1,
    )
    assert isinstance(update, CoinbaseBookUpdate)
    assert update.bids == [(150_000_000, 0)] and update.asks == [(200_000_000, 25_000_000)]
    assert update.ts_event == iso_nanos("2021-04-17T16:43:37.075687Z") == 1618677817075687000
    [trade] = parser.parse(
        b'{"type":"match","trade_id":7,"side":"sell","size":"1","price":"2","product_id":"X-Y",'
        b'"sequence":9,"time":"2021-04-17T16:43:37Z"}',
        1,
    )
    assert isinstance(trade, CoinbaseTradePrint) and trade.aggressor is Side.BUY and trade.sequence == 9
    [ticker] = parser.parse(
        b'{"type":"ticker","sequence":3,"product_id":"X-Y","best_bid":"1","best_ask":"2",'
        b'"time":"2021-04-17T16:43:37Z"}',
        1,
    )
    assert isinstance(ticker, CoinbaseBestBidAsk) and ticker.update_id == 3 and not ticker.sizes_known


@pytest.mark.parametrize(
    "frame",
    [
        b'{"type":"error","message":"x"}',
        b'{"type":"nope"}',
        b"[]",
        b'{"type":"l2update","product_id":"A",'
        b'"changes":[["buy","1.123456789","1"]],"time":"2021-04-17T16:43:37Z"}',
    ],
)
def test_bad_frames_are_malformed(frame: bytes) -> None:
    [event] = CoinbaseMarketParser().parse(frame, 1)
    assert isinstance(event, Malformed)


@given(st.binary(max_size=300))
def test_any_bytes_give_events_or_malformed(frame: bytes) -> None:
    for event in CoinbaseMarketParser().parse(frame, 1):
        assert isinstance(event, CoinbaseBookUpdate | CoinbaseBestBidAsk | CoinbaseTradePrint | Malformed)
