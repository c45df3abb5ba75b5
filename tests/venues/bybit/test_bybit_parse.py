"""Bybit v5 and v2 parsing: the ob500 capture, every recorded v2 message, doc-shaped fixtures, fuzzing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradestack.domain.events import BestBidAsk, Malformed, Side, TradePrint
from tradestack.domain.instruments import Instrument
from tradestack.venues.bybit.messages import BybitBookUpdate
from tradestack.venues.bybit.parse import BybitMarketParser, BybitParseError, instruments_from_rest
from tradestack.venues.bybit.parse_v2 import BybitV2MarketParser, float32_units, instruments_from_v2_symbols
from tradestack.venues.replay.recordings import RecordKind, read_recording

CORPUS = pytest.mark.corpus
OB500 = "nautilus_trader/tests/test_data/bybit/xrpusdt-ob500.data.zip"
NAUTILUS = "nautilus_trader/crates/adapters/bybit/test_data"
BYBIT_V2 = "cryptofeed/sample_data/BYBIT.ws.25.0"  # read_recording merges the session's ws.25 and ws.26
BTC = {"BTCUSDT": Instrument.from_steps("bybit", "BTCUSDT", "BTC", "USDT", "0.10", "0.001")}


def ob500_lines(corpus: Path) -> list[bytes]:
    with zipfile.ZipFile(corpus / OB500) as archive:
        return [line for name in archive.namelist() for line in archive.read(name).splitlines() if line]


@CORPUS
def test_ob500_capture_parses_exactly_with_inferred_scales(corpus: Path) -> None:
    parser = BybitMarketParser.inferring()
    events = [event for line in ob500_lines(corpus) for event in parser.parse(line, 0)]
    assert len(events) == 50 and all(isinstance(event, BybitBookUpdate) for event in events)
    updates = [event for event in events if isinstance(event, BybitBookUpdate)]
    assert [update.snapshot for update in updates].count(True) == 1 and updates[0].snapshot
    assert len(updates[0].bids) == len(updates[0].asks) == 500
    assert updates[0].bids[0] == (19531, 6203)  # "1.9531", "6203": scales 4 and 0, inferred exactly
    assert updates[0].update_id == 20254869 and updates[0].seq == 130020238981
    assert updates[0].ts_event == 1733011200691 * 1_000_000
    ids = [update.update_id for update in updates]
    assert ids == list(range(20254869, 20254869 + 50))


def test_v5_book_trade_ticker_and_acks() -> None:
    parser = BybitMarketParser(BTC)
    book = parser.parse(
        b'{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT",'
        b'"b":[["16493.50","0.006"],["16493.00","0"]],"a":[],"u":18521288,"seq":7961638724}}',
        5,
    )
    assert book == [
        BybitBookUpdate("BTCUSDT", False, [(164935, 6), (164930, 0)], [], 18521288, 7961638724, 10**6, 5)
    ]
    trade = parser.parse(
        b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,'
        b'"s":"BTCUSDT","S":"Sell","v":"0.001","p":"16578.50","L":"PlusTick",'
        b'"i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}]}',
        7,
    )
    assert len(trade) == 1 and isinstance(trade[0], TradePrint)
    assert trade[0].price == 165785 and trade[0].size == 1 and trade[0].aggressor is Side.SELL
    assert trade[0].trade_id == 0x20F43950D8DD5B319112A178EB6023AF
    ticker = parser.parse(
        b'{"topic":"tickers.BTCUSDT","type":"snapshot","cs":1,"ts":1,"data":{"symbol":"BTCUSDT",'
        b'"bid1Price":"17215.50","bid1Size":"84.489","ask1Price":"17216.00","ask1Size":"83.020"}}',
        9,
    )
    assert ticker == [BestBidAsk("BTCUSDT", 0, 172155, 84489, 172160, 83020, 9)]
    partial = (
        b'{"topic":"tickers.BTCUSDT","type":"delta","ts":1,"data":{"symbol":"BTCUSDT","bid1Price":"1.0"}}'
    )
    assert parser.parse(partial, 0) == []
    assert parser.parse(b'{"success":true,"ret_msg":"","conn_id":"x","op":"subscribe"}', 0) == []
    assert parser.parse(b'{"success":true,"ret_msg":"pong","conn_id":"x","op":"ping"}', 0) == []
    failed = parser.parse(b'{"success":false,"ret_msg":"error:handler not found","op":"subscribe"}', 0)
    assert len(failed) == 1 and isinstance(failed[0], Malformed)


@pytest.mark.parametrize(
    "frame",
    [
        b'{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["1.001","1"]],'
        b'"a":[],"u":2}}',  # beyond the tick's scale: refused, not truncated
        b'{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["-1.0","1"]],'
        b'"a":[],"u":2}}',
        b'{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["1e3","1"]],'
        b'"a":[],"u":2}}',
        b'{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"ETHUSDT","b":[],"a":[],"u":2}}',
        b'{"topic":"orderbook.50.BTCUSDT","type":"update","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":2}}',
        b'{"topic":"publicTrade.BTCUSDT","data":[{"T":1,"s":"BTCUSDT","S":"Up","v":"1","p":"1","i":"1"}]}',
        b'{"topic":"somethingNew.BTCUSDT","data":{}}',
        b"not json",
    ],
)
def test_v5_malformed_frames_give_one_malformed(frame: bytes) -> None:
    events = BybitMarketParser(BTC).parse(frame, 3)
    assert len(events) == 1 and isinstance(events[0], Malformed) and events[0].ts_recv == 3


@CORPUS
def test_nautilus_v5_public_fixtures_parse(corpus: Path) -> None:
    parser = BybitMarketParser.inferring()
    for name in ("ws_orderbook_snapshot", "ws_orderbook_delta", "ws_public_trade", "ws_ticker_linear"):
        frame = json.dumps(json.loads((corpus / NAUTILUS / f"{name}.json").read_text())).encode()
        events = parser.parse(frame, 0)
        assert events and not any(isinstance(event, Malformed) for event in events), (name, events)
    ack = json.dumps(json.loads((corpus / NAUTILUS / "ws_subscription_ack.json").read_text())).encode()
    assert parser.parse(ack, 0) == []
    failure = json.dumps(
        json.loads((corpus / NAUTILUS / "ws_subscription_failure.json").read_text())
    ).encode()
    assert isinstance(parser.parse(failure, 0)[0], Malformed)


def test_instruments_from_v5_rest() -> None:
    body = (
        b'{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[{"symbol":"BTCUSDT","baseCoin":"BTC",'
        b'"quoteCoin":"USDT","priceFilter":{"minPrice":"0.10","maxPrice":"199999.80","tickSize":"0.10"},'
        b'"lotSizeFilter":{"maxOrderQty":"100.000","minOrderQty":"0.001","qtyStep":"0.001"}}]}}'
    )
    instrument = instruments_from_rest(body)["BTCUSDT"]
    assert (instrument.price_scale, instrument.size_scale, instrument.tick, instrument.min_size) == (
        1,
        3,
        1,
        1,
    )


def v2_parser(corpus: Path) -> BybitV2MarketParser:
    header = (corpus / "cryptofeed/sample_data/BYBIT.0").read_bytes().split(b"\n")[0]
    return BybitV2MarketParser(instruments_from_v2_symbols(header.partition(b": ")[2]))


@CORPUS
def test_every_recorded_bybit_v2_message_parses_or_is_deliberately_ignored(corpus: Path) -> None:
    parser = v2_parser(corpus)
    frames = books = trades = ignored = 0
    for record in read_recording(corpus / BYBIT_V2):
        assert record.kind is RecordKind.FRAME
        frames += 1
        events = parser.parse(record.payload, record.ts_recv)
        assert not [event for event in events if isinstance(event, Malformed)], record.payload[:200]
        if not events:
            assert b'"success":true' in record.payload  # subscription acks only
            ignored += 1
        books += sum(isinstance(event, BybitBookUpdate) for event in events)
        trades += sum(isinstance(event, TradePrint) for event in events)
    assert frames == 4440 and ignored == 20
    assert books == 8 + 3252 + 2 + 1016 and trades == 251


@CORPUS
def test_v2_inverse_and_linear_rows_are_exact(corpus: Path) -> None:
    parser = v2_parser(corpus)
    events = parser.parse(
        b'{"topic":"orderBookL2_25.BCHUSDT","type":"delta","data":{"delete":[{"price":"1054.30","symbol":"BCHUSDT",'
        b'"id":"10543000","side":"Buy"}],"update":[{"price":"1053.90","symbol":"BCHUSDT","id":"10539000",'
        b'"side":"Sell","size":69.299995}],"insert":[]},"cross_seq":"5","timestamp_e6":"1618677786598877"}',
        0,
    )
    assert events == [
        BybitBookUpdate("BCHUSDT", False, [(105430, 0)], [(105390, 6930)], None, 5, 1618677786598877000, 0)
    ]


def test_float32_noise_is_read_but_real_extra_digits_are_refused() -> None:
    assert float32_units("69.299995", 2) == 6930
    assert float32_units("6684.9995", 2) == 668500
    assert float32_units("0.5", 2) == 50
    for text in ("1.234", "69.2999", "1.0000000001"):
        with pytest.raises(BybitParseError, match="float32"):
            float32_units(text, 2)


@given(st.binary(max_size=400))
def test_any_bytes_give_events_or_malformed_v5(frame: bytes) -> None:
    for event in BybitMarketParser(BTC).parse(frame, 1):
        assert isinstance(event, BybitBookUpdate | TradePrint | BestBidAsk | Malformed)


@given(st.binary(max_size=400))
def test_any_bytes_give_events_or_malformed_inferring(frame: bytes) -> None:
    for event in BybitMarketParser.inferring().parse(frame, 1):
        assert isinstance(event, BybitBookUpdate | TradePrint | BestBidAsk | Malformed)


@given(st.binary(max_size=400))
def test_any_bytes_give_events_or_malformed_v2(frame: bytes) -> None:
    parser = BybitV2MarketParser(
        {"BTCUSD": Instrument.from_steps("bybit", "BTCUSD", "BTC", "USD", "0.5", "1")}
    )
    for event in parser.parse(frame, 1):
        assert isinstance(event, BybitBookUpdate | TradePrint | Malformed)


_LEVEL = st.tuples(
    st.sampled_from(["1.5", "2", "0.001", "-1", "1e2", "x", ""]), st.sampled_from(["0", "3", "1.25"])
)


@given(
    kind=st.sampled_from(["snapshot", "delta", "other"]),
    bids=st.lists(_LEVEL, max_size=3),
    asks=st.lists(_LEVEL, max_size=3),
    update_id=st.integers(min_value=-2, max_value=2**64),
)
def test_structured_v5_books_give_events_or_malformed(
    kind: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], update_id: int
) -> None:
    frame = json.dumps(
        {
            "topic": "orderbook.50.BTCUSDT",
            "type": kind,
            "ts": 1,
            "data": {"s": "BTCUSDT", "b": bids, "a": asks, "u": update_id, "seq": 1},
        }
    ).encode()
    for parser in (BybitMarketParser(BTC), BybitMarketParser.inferring()):
        for event in parser.parse(frame, 1):
            assert isinstance(event, BybitBookUpdate | Malformed)


@CORPUS
def test_a_v2_trade_of_size_zero_is_malformed(corpus: Path) -> None:
    """Regression: found by the decoder fuzz (tests/reliability/test_decoder_fuzz.py), full run."""
    frame = (
        b'{"topic":"trade.BTCUSD","data":[{"trade_time_ms":1625184000246,"timestamp":"2021-07-02T00:00:00.000Z",'
        b'"symbol":"BTCUSD","side":"Buy","size":"0","price":32171.5,"tick_direction":"PlusTick",'
        b'"trade_id":"a8ea3e6a-7a79-5ac5-9bf8-3ed9b5a1ff09","cross_seq":6798420600}]}'
    )
    [event] = v2_parser(corpus).parse(frame, 1)
    assert isinstance(event, Malformed) and "size 0" in event.reason
