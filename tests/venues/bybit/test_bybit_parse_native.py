"""Bybit's parser with the C level conversion gives the same events as without it, on any frame.

With `tradestack._native` built, book frames whose scales are known keep their level arrays as raw JSON
and convert them in C; whatever C declines goes through the Python path. Both configurations parse the
same frames — every frame of the recorded ob500 capture, and generated ones (unpadded, over-wide,
beyond int64, escaped, three-element levels, wrong types) — and must agree event for event, Malformed
reasons included.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.native import native_and_python
from tradestack import _native
from tradestack.domain.instruments import Instrument
from tradestack.venues.bybit.parse import BybitMarketParser

pytestmark = pytest.mark.skipif(not _native.BUILT, reason="tradestack._native._speedups is not built")

OB500 = "nautilus_trader/tests/test_data/bybit/xrpusdt-ob500.data.zip"
TS = 1_700_000_000_000_000_000
BTC = {"BTCUSDT": Instrument.from_steps("bybit", "BTCUSDT", "BTC", "USDT", "0.01", "0.000001")}


def both(frames: list[bytes], instruments: dict[str, Instrument] | None) -> tuple[list[object], list[object]]:
    """Each frame through a fresh parser in each configuration (inferring when no instruments)."""

    def parser() -> BybitMarketParser:
        return BybitMarketParser(instruments) if instruments else BybitMarketParser.inferring()

    return native_and_python(parser, frames, TS)


def book(bids: str, asks: str, kind: str = "delta", extra: str = "") -> bytes:
    return (
        f'{{"topic":"orderbook.50.BTCUSDT","type":"{kind}","ts":1700000000123,'
        f'"data":{{"s":"BTCUSDT","b":{bids},"a":{asks},"u":42,"seq":7}}{extra}}}'
    ).encode()


@pytest.mark.corpus
def test_the_recorded_capture_parses_the_same_with_and_without_c(corpus: Path) -> None:
    with zipfile.ZipFile(corpus / OB500) as archive:
        frames = [line for name in archive.namelist() for line in archive.read(name).splitlines() if line]
    native, python = both(frames, None)  # the capture has no instrument info: inferring
    assert native == python
    assert len(frames) == 50 and all(len(events) == 1 for events in native)


EDGE_FRAMES = [
    book('[["30000.01","0.5"]]', '[["30000.02","1.000000"]]', "snapshot"),
    book('[["30000.1","0.5"]]', "[]"),  # unpadded
    book('[["30000.011","0.5"]]', "[]"),  # a significant decimal beyond the tick: refused either way
    book('[["30000.010","0.5"]]', "[]"),  # a zero beyond it: fine
    book('[["99999999999999999999","1"]]', "[]"),  # beyond int64: C declines, Python decides
    book('[["30000.01","0.5","x"]]', "[]"),  # three elements
    book('[["3\\u0030000.01","0.5"]]', "[]"),  # an escape
    book('[[30000.01,"0.5"]]', "[]"),  # a number, not a string
    book('[["-1","0.5"]]', "[]"),
    book('[["30000.01","0"]]', "[]"),  # size 0: delete the level
    book("[]", "[]", "delta", ',"op":5'),  # a probe field of the wrong type
    book("[]", "[]", "bogus"),
    book('[["1e3","1"]]', "[]"),
]


def test_edge_frames_parse_the_same_with_and_without_c() -> None:
    native, python = both(EDGE_FRAMES, BTC)
    assert native == python


decimal_text = st.from_regex(r"-?[0-9]{0,22}(\.[0-9]{0,10})?(e[0-9])?", fullmatch=True)
level = st.lists(decimal_text, min_size=1, max_size=3).map(
    lambda texts: "[" + ",".join(f'"{t}"' for t in texts) + "]"
)


@settings(max_examples=300, deadline=None)
@given(st.lists(level, max_size=6), st.lists(level, max_size=6))
def test_any_levels_parse_the_same_with_and_without_c(bids: list[str], asks: list[str]) -> None:
    frame = book("[" + ",".join(bids) + "]", "[" + ",".join(asks) + "]")
    native, python = both([frame], BTC)
    assert native == python
