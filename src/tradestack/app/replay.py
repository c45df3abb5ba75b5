"""Replay a recorded Binance session through our parser and book sync, and report how it went.

Every depth event goes through `BinanceBookSync` exactly as in live trading. When a book needs a
snapshot it takes the next REST snapshot the recording holds for that symbol (that is how the
recordings were made); snapshots that arrive while a book is synced are not used. Where a bookTicker
carries the update id the book stops on, best bid and ask must equal it (the cross-check).
Binance publishes no book checksum, so checksum counts stay 0. Pure apart from reading the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from tradestack.domain.book.sequencer import Decision
from tradestack.domain.events import BestBidAsk, BookDelta, Malformed, TradePrint
from tradestack.venues.binance.book_sync import (
    BinanceBookSync,
    SequenceRules,
    SnapshotOutcome,
    SyncState,
    TickerCrossCheck,
)
from tradestack.venues.binance.parse import BinanceMarketParser, MalformedMessage
from tradestack.venues.replay.recordings import Record, RecordKind, read_recording

VENUE_RULES = {"binance": SequenceRules.SPOT, "binance-futures": SequenceRules.FUTURES}


@dataclass(slots=True)
class SymbolReport:
    """What one symbol's replay did. The first eight fields are the JSON report's keys."""

    JSON_KEYS: ClassVar[tuple[str, ...]] = (
        "messages",
        "events_applied",
        "gaps",
        "resyncs",
        "checksum_ok",
        "checksum_failed",
        "crosscheck_ok",
        "crosscheck_failed",
    )

    messages: int = 0  # frames with an event for this symbol, plus its REST snapshots
    events_applied: int = 0
    gaps: int = 0
    resyncs: int = 0
    checksum_ok: int = 0  # Binance has no book checksum
    checksum_failed: int = 0
    crosscheck_ok: int = 0
    crosscheck_failed: int = 0
    # diagnostics for people, not part of the JSON contract
    depth_events: int = 0
    skipped: int = 0
    trades: int = 0
    tickers: int = 0
    crosscheck_unmatched: int = 0  # tickers whose update id the book passed without stopping on
    snapshots_used: int = 0
    snapshots_unused: int = 0
    snapshots_too_old: int = 0
    final_state: str = SyncState.WAITING_SNAPSHOT.value

    def to_json_dict(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in self.JSON_KEYS}


@dataclass(slots=True)
class ReplayReport:
    venue: str
    path: Path
    symbols: dict[str, SymbolReport] = field(default_factory=dict)
    messages: int = 0  # every record of the recording: frames of any kind and REST snapshots
    malformed: int = 0
    first_malformed: str | None = None

    def total(self, key: str) -> int:
        return sum(getattr(symbol, key) for symbol in self.symbols.values())

    @property
    def ok(self) -> bool:
        """False on any cross-check or checksum mismatch."""
        return self.total("crosscheck_failed") == 0 and self.total("checksum_failed") == 0

    def to_json_dict(self) -> dict[str, object]:
        totals: dict[str, object] = {key: self.total(key) for key in SymbolReport.JSON_KEYS}
        totals["messages"] = self.messages
        totals["symbols"] = {name: report.to_json_dict() for name, report in sorted(self.symbols.items())}
        return totals


class _SymbolReplay:
    __slots__ = ("check", "report", "sync")

    def __init__(self, symbol: str, rules: SequenceRules) -> None:
        self.sync = BinanceBookSync(symbol, rules)
        self.check = TickerCrossCheck(self.sync)
        self.report = SymbolReport()


def run_replay(venue: str, path: Path) -> ReplayReport:
    """Rebuild every symbol's book from the recording at `path` (hftbacktest or cryptofeed)."""
    known = sorted({*VENUE_RULES, "okx", "kraken", "bybit", "coinbase"})
    if venue not in known:
        raise ValueError(f"venue {venue!r}: replay knows {', '.join(known)}")
    if venue in ("okx", "kraken"):  # the checksum venues: app/replay_checksum.py
        from tradestack.app.replay_checksum import run_checksum_replay

        return run_checksum_replay(venue, path)
    if venue == "bybit":
        from tradestack.app.replay_bybit import run_bybit_replay

        return run_bybit_replay(path)
    if venue == "coinbase":
        from tradestack.app.replay_coinbase import run_coinbase_replay

        return run_coinbase_replay(path)
    return replay_records(venue, read_recording(path), path)


def replay_records(venue: str, records: Iterable[Record], path: Path | None = None) -> ReplayReport:
    """`run_replay` over records already read, e.g. a recording edited by a test."""
    rules = VENUE_RULES.get(venue)
    if rules is None:
        raise ValueError(f"venue {venue!r}: replay knows {sorted(VENUE_RULES)}")
    parser = BinanceMarketParser.inferring()
    report = ReplayReport(venue=venue, path=path if path is not None else Path("-"))
    replays: dict[str, _SymbolReplay] = {}

    def replay_of(symbol: str) -> _SymbolReplay:
        found = replays.get(symbol)
        if found is None:
            found = replays[symbol] = _SymbolReplay(symbol, rules)
        return found

    for record in records:
        report.messages += 1
        if record.kind is RecordKind.SNAPSHOT:
            _snapshot(parser, replay_of(record.symbol or "?"), record, report)
            continue
        for event in parser.parse(record.payload, record.ts_recv):
            if isinstance(event, BookDelta):
                replay = replay_of(event.symbol)
                replay.report.messages += 1
                replay.report.depth_events += 1
                if replay.sync.on_delta(event) is Decision.APPLY:
                    replay.check.on_book_update()
            elif isinstance(event, BestBidAsk):
                replay = replay_of(event.symbol)
                replay.report.messages += 1
                replay.report.tickers += 1
                replay.check.on_ticker(event)
            elif isinstance(event, TradePrint):
                replay = replay_of(event.symbol)
                replay.report.messages += 1
                replay.report.trades += 1
            elif isinstance(event, Malformed):
                _malformed(report, event.reason)

    for symbol, replay in replays.items():
        counters = replay.sync.counters
        symbol_report = replay.report
        symbol_report.events_applied = counters.events_applied
        symbol_report.gaps = counters.gaps
        symbol_report.resyncs = counters.resyncs
        symbol_report.skipped = counters.skipped
        symbol_report.snapshots_too_old = counters.snapshots_too_old
        symbol_report.crosscheck_ok = replay.check.ok
        symbol_report.crosscheck_failed = replay.check.failed
        symbol_report.crosscheck_unmatched = replay.check.unmatched
        symbol_report.final_state = replay.sync.state.value
        report.symbols[symbol] = symbol_report
    return report


def _snapshot(
    parser: BinanceMarketParser, replay: _SymbolReplay, record: Record, report: ReplayReport
) -> None:
    replay.report.messages += 1
    if not replay.sync.needs_snapshot:
        replay.report.snapshots_unused += 1
        return
    try:
        snapshot = parser.parse_depth_snapshot(record.payload, replay.sync.symbol, record.ts_recv)
    except MalformedMessage as error:
        _malformed(report, str(error))
        return
    outcome = replay.sync.on_snapshot(snapshot)
    if outcome is SnapshotOutcome.TOO_OLD:
        replay.report.snapshots_unused += 1
        return
    replay.report.snapshots_used += 1
    replay.check.on_book_update()


def _malformed(report: ReplayReport, reason: str) -> None:
    report.malformed += 1
    if report.first_malformed is None:
        report.first_malformed = reason


def render_text(report: ReplayReport) -> str:
    """A plain table for people: one row per symbol, then the totals."""
    columns = (
        ("symbol", 12),
        ("messages", 9),
        ("applied", 8),
        ("gaps", 5),
        ("resyncs", 8),
        ("xcheck ok", 10),
        ("xcheck bad", 11),
        ("unmatched", 10),
        ("state", 17),
    )
    header = _row(tuple(name for name, _ in columns), columns)
    lines = [f"replay {report.venue} {report.path}", header, "-" * len(header)]
    for name, symbol in sorted(report.symbols.items()):
        values = (
            name,
            symbol.messages,
            symbol.events_applied,
            symbol.gaps,
            symbol.resyncs,
            symbol.crosscheck_ok,
            symbol.crosscheck_failed,
            symbol.crosscheck_unmatched,
            symbol.final_state,
        )
        lines.append(_row(values, columns))
    totals = report.to_json_dict()
    lines.append("-" * len(header))
    lines.append(
        _row(
            (
                "total",
                report.messages,
                totals["events_applied"],
                totals["gaps"],
                totals["resyncs"],
                totals["crosscheck_ok"],
                totals["crosscheck_failed"],
                report.total("crosscheck_unmatched"),
                "",
            ),
            columns,
        )
    )
    if report.malformed:
        lines.append(f"malformed frames: {report.malformed} (first: {report.first_malformed})")
    if report.venue in ("okx", "kraken"):
        ok, failed = report.total("checksum_ok"), report.total("checksum_failed")
        lines.append(f"checksums: {ok} verified, {failed} failed")
    else:
        lines.append(f"checksums: {report.venue} publishes no book checksum")
    lines.append("OK" if report.ok else "MISMATCH: the rebuilt book disagreed with the venue's own check")
    return "\n".join(lines)


def _row(values: tuple[object, ...], columns: tuple[tuple[str, int], ...]) -> str:
    return " ".join(
        str(value).rjust(width) if index else str(value).ljust(width)
        for index, (value, (_, width)) in enumerate(zip(values, columns, strict=True))
    )
