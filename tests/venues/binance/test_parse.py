"""Binance market-data parser: wire frames -> exact domain events; bad input -> Malformed, never raised."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradestack.domain.events import BestBidAsk, BookDelta, Malformed, Side, TradePrint
from tradestack.domain.instruments import Instrument, format_fixed
from tradestack.venues.binance.parse import BinanceMarketParser, MalformedMessage, SymbolScales

BTC = Instrument.from_steps("binance", "BTCUSDT", "BTC", "USDT", "0.01000000", "0.00001000")
PARSER_INSTRUMENTS = {"BTCUSDT": BTC}
TS = 1_723_161_254_087_891_268

SPOT_DEPTH = (
    b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT",'
    b'"U":50093239189,"u":50093239202,"b":[["61737.63000000","0.00000000"],["61730.17000000","1.25000000"]],'
    b'"a":[["61837.64000000","1.54698000"]]}}'
)
FUTURES_DEPTH = (
    b'{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,'
    b'"s":"BTCUSDT","U":5123107832006,"u":5123107837557,"pu":5123107831937,'
    b'"b":[["58710.20","0.014"],["61510.90","0.000"]],"a":[["61800.30","3.330"]]}}'
)
SPOT_TICKER = (
    b'{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000",'
    b'"B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}'
)
FUTURES_TICKER = (
    b'{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":5123107839020,"s":"BTCUSDT",'
    b'"b":"61800.20","B":"2.507","a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256313}}'
)
SPOT_TRADE = (
    b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,'
    b'"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}'
)
AGGREGATE_TRADE = (
    b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1626992741575,"a":16599292,"s":"BTCUSDT",'
    b'"p":"61800.30000000","q":"0.10000000","f":23961322,"l":23961323,"T":1626992741421,"m":false}}'
)


@pytest.fixture
def parser() -> BinanceMarketParser:
    return BinanceMarketParser(PARSER_INSTRUMENTS)


def only(events: list[object]) -> object:
    assert len(events) == 1, events
    return events[0]


def test_spot_depth_update_becomes_an_exact_book_delta(parser: BinanceMarketParser) -> None:
    delta = only(parser.parse(SPOT_DEPTH, TS))
    assert delta == BookDelta(
        symbol="BTCUSDT",
        first_update_id=50093239189,
        final_update_id=50093239202,
        bids=[(6173763, 0), (6173017, 125000)],  # price in cents, size in 10**-5 BTC
        asks=[(6183764, 154698)],
        ts_event=1723161255208 * 1_000_000,
        ts_recv=TS,
        prev_final_update_id=-1,  # spot has no `pu`
    )


def test_futures_depth_update_carries_pu() -> None:
    futures = Instrument.from_steps("binance-futures", "BTCUSDT", "BTC", "USDT", "0.10", "0.001")
    delta = only(BinanceMarketParser({"BTCUSDT": futures}).parse(FUTURES_DEPTH, TS))
    assert isinstance(delta, BookDelta)
    assert (delta.first_update_id, delta.final_update_id) == (5123107832006, 5123107837557)
    assert delta.prev_final_update_id == 5123107831937
    # tick 0.10 -> price scale 1, yet "58710.20" is exact at that scale (trailing zero)
    assert delta.bids == [(587102, 14), (615109, 0)]
    assert delta.asks == [(618003, 3330)]


def test_book_tickers_spot_and_futures(parser: BinanceMarketParser) -> None:
    assert only(parser.parse(SPOT_TICKER, TS)) == BestBidAsk(
        symbol="BTCUSDT",
        update_id=50093239212,
        bid_price=6183763,
        bid_size=378826,
        ask_price=6183764,
        ask_size=154698,
        ts_recv=TS,
    )
    inferring = BinanceMarketParser.inferring()
    ticker = only(inferring.parse(FUTURES_TICKER, TS))
    assert isinstance(ticker, BestBidAsk)
    assert inferring.scales("BTCUSDT") == (2, 3)
    assert (ticker.bid_price, ticker.bid_size) == (6180020, 2507)
    assert (ticker.ask_price, ticker.ask_size) == (6180030, 2510)


def test_trades_name_the_aggressor(parser: BinanceMarketParser) -> None:
    # m=true: the buyer was the maker, so the taker sold
    assert only(parser.parse(SPOT_TRADE, TS)) == TradePrint(
        symbol="BTCUSDT",
        trade_id=3735683259,
        price=6183763,
        size=2000,
        aggressor=Side.SELL,
        ts_event=1723161255342 * 1_000_000,
        ts_recv=TS,
    )
    aggregate = only(parser.parse(AGGREGATE_TRADE, TS))
    assert isinstance(aggregate, TradePrint)
    assert (aggregate.trade_id, aggregate.price, aggregate.size) == (16599292, 6180030, 10000)
    assert aggregate.aggressor is Side.BUY


def test_raw_stream_payloads_without_envelope(parser: BinanceMarketParser) -> None:
    for enveloped in (SPOT_DEPTH, SPOT_TICKER, SPOT_TRADE, AGGREGATE_TRADE):
        raw = msgspec.json.encode(msgspec.json.decode(enveloped)["data"])
        assert parser.parse(raw, TS) == parser.parse(enveloped, TS)


def test_acks_and_unmapped_channels_give_nothing(parser: BinanceMarketParser) -> None:
    assert parser.parse(b'{"result":null,"id":1}', TS) == []
    kline = b'{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1,"s":"BTCUSDT","k":{"o":"1.0"}}}'
    assert parser.parse(kline, TS) == []
    partial_depth = b'{"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":1,"bids":[],"asks":[]}}'
    assert parser.parse(partial_depth, TS) == []


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"", "DecodeError"),
        (b"not json", "DecodeError"),
        (b"[1,2,3]", "ValidationError"),
        (SPOT_DEPTH[:-30], "DecodeError"),  # truncated
        (SPOT_DEPTH.replace(b'"U":50093239189', b'"U":"x"'), "ValidationError"),
        (SPOT_DEPTH.replace(b'"61837.64000000"', b'"-61837.64000000"'), "not an unsigned decimal"),
        (SPOT_DEPTH.replace(b'"61837.64000000"', b'"+61837.64000000"'), "not an unsigned decimal"),
        (SPOT_DEPTH.replace(b'"61837.64000000"', b'"6_1837.64000000"'), "not an unsigned decimal"),
        (SPOT_DEPTH.replace(b'"61837.64000000"', b'"61837.64000000 "'), "not an unsigned decimal"),
        (SPOT_DEPTH.replace(b'"61837.64000000"', b'"1e5"'), "not an unsigned decimal"),
        (SPOT_DEPTH.replace(b'"61837.64000000"', b'"61837.641"'), "NotRepresentable"),  # never truncated
        (SPOT_DEPTH.replace(b"BTCUSDT", b"ETHUSDT"), "no instrument"),
        (b'{"code":-1121,"msg":"Invalid symbol."}', "venue error -1121"),
    ],
)
def test_bad_frames_become_one_malformed(parser: BinanceMarketParser, frame: bytes, reason: str) -> None:
    event = only(parser.parse(frame, TS))
    assert isinstance(event, Malformed)
    assert reason in event.reason
    assert event.sample == frame[:200]
    assert event.ts_recv == TS


@given(frame=st.binary(max_size=300))
def test_never_raises_on_any_bytes(frame: bytes) -> None:
    events = BinanceMarketParser.inferring().parse(frame, TS)
    assert all(isinstance(event, (BookDelta, BestBidAsk, TradePrint, Malformed)) for event in events)


@given(frame=st.sampled_from([SPOT_DEPTH, FUTURES_DEPTH, SPOT_TICKER, SPOT_TRADE]), data=st.data())
def test_never_raises_on_corrupted_frames(frame: bytes, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    replacement = data.draw(st.binary(min_size=1, max_size=3))
    corrupted = frame[:position] + replacement + frame[position + 1 :]
    assert isinstance(BinanceMarketParser.inferring().parse(corrupted, TS), list)


def test_unpadded_strings_are_still_exact(parser: BinanceMarketParser) -> None:
    # fewer decimals than the padding, or none: the strict path pads them
    frame = SPOT_DEPTH.replace(b'"61837.64000000","1.54698000"', b'"61837.6","1"')
    delta = only(parser.parse(frame, TS))
    assert isinstance(delta, BookDelta)
    assert delta.asks == [(6183760, 100000)]


def test_fields_binance_may_add_later_are_ignored(parser: BinanceMarketParser) -> None:
    extended = SPOT_DEPTH.replace(b'"s":"BTCUSDT",', b'"s":"BTCUSDT","x":"1.5","pu":-1,')
    assert parser.parse(extended, TS) == parser.parse(SPOT_DEPTH, TS)


def test_a_json_escape_is_read_for_what_it_encodes(parser: BinanceMarketParser) -> None:
    escaped = SPOT_DEPTH.replace(b'"1.54698000"', b'"\\u0031.54698000"')
    assert parser.parse(escaped, TS) == parser.parse(SPOT_DEPTH, TS)


def test_inferred_scales_come_from_the_padding_and_reject_wider_strings() -> None:
    parser = BinanceMarketParser.inferring()
    assert parser.scales("BTCUSDT") is None
    first = only(parser.parse(SPOT_DEPTH, TS))
    assert parser.scales("BTCUSDT") == (8, 8)
    assert isinstance(first, BookDelta)
    assert first.bids[1] == (6173017000000, 125000000)
    wider = SPOT_DEPTH.replace(b'"61837.64000000"', b'"61837.640000001"')
    assert isinstance(only(parser.parse(wider, TS)), Malformed)
    padded_more = SPOT_DEPTH.replace(b'"61837.64000000"', b'"61837.640000000"')  # a zero more: exact
    delta = only(parser.parse(padded_more, TS))
    assert isinstance(delta, BookDelta)
    assert delta.asks == [(6183764000000, 154698000)]


def test_a_parser_needs_instruments_or_inference() -> None:
    with pytest.raises(ValueError, match="infer_scales"):
        BinanceMarketParser()


def test_depth_snapshots_spot_and_futures(parser: BinanceMarketParser) -> None:
    body = (
        b'{"lastUpdateId":50093239218,"bids":[["61837.63000000","3.78826000"]],'
        b'"asks":[["61837.64000000","1.60520000"]]}'
    )
    snapshot = parser.parse_depth_snapshot(body, "BTCUSDT", TS)
    assert snapshot.last_update_id == 50093239218
    assert snapshot.bids == [(6183763, 378826)]
    assert snapshot.asks == [(6183764, 160520)]
    assert (snapshot.ts_event, snapshot.ts_recv) == (0, TS)  # spot REST gives no event time

    futures = (
        b'{"lastUpdateId":5123107852948,"E":1723161256501,"T":1723161256493,'
        b'"bids":[["61800.20","2.909"]],"asks":[]}'
    )
    snapshot = BinanceMarketParser.inferring().parse_depth_snapshot(futures, "BTCUSDT", TS)
    assert snapshot.bids == [(6180020, 2909)]
    assert snapshot.ts_event == 1723161256501 * 1_000_000


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b'{"lastUpdateId":1,"bids":[["1.001","1"]],"asks":[]}',
        b'{"code":-1003,"msg":"Too many requests"}',
    ],
)
def test_bad_snapshots_raise_malformed_message(parser: BinanceMarketParser, body: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parser.parse_depth_snapshot(body, "BTCUSDT", TS)


@given(
    levels=st.lists(
        st.tuples(st.integers(min_value=0, max_value=10**15), st.integers(min_value=0, max_value=10**15)),
        max_size=20,
    ),
    price_scale=st.integers(min_value=0, max_value=10),
    size_scale=st.integers(min_value=0, max_value=10),
)
def test_fast_path_equals_the_strict_path_and_decimal(
    levels: list[tuple[int, int]], price_scale: int, size_scale: int
) -> None:
    wire = [(format_fixed(price, price_scale), format_fixed(size, size_scale)) for price, size in levels]
    frame = msgspec.json.encode({"b": wire})
    scales = SymbolScales(price_scale, size_scale)
    bids, asks = scales.levels(frame, wire, [])
    assert bids == levels == scales.strict(wire)
    assert asks == []
    assert all(
        Decimal(text).scaleb(price_scale) == price for (text, _), (price, _) in zip(wire, bids, strict=True)
    )


def test_every_recorded_spot_frame_parses_exactly(corpus: Path) -> None:
    """Real frames against Decimal: every price and size of ~3,400 depth diffs and ~28,000 tickers."""
    parser = BinanceMarketParser.inferring()
    checked = 0
    with gzip.open(corpus / "hftbacktest/examples/spot/btcusdt_20240808.gz", "rb") as lines:
        for line in lines:
            stamp, _, frame = line.rstrip(b"\n").partition(b" ")
            if not frame.startswith(b'{"stream"'):
                continue
            data = msgspec.json.decode(frame)["data"]
            event = only(parser.parse(frame, int(stamp)))
            if isinstance(event, BookDelta):
                expected = (
                    [(units(p), units(q)) for p, q in data["b"]],
                    [(units(p), units(q)) for p, q in data["a"]],
                )
                assert (event.bids, event.asks) == expected
                checked += 1
            elif isinstance(event, BestBidAsk):
                assert (event.bid_price, event.bid_size) == (units(data["b"]), units(data["B"]))
                assert (event.ask_price, event.ask_size) == (units(data["a"]), units(data["A"]))
            else:
                assert isinstance(event, TradePrint)
    assert checked == 3451


def units(text: str) -> int:
    value = Decimal(text).scaleb(8)
    assert value == value.to_integral_value()
    return int(value)
