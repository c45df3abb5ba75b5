"""OKX v5 parsing and checksum: the doc vectors, every recorded OKCOIN message, and fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradestack.domain.events import BestBidAsk, Malformed, Side, TradePrint
from tradestack.domain.instruments import Instrument
from tradestack.venues.okx.checksum import check_string, checksum
from tradestack.venues.okx.messages import OkxBookUpdate
from tradestack.venues.okx.parse import OkxMarketParser, instruments_from_rest
from tradestack.venues.replay.recordings import RecordKind, read_recording

CORPUS = pytest.mark.corpus
OKCOIN = "cryptofeed/sample_data/OKCOIN.ws.1.0"
INSTRUMENTS = {
    "BTC-USDT": Instrument.from_steps("okx", "BTC-USDT", "BTC", "USDT", "0.1", "0.00000001"),
}


def okx_vectors(corpus: Path) -> list[dict[str, object]]:
    data = json.loads((corpus / "exchange_docs_vectors/book_checksum_vectors.json").read_text())
    vectors = [vector for vector in data["vectors"] if vector["exchange"] == "okx"]
    assert vectors
    return vectors


@CORPUS
def test_okx_doc_checksum_vectors_match(corpus: Path) -> None:
    for vector in okx_vectors(corpus):
        inputs = vector["inputs"]
        expected = vector["expected"]
        assert isinstance(inputs, dict) and isinstance(expected, dict)
        bids = [(level[0], level[1]) for level in inputs["bids"]]
        asks = [(level[0], level[1]) for level in inputs["asks"]]
        assert check_string(bids, asks) == expected["check_string"], vector["id"]
        assert checksum(bids, asks) == expected["checksum"], vector["id"]


def test_checksum_takes_only_the_top_25_and_is_signed() -> None:
    bids = [(str(1000 - index), "1") for index in range(30)]
    asks = [(str(2000 + index), "2") for index in range(30)]
    assert checksum(bids, asks) == checksum(bids[:25], asks[:25])
    assert check_string(bids, asks).count(":") == 25 * 4 - 1
    assert -(2**31) <= checksum(bids, asks) < 2**31


def recorded_parser(corpus: Path) -> OkxMarketParser:
    header = (corpus / "cryptofeed/sample_data/OKCOIN.0").read_bytes().split(b"\n")[0]
    return OkxMarketParser(instruments_from_rest(header.partition(b": ")[2], "okcoin"))


@CORPUS
def test_every_recorded_okcoin_message_parses_or_is_deliberately_ignored(corpus: Path) -> None:
    parser = recorded_parser(corpus)
    kinds: dict[str, int] = {}
    frames = ignored = 0
    for record in read_recording(corpus / OKCOIN):
        assert record.kind is RecordKind.FRAME
        frames += 1
        events = parser.parse(record.payload, record.ts_recv)
        if not events:
            ignored += 1
            assert b'"event":"subscribe"' in record.payload or b'"candle1m"' in record.payload
        for event in events:
            assert not isinstance(event, Malformed), event
            kinds[type(event).__name__] = kinds.get(type(event).__name__, 0) + 1
    assert frames == 70
    assert kinds == {"OkxBookUpdate": 6, "BestBidAsk": 8, "TradePrint": 4}
    assert ignored == 52


def test_book_levels_keep_the_exact_strings_beside_exact_units() -> None:
    frame = (
        b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":'
        b'[["8477.1","415","0","13"],["8478","7","0","2"]],"bids":[["8476.9","0.00012","0","1"]],'
        b'"ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}'
    )
    (event,) = OkxMarketParser(INSTRUMENTS).parse(frame, 7)
    assert isinstance(event, OkxBookUpdate)
    assert event.snapshot and event.seq_id == 123456 and event.prev_seq_id == -1
    assert event.asks == [(84771, 41500000000, "8477.1", "415"), (84780, 700000000, "8478", "7")]
    assert event.bids == [(84769, 12000, "8476.9", "0.00012")]
    assert event.ts_event == 1597026383085 * 1_000_000 and event.ts_recv == 7


def test_price_beyond_the_tick_is_malformed_not_truncated() -> None:
    frame = (
        b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":'
        b'[["8476.98","415","0","13"]],"bids":[],"ts":"1","checksum":0}]}'
    )
    (event,) = OkxMarketParser(INSTRUMENTS).parse(frame, 1)
    assert isinstance(event, Malformed)
    assert "decimals" in event.reason


def test_trades_tickers_acks_and_errors() -> None:
    parser = OkxMarketParser(INSTRUMENTS)
    trade = (
        b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",'
        b'"tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897"}]}'
    )
    assert parser.parse(trade, 5) == [
        TradePrint("BTC-USDT", 130639474, 422199, 12060306, Side.BUY, 1630048897897_000_000, 5)
    ]
    ticker = (
        b'{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","askPx":"9999.9",'
        b'"askSz":"11","bidPx":"8888.8","bidSz":"5","ts":"1597026383085"}]}'
    )
    assert parser.parse(ticker, 5) == [BestBidAsk("BTC-USDT", 0, 88888, 500000000, 99999, 1100000000, 5)]
    assert parser.parse(b"pong", 5) == []
    assert parser.parse(b'{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}', 5) == []
    (error,) = parser.parse(b'{"event":"error","code":"60012","msg":"Invalid request"}', 5)
    assert isinstance(error, Malformed) and "60012" in error.reason
    (unknown,) = parser.parse(b'{"arg":{"channel":"books","instId":"ETH-USDT"},"data":[]}', 5)
    assert isinstance(unknown, Malformed) and "no instrument" in unknown.reason


ALLOWED = (OkxBookUpdate, TradePrint, BestBidAsk, Malformed)


@given(st.binary(max_size=512))
def test_fuzz_any_bytes_give_events_or_one_malformed(frame: bytes) -> None:
    events = OkxMarketParser(INSTRUMENTS).parse(frame, 1)
    assert all(isinstance(event, ALLOWED) for event in events)


_TEXT = st.text(alphabet="0123456789.-eE+ ", max_size=8)


@given(
    st.lists(st.tuples(_TEXT, _TEXT), max_size=4),
    st.lists(st.tuples(_TEXT, _TEXT), max_size=4),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from(["snapshot", "update", "partial", ""]),
)
def test_fuzz_book_shaped_frames_never_raise(
    bids: list[tuple[str, str]], asks: list[tuple[str, str]], check: int, action: str
) -> None:
    frame = json.dumps(
        {
            "arg": {"channel": "books", "instId": "BTC-USDT"},
            "action": action,
            "data": [
                {
                    "bids": [[*level, "0", "1"] for level in bids],
                    "asks": [[*level] for level in asks],
                    "ts": "1",
                    "checksum": check,
                }
            ],
        }
    ).encode()
    events = OkxMarketParser(INSTRUMENTS).parse(frame, 1)
    assert len(events) == 1 and isinstance(events[0], ALLOWED)
