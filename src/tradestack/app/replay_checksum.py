"""Replay a recorded OKX or Kraken session through the venue's parser and book sync (checksum venues).

Both venues push their own snapshots over the WebSocket and sign each book state with a CRC32, so
the report's checksum_ok / checksum_failed count every checksum the venue sent against the book we
rebuilt. Instruments (for exact integer units) come from the REST responses the recorder saved in
the session header (`<EXCH>.0`: OKX `/api/v5/public/instruments`, Kraken `/0/public/AssetPairs`).
Pure apart from reading the files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Protocol

from tradestack.app.replay import ReplayReport, SymbolReport
from tradestack.domain.events import BestBidAsk, Malformed, TradePrint
from tradestack.domain.instruments import Instrument
from tradestack.venues.kraken.book_sync import KrakenBookSync
from tradestack.venues.kraken.messages import KrakenBookUpdate
from tradestack.venues.kraken.parse import KrakenMarketParser, instruments_from_asset_pairs
from tradestack.venues.okx.book_sync import OkxBookSync
from tradestack.venues.okx.messages import OkxBookUpdate
from tradestack.venues.okx.parse import OkxMarketParser, instruments_from_rest
from tradestack.venues.replay.recordings import Record, RecordKind, read_recording
from tradestack.venues.replay.session_header import header_bodies

CHECKSUM_VENUES = ("okx", "kraken")


def recorded_instruments(venue: str, path: Path) -> dict[str, Instrument]:
    """The instruments the recorder fetched before connecting, from the session header."""
    instruments: dict[str, Instrument] = {}
    for url, body in header_bodies(path).items():
        if venue == "okx" and "/api/v5/public/instruments" in url:
            instruments.update(instruments_from_rest(body, "okx"))
        elif venue == "kraken" and url.endswith("/0/public/AssetPairs"):
            instruments.update(instruments_from_asset_pairs(body))
    if not instruments:
        raise ValueError(f"{path}: the session header holds no {venue} instruments")
    return instruments


def run_checksum_replay(venue: str, path: Path) -> ReplayReport:
    return replay_checksum_records(venue, read_recording(path), recorded_instruments(venue, path), path)


def replay_checksum_records(
    venue: str,
    records: Iterable[Record],
    instruments: Mapping[str, Instrument],
    path: Path | None = None,
    kraken_depth: int = 10,
) -> ReplayReport:
    """Rebuild every symbol's book from `records` and count checksums, gaps and resyncs."""
    if venue not in CHECKSUM_VENUES:
        raise ValueError(f"venue {venue!r}: checksum replay knows {CHECKSUM_VENUES}")
    report = ReplayReport(venue=venue, path=path if path is not None else Path("-"))
    okx_books: dict[str, OkxBookSync] = {}
    kraken_books: dict[str, KrakenBookSync] = {}
    parse: Callable[[bytes, int], Iterable[object]] = (
        OkxMarketParser(instruments).parse if venue == "okx" else KrakenMarketParser(instruments).parse
    )

    def symbol_report(symbol: str) -> SymbolReport:
        found = report.symbols.get(symbol)
        if found is None:
            found = report.symbols[symbol] = SymbolReport()
        return found

    for record in records:
        report.messages += 1
        if record.kind is not RecordKind.FRAME:
            continue  # neither venue syncs books from REST snapshots
        for event in parse(record.payload, record.ts_recv):
            if isinstance(event, OkxBookUpdate):
                okx = okx_books.get(event.symbol) or okx_books.setdefault(
                    event.symbol, OkxBookSync(event.symbol)
                )
                symbol_report(event.symbol).messages += 1
                symbol_report(event.symbol).depth_events += 1
                okx.on_message(event)
            elif isinstance(event, KrakenBookUpdate):
                kraken = kraken_books.get(event.symbol) or kraken_books.setdefault(
                    event.symbol, KrakenBookSync(event.symbol, kraken_depth)
                )
                symbol_report(event.symbol).messages += 1
                symbol_report(event.symbol).depth_events += 1
                kraken.on_message(event)
            elif isinstance(event, TradePrint):
                symbol_report(event.symbol).messages += 1
                symbol_report(event.symbol).trades += 1
            elif isinstance(event, BestBidAsk):
                symbol_report(event.symbol).messages += 1
                symbol_report(event.symbol).tickers += 1
            elif isinstance(event, Malformed):
                report.malformed += 1
                if report.first_malformed is None:
                    report.first_malformed = event.reason

    for symbol, okx in okx_books.items():
        _fill(symbol_report(symbol), okx.counters, okx.state.value, okx.counters.snapshots_applied)
    for symbol, kraken in kraken_books.items():
        _fill(symbol_report(symbol), kraken.counters, kraken.state.value, kraken.counters.snapshots_applied)
    return report


class _Counters(Protocol):  # the fields both venues' SyncCounters have
    events_applied: int
    gaps: int
    resyncs: int
    skipped: int
    checksum_ok: int
    checksum_failed: int


def _fill(report: SymbolReport, counters: _Counters, state: str, snapshots: int) -> None:
    report.events_applied = counters.events_applied
    report.gaps = counters.gaps
    report.resyncs = counters.resyncs
    report.skipped = counters.skipped
    report.checksum_ok = counters.checksum_ok
    report.checksum_failed = counters.checksum_failed
    report.snapshots_used = snapshots
    report.final_state = state
