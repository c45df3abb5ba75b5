"""Kraken parsing: the WS v2 doc checksum vector, exact JSON numbers, every recorded v1 message, fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradestack.app.replay import run_replay
from tradestack.domain.events import BestBidAsk, Malformed, Side, TradePrint
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.venues.kraken.checksum import checksum_of_text, checksum_of_units
from tradestack.venues.kraken.messages import KrakenBookUpdate
from tradestack.venues.kraken.parse import (
    KrakenMarketParser,
    KrakenParseError,
    instruments_from_asset_pairs,
    number_units,
    rfc3339_nanos,
)
from tradestack.venues.replay.recordings import read_recording

CORPUS = pytest.mark.corpus
KRAKEN = "cryptofeed/sample_data/KRAKEN.ws.48.0"  # the session: ws.48 (trade) and ws.49 (ticker)
BTC_USD = Instrument("kraken", "BTC/USD", "BTC", "USD", price_scale=1, size_scale=8)
INSTRUMENTS = {"BTC/USD": BTC_USD}


def kraken_vector(corpus: Path) -> dict[str, object]:
    data = json.loads((corpus / "exchange_docs_vectors/book_checksum_vectors.json").read_text())
    (vector,) = [item for item in data["vectors"] if item["id"] == "kraken-spot-ws-v2-book-doc-example"]
    assert isinstance(vector, dict)
    return vector


@CORPUS
def test_kraken_doc_vector_matches_from_text_and_from_units(corpus: Path) -> None:
    vector = kraken_vector(corpus)
    inputs = vector["inputs"]
    expected = vector["expected"]
    assert isinstance(inputs, dict) and isinstance(expected, dict)
    asks = [(price, qty) for price, qty in inputs["asks"]]
    bids = [(price, qty) for price, qty in inputs["bids"]]
    assert checksum_of_text(asks, bids) == expected["checksum"] == 3310070434
    units = [[(parse_fixed(p, 1), parse_fixed(q, 8)) for p, q in side] for side in (asks, bids)]
    assert checksum_of_units(units[0], units[1]) == expected["checksum"]


@pytest.mark.parametrize(
    ("text", "scale", "units"),
    [
        ("45285.2", 1, 452852),
        ("0.001", 8, 100000),
        ("0.00100000", 8, 100000),
        ("45281", 1, 452810),
        ("1.5e-05", 8, 1500),
        ("1E+2", 0, 100),
        ("0", 8, 0),
        ("12.30", 1, 123),
    ],
)
def test_json_numbers_convert_exactly(text: str, scale: int, units: int) -> None:
    assert number_units(text.encode(), scale) == units


@pytest.mark.parametrize(("text", "scale"), [("0.123", 2), ("-1", 2), ("1e-9", 8), ("nan", 2), ("1e999", 2)])
def test_json_numbers_beyond_precision_or_odd_are_refused(text: str, scale: int) -> None:
    with pytest.raises(KrakenParseError):
        number_units(text.encode(), scale)


def test_rfc3339_times_are_exact_nanoseconds() -> None:
    assert rfc3339_nanos("1970-01-01T00:00:01.000000001Z") == 1_000_000_001
    assert rfc3339_nanos("2023-10-06T17:35:55.440295Z") == 1696613755_440295000


def test_v2_book_frame_keeps_the_pair_precision_from_json_numbers() -> None:
    frame = (
        b'{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,'
        b'"qty":0.1}],"asks":[{"price":45285.2,"qty":0.001}],"checksum":12345,'
        b'"timestamp":"2023-10-06T17:35:55.440295Z"}]}'
    )
    (event,) = KrakenMarketParser(INSTRUMENTS).parse(frame, 3)
    assert event == KrakenBookUpdate(
        "BTC/USD", True, [(452835, 10000000)], [(452852, 100000)], 12345, 1696613755_440295000, 3
    )


def test_v2_trade_ticker_and_control_frames() -> None:
    parser = KrakenMarketParser(INSTRUMENTS)
    trade = (
        b'{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell","price":45283.5,'
        b'"qty":0.0005,"ord_type":"market","trade_id":4665906,"timestamp":"2023-09-25T07:49:37.708706Z"}]}'
    )
    (print_,) = parser.parse(trade, 1)
    assert print_ == TradePrint("BTC/USD", 4665906, 452835, 50000, Side.SELL, 1695628177_708706000, 1)
    ticker = (
        b'{"channel":"ticker","type":"snapshot","data":[{"symbol":"BTC/USD","bid":45283.5,"bid_qty":0.1,'
        b'"ask":45285.2,"ask_qty":1,"last":45285.2,"volume":1.5}]}'
    )
    assert parser.parse(ticker, 1) == [BestBidAsk("BTC/USD", 0, 452835, 10000000, 452852, 100000000, 1)]
    assert parser.parse(b'{"channel":"heartbeat"}', 1) == []
    assert parser.parse(b'{"method":"subscribe","result":{"channel":"book"},"success":true}', 1) == []
    (failed,) = parser.parse(
        b'{"method":"subscribe","error":"Currency pair not supported","success":false}', 1
    )
    assert isinstance(failed, Malformed) and "not supported" in failed.reason


@CORPUS
def test_every_recorded_kraken_v1_message_parses_or_is_deliberately_ignored(corpus: Path) -> None:
    header = (corpus / "cryptofeed/sample_data/KRAKEN.0").read_bytes().split(b"\n")[0]
    parser = KrakenMarketParser(instruments_from_asset_pairs(header.partition(b": ")[2]))
    counts = {"frames": 0, "ignored": 0, "TradePrint": 0, "BestBidAsk": 0}
    for record in read_recording(corpus / KRAKEN):
        counts["frames"] += 1
        events = parser.parse(record.payload, record.ts_recv)
        if not events:
            counts["ignored"] += 1
            assert record.payload.startswith(b'{"'), record.payload[:80]  # heartbeats, status, acks
        for event in events:
            assert not isinstance(event, Malformed), event
            counts[type(event).__name__] += 1
    assert counts == {"frames": 109, "ignored": 83, "TradePrint": 10, "BestBidAsk": 18}
    assert b'"book' not in b"".join(record.payload for record in read_recording(corpus / KRAKEN))


@CORPUS
def test_kraken_recording_replays_without_malformed_frames(corpus: Path) -> None:
    report = run_replay("kraken", corpus / KRAKEN)
    assert report.messages == 109 and report.malformed == 0 and report.ok
    assert report.total("trades") == 10 and report.total("tickers") == 18
    assert report.total("checksum_ok") == 0  # the recording holds no book frames


ALLOWED = (KrakenBookUpdate, TradePrint, BestBidAsk, Malformed)


@given(st.binary(max_size=512))
def test_fuzz_any_bytes_give_events_or_one_malformed(frame: bytes) -> None:
    events = KrakenMarketParser(INSTRUMENTS).parse(frame, 1)
    assert all(isinstance(event, ALLOWED) for event in events)


_NUMBER = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)


@given(st.lists(st.tuples(_NUMBER, _NUMBER), max_size=4), st.sampled_from(["snapshot", "update", "x"]))
def test_fuzz_book_shaped_frames_never_raise(levels: list[tuple[object, object]], kind: str) -> None:
    frame = json.dumps(
        {
            "channel": "book",
            "type": kind,
            "data": [
                {
                    "symbol": "BTC/USD",
                    "bids": [{"price": p, "qty": q} for p, q in levels],
                    "asks": [],
                    "checksum": 1,
                }
            ],
        }
    ).encode()
    events = KrakenMarketParser(INSTRUMENTS).parse(frame, 1)
    assert len(events) == 1 and isinstance(events[0], ALLOWED)
