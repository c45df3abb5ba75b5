"""`run_bybit_replay`: the v5 ob500 capture and the cryptofeed v2 session, with the usual report keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradestack.app.replay import SymbolReport
from tradestack.app.replay_bybit import read_v5_capture, replay_bybit_records, run_bybit_replay
from tradestack.venues.bybit.parse import BybitMarketParser

pytestmark = pytest.mark.corpus
OB500 = "nautilus_trader/tests/test_data/bybit/xrpusdt-ob500.data.zip"
V2_SYMBOLS = {
    "ADAUSDT",
    "BCHUSDT",
    "BTCUSD",
    "DOTUSDT",
    "EOSUSD",
    "ETHUSDT",
    "LINKUSDT",
    "LTCUSDT",
    "UNIUSDT",
    "XTZUSDT",
}


def test_ob500_replay_applies_every_delta_with_no_gap(corpus: Path) -> None:
    report = run_bybit_replay(corpus / OB500)
    assert report.venue == "bybit" and report.messages == 50 and report.malformed == 0
    totals = report.to_json_dict()
    assert set(totals) == {*SymbolReport.JSON_KEYS, "symbols"}
    assert (totals["events_applied"], totals["gaps"], totals["resyncs"]) == (49, 0, 0)
    xrp = report.symbols["XRPUSDT"]
    assert xrp.snapshots_used == 1 and xrp.final_state == "synced" and report.ok


def test_ob500_replay_with_a_delta_deleted_reports_the_gap(corpus: Path) -> None:
    records = list(read_v5_capture(corpus / OB500))
    del records[20]
    report = replay_bybit_records(records, BybitMarketParser.inferring().parse)
    xrp = report.symbols["XRPUSDT"]
    assert (xrp.events_applied, xrp.gaps, xrp.resyncs, xrp.skipped) == (
        19,
        1,
        1,
        28,
    )  # 19 deltas applied, the next is the gap, 28 skipped
    assert xrp.final_state == "resyncing"


def test_v2_session_replay_rebuilds_every_book_without_gaps(corpus: Path) -> None:
    report = run_bybit_replay(corpus / "cryptofeed/sample_data/BYBIT.ws.25.0")
    assert report.messages == 4440 and report.malformed == 0
    assert set(report.symbols) == V2_SYMBOLS
    assert report.total("gaps") == 0 and report.total("resyncs") == 0
    assert report.total("events_applied") == 3252 + 1016  # every delta of both connections
    assert all(
        symbol.final_state == "synced" and symbol.snapshots_used == 1 for symbol in report.symbols.values()
    )
    assert report.total("trades") == 251
