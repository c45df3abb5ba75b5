"""The parser with the C level conversion gives the same events as without it, on any frame.

With `tradestack._native` built, depth diffs and snapshots keep their level arrays as raw JSON and
convert them in C; whatever C declines goes through the Python paths. Here both configurations parse
the same frames (generated: padded, unpadded, escaped, over-wide, beyond int64, broken; and every
frame of the recordings) and must agree event for event, Malformed reasons included.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.native import native_and_python, python_only
from tradestack import _native
from tradestack.domain.events import BookDelta, MarketEvent
from tradestack.domain.instruments import Instrument
from tradestack.venues.binance.parse import BinanceMarketParser, MalformedMessage

pytestmark = pytest.mark.skipif(not _native.BUILT, reason="tradestack._native._speedups is not built")

TS = 1_723_161_254_087_891_268


def both(frames: list[bytes], instruments: dict[str, Instrument] | None) -> tuple[list[object], list[object]]:
    """Each frame through a fresh parser in each configuration (inferring when no instruments)."""

    def parser() -> BinanceMarketParser:
        return BinanceMarketParser(instruments) if instruments else BinanceMarketParser.inferring()

    return native_and_python(parser, frames, TS)


def number_text(value: int, scale: int, style: str) -> str:
    whole, fraction = divmod(value, 10**scale)
    padded = f"{whole}.{fraction:0{scale}d}" if scale else str(whole)
    if style == "padded":
        return padded
    if style == "unpadded":
        return padded.rstrip("0").rstrip(".") if scale else padded
    if style == "wider":
        return padded + ("00" if scale else ".00")
    if style == "significant":
        return padded + ("7" if scale else ".7")  # not representable at this scale
    if style == "signed":
        return "-" + padded
    if style == "exponent":
        return f"{value}e-{scale}"
    return padded + " "


styles = st.sampled_from(
    ["padded"] * 12 + ["unpadded"] * 3 + ["wider", "significant", "signed", "exponent", "space"]
)
values = st.one_of(st.integers(min_value=0, max_value=10**14), st.sampled_from([2**63 - 1, 2**63, 10**25]))
levels = st.lists(st.tuples(values, styles, values, styles), max_size=8)


def depth_frame(bids: list[list[str]], asks: list[list[str]], envelope: bool, escape: bool) -> bytes:
    data = {"e": "depthUpdate", "E": 1723161255208, "s": "BTCUSDT", "U": 5, "u": 9, "b": bids, "a": asks}
    payload = msgspec.json.encode(data)
    if escape:
        payload = payload.replace(b'"1', b'"\\u0031', 1)
    if envelope:
        return b'{"stream":"btcusdt@depth@100ms","data":' + payload + b"}"
    return payload


@settings(max_examples=400, deadline=None)
@given(
    bids=levels,
    asks=levels,
    price_scale=st.integers(min_value=0, max_value=10),
    size_scale=st.integers(min_value=0, max_value=10),
    envelope=st.booleans(),
    escape=st.booleans(),
    infer=st.booleans(),
)
def test_generated_depth_frames_parse_the_same_with_and_without_c(
    bids: list[tuple[int, str, int, str]],
    asks: list[tuple[int, str, int, str]],
    price_scale: int,
    size_scale: int,
    envelope: bool,
    escape: bool,
    infer: bool,
) -> None:
    def wire(side: list[tuple[int, str, int, str]]) -> list[list[str]]:
        return [
            [number_text(price, price_scale, p_style), number_text(size, size_scale, s_style)]
            for price, p_style, size, s_style in side
        ]

    frame = depth_frame(wire(bids), wire(asks), envelope, escape)
    instrument = Instrument("binance", "BTCUSDT", "BTC", "USDT", price_scale, size_scale)
    native, python = both([frame, frame], None if infer else {"BTCUSDT": instrument})
    assert native == python


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0, max_value=400), replacement=st.binary(min_size=1, max_size=3))
def test_corrupted_frames_parse_the_same_with_and_without_c(position: int, replacement: bytes) -> None:
    frame = depth_frame([["61737.63000000", "0.00000000"], ["61730.17000000", "1.25000000"]], [], True, False)
    position %= len(frame)
    corrupted = frame[:position] + replacement + frame[position + 1 :]
    native, python = both([frame, corrupted], None)
    assert native == python


def test_snapshots_parse_the_same_with_and_without_c() -> None:
    bodies = [
        b'{"lastUpdateId":7,"bids":[["61837.63000000","3.78826000"]],"asks":[["61837.64000000","1.6052"]]}',
        b'{"lastUpdateId":7,"E":5,"T":4,"bids":[["61800.2","2.909"]],"asks":[]}',
        b'{"lastUpdateId":7,"bids":[["1.001","1"]],"asks":[]}',
        b'{"lastUpdateId":7,"bids":[["99999999999999999999.5","1"]],"asks":[]}',
        b'{"lastUpdateId":7,"bids":[["\\u0031.5","1"]],"asks":[]}',
        b'{"lastUpdateId":7,"bids":[["1.5","1","2"]],"asks":[]}',
        b'{"lastUpdateId":7,"bids":5,"asks":[]}',
        b'{"code":-1003,"msg":"Too many requests"}',
    ]
    instrument = Instrument.from_steps("binance", "BTCUSDT", "BTC", "USDT", "0.01", "0.0001")

    def outcome(parser: BinanceMarketParser, body: bytes) -> object:
        try:
            return parser.parse_depth_snapshot(body, "BTCUSDT", TS)
        except MalformedMessage as error:
            return f"MalformedMessage: {error}"

    for instruments in (None, {"BTCUSDT": instrument}):
        for body in bodies:
            native_parser = BinanceMarketParser(instruments, infer_scales=instruments is None)
            native = outcome(native_parser, body)
            with python_only():
                python_parser = BinanceMarketParser(instruments, infer_scales=instruments is None)
                python = outcome(python_parser, body)
            assert native == python, body


RECORDINGS = [
    "hftbacktest/examples/spot/btcusdt_20240808.gz",
    "hftbacktest/examples/usdm/btcusdt_20240808.gz",
]


def recorded_frames(path: Path) -> Iterator[bytes]:
    with gzip.open(path, "rb") as lines:
        for line in lines:
            _, _, frame = line.rstrip(b"\n").partition(b" ")
            if frame.startswith(b"{"):
                yield frame


@pytest.mark.corpus
@pytest.mark.parametrize("recording", RECORDINGS)
def test_every_recorded_frame_parses_the_same_with_and_without_c(corpus: Path, recording: str) -> None:
    frames = list(recorded_frames(corpus / recording))
    native_parser = BinanceMarketParser.inferring()
    native: list[list[MarketEvent]] = []
    for frame in frames:
        if frame.startswith(b'{"lastUpdateId"'):
            native.append([native_parser.parse_depth_snapshot(frame, "BTCUSDT", TS)])
        else:
            native.append(native_parser.parse(frame, TS))
    with python_only():
        python_parser = BinanceMarketParser.inferring()
        for index, frame in enumerate(frames):
            if frame.startswith(b'{"lastUpdateId"'):
                assert native[index] == [python_parser.parse_depth_snapshot(frame, "BTCUSDT", TS)]
            else:
                assert native[index] == python_parser.parse(frame, TS), frame[:200]
    depth = sum(isinstance(event, BookDelta) for events in native for event in events)
    assert depth > 3000
