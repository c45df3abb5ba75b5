"""Replay a recorded Bybit session through the Bybit parser and book sync: `run_bybit_replay(path)`.

Two recordings:
- a v5 capture (nautilus_trader's `xrpusdt-ob500.data.zip`): one raw v5 frame per line, plain or in a
  zip archive; it holds no receive times, so each frame's `ts_recv` is its own `ts` (ms);
- a cryptofeed sample_data session (`BYBIT.ws.<n>.0`, the 2021 v2 API): every ws file of the session,
  parsed with the v2 parser, instruments from the `/v2/public/symbols` body in `BYBIT.0`.
Bybit publishes no book checksum, so checksum counts stay 0. Pure apart from reading the files.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from tradestack.app.replay import ReplayReport, SymbolReport
from tradestack.domain.events import BestBidAsk, Malformed, TradePrint
from tradestack.domain.instruments import Instrument
from tradestack.venues.bybit.book_sync import BybitBookSync
from tradestack.venues.bybit.messages import BybitBookUpdate
from tradestack.venues.bybit.parse import NANOS_PER_MILLI, BybitEvent, BybitMarketParser
from tradestack.venues.bybit.parse_v2 import BybitV2MarketParser, instruments_from_v2_symbols
from tradestack.venues.replay.recordings import (
    Record,
    RecordingError,
    RecordingFormat,
    RecordKind,
    detect_format,
    read_cryptofeed,
)
from tradestack.venues.replay.session_header import header_bodies

VENUE = "bybit"
_TS = re.compile(rb'"ts":(\d{1,19})[,}]')


def run_bybit_replay(path: Path) -> ReplayReport:
    """`tradestack replay --venue bybit FILE`: a v5 capture or a cryptofeed v2 session."""
    path = Path(path)
    if _is_cryptofeed(path):
        parser: Callable[[bytes, int], list[BybitEvent]] = BybitV2MarketParser(v2_instruments(path)).parse
        return replay_bybit_records(read_cryptofeed(path), parser, path)
    return replay_bybit_records(read_v5_capture(path), BybitMarketParser.inferring().parse, path)


def _is_cryptofeed(path: Path) -> bool:
    try:
        return detect_format(path) is RecordingFormat.CRYPTOFEED
    except RecordingError:
        return False


def v2_instruments(path: Path) -> dict[str, Instrument]:
    """The v2 symbols the recorder fetched before connecting (`BYBIT.0`)."""
    instruments: dict[str, Instrument] = {}
    for url, body in header_bodies(path).items():
        if url.endswith("/v2/public/symbols"):
            instruments.update(instruments_from_v2_symbols(body))
    if not instruments:
        raise ValueError(f"{path}: the session header holds no Bybit /v2/public/symbols")
    return instruments


def read_v5_capture(path: Path) -> Iterator[Record]:
    """Frames of a v5 capture, one per line, plain or zipped; ts_recv from each frame's own `ts`."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            texts = [archive.read(name) for name in sorted(archive.namelist()) if not name.endswith("/")]
    else:
        texts = [path.read_bytes()]
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            stamp = _TS.search(line)
            yield Record(int(stamp[1]) * NANOS_PER_MILLI if stamp else 0, RecordKind.FRAME, line)


def replay_bybit_records(
    records: Iterable[Record],
    parse: Callable[[bytes, int], list[BybitEvent]],
    path: Path | None = None,
) -> ReplayReport:
    """Rebuild every symbol's book from `records`; count deltas applied, gaps and resyncs."""
    report = ReplayReport(venue=VENUE, path=path if path is not None else Path("-"))
    books: dict[str, BybitBookSync] = {}

    def symbol_report(symbol: str) -> SymbolReport:
        found = report.symbols.get(symbol)
        if found is None:
            found = report.symbols[symbol] = SymbolReport()
        return found

    for record in records:
        report.messages += 1
        if record.kind is not RecordKind.FRAME:
            continue
        for event in parse(record.payload, record.ts_recv):
            if isinstance(event, BybitBookUpdate):
                book = books.get(event.symbol)
                if book is None:
                    book = books[event.symbol] = BybitBookSync(event.symbol)
                found = symbol_report(event.symbol)
                found.messages += 1
                found.depth_events += 1
                book.on_message(event)
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

    for symbol, book in books.items():
        found = symbol_report(symbol)
        found.events_applied = book.counters.events_applied
        found.gaps = book.counters.gaps
        found.resyncs = book.counters.resyncs
        found.skipped = book.counters.skipped
        found.snapshots_used = book.counters.snapshots_applied
        found.final_state = book.state.value
    return report
