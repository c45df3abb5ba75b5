"""Replay a recorded Coinbase Exchange ws-feed session through the parser, book sync and cross-check.

Coinbase pushes the level2 snapshot over the WebSocket, so REST records are not used. Products (for
exact integer units) come from the `GET /products` response the recorder saved in the session header
(`COINBASE.0`); without one, scale 8 is used (exact for Coinbase). Coinbase publishes no book
checksum: checksum counts stay 0. Gaps count every detected break (matches trade-id gaps, sequence
regressions, crossed books). Pure apart from reading the files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from tradestack.app.replay import ReplayReport, SymbolReport
from tradestack.domain.events import Malformed
from tradestack.domain.instruments import Instrument
from tradestack.venues.coinbase.book_sync import CoinbaseBookSync, TickerCrossCheck
from tradestack.venues.coinbase.messages import CoinbaseBestBidAsk, CoinbaseBookUpdate, CoinbaseTradePrint
from tradestack.venues.coinbase.parse import CoinbaseMarketParser, products_from_rest
from tradestack.venues.replay.recordings import Record, RecordKind, read_recording
from tradestack.venues.replay.session_header import header_bodies


def recorded_products(path: Path) -> dict[str, Instrument] | None:
    """The products the recorder fetched before connecting, or None when the header has none."""
    for url, body in header_bodies(path).items():
        if url.rstrip("/").endswith("/products"):
            return products_from_rest(body)
    return None


def run_coinbase_replay(path: Path) -> ReplayReport:
    """`tradestack replay --venue coinbase FILE`: rebuild every product's book and report."""
    return replay_coinbase_records(read_recording(path), recorded_products(path), path)


class _Product:
    __slots__ = ("check", "report", "sync")

    def __init__(self, symbol: str) -> None:
        self.sync = CoinbaseBookSync(symbol)
        self.check = TickerCrossCheck(self.sync)
        self.report = SymbolReport()


def replay_coinbase_records(
    records: Iterable[Record],
    products: Mapping[str, Instrument] | None = None,
    path: Path | None = None,
) -> ReplayReport:
    """`run_coinbase_replay` over records already read, e.g. a recording edited by a test."""
    parser = CoinbaseMarketParser(products)
    report = ReplayReport(venue="coinbase", path=path if path is not None else Path("-"))
    states: dict[str, _Product] = {}

    def state_of(symbol: str) -> _Product:
        found = states.get(symbol)
        if found is None:
            found = states[symbol] = _Product(symbol)
        return found

    for record in records:
        report.messages += 1
        if record.kind is not RecordKind.FRAME:
            continue
        for event in parser.parse(record.payload, record.ts_recv):
            if isinstance(event, CoinbaseBookUpdate):
                state = state_of(event.symbol)
                state.report.messages += 1
                state.report.depth_events += 1
                state.check.before_update(event)
                state.sync.on_book(event)
                state.check.after_update()
            elif isinstance(event, CoinbaseBestBidAsk):
                state = state_of(event.symbol)
                state.report.messages += 1
                state.report.tickers += 1
                state.sync.on_ticker_sequence(event)
                state.check.on_ticker(event)
            elif isinstance(event, CoinbaseTradePrint):
                state = state_of(event.symbol)
                state.report.messages += 1
                state.report.trades += 1
                state.sync.on_trade(event)
            elif isinstance(event, Malformed):
                report.malformed += 1
                if report.first_malformed is None:
                    report.first_malformed = event.reason

    for symbol, state in states.items():
        state.check.finish()
        counters = state.sync.counters
        symbol_report = state.report
        symbol_report.events_applied = counters.events_applied
        symbol_report.gaps = counters.gaps
        symbol_report.resyncs = counters.resyncs
        symbol_report.skipped = counters.skipped
        symbol_report.snapshots_used = counters.snapshots_applied
        symbol_report.crosscheck_ok = state.check.ok
        symbol_report.crosscheck_failed = state.check.failed
        symbol_report.crosscheck_unmatched = state.check.unmatched
        symbol_report.final_state = state.sync.state.value
        report.symbols[symbol] = symbol_report
    return report
