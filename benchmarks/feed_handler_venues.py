"""Feed handler per venue: recorded book frames -> our parser -> book sync, with baselines.

For every venue whose book-carrying recordings we hold (OKX v5 via cryptofeed's OKCOIN session, with
CRC32 checksums; Bybit v5 `orderbook.500` and Bybit v2 `orderBookL2_25`; Coinbase Exchange `level2`),
all in this process on one thread, with no network:
- ours: raw frame bytes -> the venue's parser -> its book sync (sequence rules, crossed check, OKX
  checksum over the exact strings) -> best bid and best ask read after each applied update: the path
  `venues/<venue>/feed.py` runs in the socket callback. The book frames of the recording are replayed
  N times in memory (N sized so a round of ours takes about --round-seconds): one parser per round,
  kept across passes as across reconnects, and fresh books each pass (a reconnect resyncs every book),
  so every pass is a clean session; each round checks that no pass saw a gap or a failed checksum.
  Also timed: every frame of the recording (trades, tickers, acks...), and parsing alone.
- cryptofeed 2.4.1 where it speaks the recording's protocol (the baseline `benchmarks/feed_handler.py`
  uses for Binance): its own `message_handler` (json with Decimal, its C book, OKX
  `checksum_validation=True`, `cross_check=True` as ours checks crossed books) with an L2_BOOK callback
  reading best bid and ask, frames handed over as `str` (that decode is not timed). One feed per round
  (its handlers replace the book on each snapshot, so the passes replay cleanly).
- floor, every venue: `json.loads` + a dict of price string -> size string per side (no numbers, no
  sequence rules, no checksum, no reads): what any Python handler costs at least.
Where cryptofeed 2.4.1 cannot read the recording (Coinbase: it speaks Advanced Trade `l2_data`, the
recording is the 2021 ws-feed `level2`; Bybit v2: it speaks v5 only) the floor is the only reference.
Kraken: the corpus holds no Kraken spot book frames (KRAKEN.ws.48/49 are WS v1 trade and ticker only),
so there is nothing to measure.

Recorded messages, checksums verified/failed, gaps and resyncs come from `run_replay` itself, the code
behind `tradestack replay --venue <venue> FILE --json`, so the numbers agree with it.

    python -m benchmarks.feed_handler_venues [--rounds 7] [--round-seconds 0.5] [--venue KEY] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tradestack import _native
from tradestack.app.replay import run_replay
from tradestack.app.replay_bybit import read_v5_capture, v2_instruments
from tradestack.app.replay_checksum import recorded_instruments
from tradestack.app.replay_coinbase import recorded_products
from tradestack.domain.book.sequencer import Decision
from tradestack.venues.bybit.book_sync import BybitBookSync
from tradestack.venues.bybit.messages import BybitBookUpdate
from tradestack.venues.bybit.parse import BybitMarketParser
from tradestack.venues.bybit.parse_v2 import BybitV2MarketParser
from tradestack.venues.coinbase.book_sync import CoinbaseBookSync
from tradestack.venues.coinbase.messages import CoinbaseBookUpdate
from tradestack.venues.coinbase.parse import CoinbaseMarketParser
from tradestack.venues.okx.book_sync import OkxBookSync
from tradestack.venues.okx.messages import OkxBookUpdate
from tradestack.venues.okx.parse import OkxMarketParser
from tradestack.venues.replay.recordings import RecordKind, read_recording

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "feed_handler_venues.json"
SAMPLE = "cryptofeed/sample_data"

Frames = list[tuple[int, bytes]]  # (ts_recv ns, raw frame) in arrival order


@dataclass(frozen=True, slots=True)
class Venue:
    key: str  # the row's name
    venue: str  # `tradestack replay --venue`
    recording: str  # under the corpus root
    protocol: str
    checksums: bool
    baseline: str  # "cryptofeed" or why there is none


VENUES = (
    Venue("okx", "okx", f"{SAMPLE}/OKCOIN.ws.1.0", "OKX v5 books (OKCoin, 2023), CRC32", True, "cryptofeed"),
    Venue(
        "bybit-v5",
        "bybit",
        "nautilus_trader/tests/test_data/bybit/xrpusdt-ob500.data.zip",
        "Bybit v5 orderbook.500 (XRPUSDT linear, 2024)",
        False,
        "cryptofeed",
    ),
    Venue(
        "bybit-v2",
        "bybit",
        f"{SAMPLE}/BYBIT.ws.25.0",
        "Bybit v2 orderBookL2_25 (2021)",
        False,
        "none: cryptofeed 2.4.1 speaks Bybit v5 only, this recording is v2",
    ),
    Venue(
        "coinbase",
        "coinbase",
        f"{SAMPLE}/COINBASE.ws.28.0",
        "Coinbase Exchange ws-feed level2 + l2update (2021)",
        False,
        "none: cryptofeed 2.4.1 speaks Advanced Trade l2_data, this recording is the ws-feed level2",
    ),
)
KRAKEN_NOTE = (
    "not measured: the corpus holds no Kraken spot book frames (KRAKEN.ws.48/49 are WS v1 trade and "
    "ticker only; KRAKEN_FUTURES is another protocol our kraken package does not parse)"
)


def corpus_root(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("TRADESTACK_CORPUS", str(REPO.parent / "shared" / "corpora")))


# -- ours: the feed's path, per venue ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedPath:
    """How one venue's feed turns a frame into book state: parser, update type, sync and its apply."""

    make_parse: Callable[[], Callable[[bytes, int], Iterable[object]]]
    update_type: type
    make_sync: Callable[[str], Any]
    apply_name: str  # the sync's method taking one book update and returning a Decision


def venue_path(venue: Venue, path: Path) -> FeedPath:
    if venue.key == "okx":
        instruments = recorded_instruments("okx", path)
        return FeedPath(lambda: OkxMarketParser(instruments).parse, OkxBookUpdate, OkxBookSync, "on_message")
    if venue.key == "bybit-v5":
        return FeedPath(
            lambda: BybitMarketParser.inferring().parse, BybitBookUpdate, BybitBookSync, "on_message"
        )
    if venue.key == "bybit-v2":
        symbols = v2_instruments(path)
        return FeedPath(
            lambda: BybitV2MarketParser(symbols).parse, BybitBookUpdate, BybitBookSync, "on_message"
        )
    if venue.key == "coinbase":
        products = recorded_products(path)
        return FeedPath(
            lambda: CoinbaseMarketParser(products).parse, CoinbaseBookUpdate, CoinbaseBookSync, "on_book"
        )
    raise ValueError(venue.key)


class Session:
    """One feed's parser, kept across passes as across reconnects; each pass starts with no books
    (a reconnect resyncs every book), and builds a book sync per symbol as frames name it."""

    __slots__ = ("how", "parse", "passes")

    def __init__(self, how: FeedPath) -> None:
        self.how = how
        self.parse = how.make_parse()
        self.passes: list[dict[str, Any]] = []  # each pass's syncs, checked after the clock stops

    def handle(self, frames: Frames) -> None:
        parse = self.parse
        update_type = self.how.update_type
        make_sync = self.how.make_sync
        apply_name = self.how.apply_name
        syncs: dict[str, Any] = {}
        appliers: dict[str, Callable[[Any], Decision]] = {}
        applied = Decision.APPLY
        self.passes.append(syncs)
        for ts_recv, frame in frames:
            for event in parse(frame, ts_recv):
                if isinstance(event, update_type):
                    symbol = event.symbol  # type: ignore[attr-defined]
                    apply = appliers.get(symbol)
                    if apply is None:
                        sync = syncs[symbol] = make_sync(symbol)
                        apply = appliers[symbol] = getattr(sync, apply_name)
                    if apply(event) is applied:
                        book = syncs[symbol].book
                        book.best_bid()
                        book.best_ask()


def run_ours(how: FeedPath, frames: Frames, passes: int) -> tuple[float, Session]:
    session = Session(how)
    handle = session.handle
    started = time.perf_counter()
    for _ in range(passes):
        handle(frames)
    return time.perf_counter() - started, session


def run_parse_only(how: FeedPath, frames: Frames, passes: int) -> float:
    parse = how.make_parse()
    started = time.perf_counter()
    for _ in range(passes):
        for ts_recv, frame in frames:
            parse(frame, ts_recv)
    return time.perf_counter() - started


def check_session(session: Session, venue: Venue) -> dict[str, int]:
    """Every pass must be clean: no gap, no failed checksum, and (OKX) checksums verified."""
    gaps = failed = verified = 0
    for syncs in session.passes:
        for sync in syncs.values():
            counters = sync.counters
            gaps += counters.gaps
            failed += getattr(counters, "checksum_failed", 0)
            verified += getattr(counters, "checksum_ok", 0)
    if gaps or failed or (venue.checksums and not verified):
        raise SystemExit(f"{venue.key}: a timed pass went wrong: gaps {gaps}, checksums failed {failed}")
    return {"gaps": gaps, "checksum_ok": verified, "checksum_failed": failed}


# -- floor: json.loads + dict books -----------------------------------------------------------------


def _is_zero(size: object) -> bool:
    return float(size) == 0.0  # type: ignore[arg-type]


def floor_handler(venue: Venue) -> Callable[[Frames], dict[str, Any]]:
    """Plain json.loads and a {price: size} dict per side; strings stay strings. No checks, no reads."""
    loads = json.loads

    def okx(frames: Frames) -> dict[str, Any]:
        books: dict[str, Any] = {}
        for _, frame in frames:
            message = loads(frame)
            symbol = message["arg"]["instId"]
            for data in message["data"]:
                if message["action"] == "snapshot":
                    books[symbol] = ({}, {})
                for side, levels in zip(books[symbol], (data["bids"], data["asks"]), strict=True):
                    for price, size, *_ in levels:
                        if _is_zero(size):
                            side.pop(price, None)
                        else:
                            side[price] = size
        return books

    def bybit_v5(frames: Frames) -> dict[str, Any]:
        books: dict[str, Any] = {}
        for _, frame in frames:
            message = loads(frame)
            data = message["data"]
            symbol = data["s"]
            if message["type"] == "snapshot":
                books[symbol] = ({}, {})
            for side, levels in zip(books[symbol], (data["b"], data["a"]), strict=True):
                for price, size in levels:
                    if _is_zero(size):
                        side.pop(price, None)
                    else:
                        side[price] = size
        return books

    def bybit_v2(frames: Frames) -> dict[str, Any]:
        books: dict[str, Any] = {}  # v2 levels are keyed by id: {id: (side, price, size)}
        for _, frame in frames:
            message = loads(frame)
            symbol = message["topic"].rpartition(".")[2]
            data = message["data"]
            if message["type"] == "snapshot":
                rows = data["order_book"] if isinstance(data, dict) else data
                books[symbol] = {row["id"]: (row["side"], row["price"], row["size"]) for row in rows}
                continue
            book = books[symbol]
            for row in data["delete"]:
                book.pop(row["id"], None)
            for row in data["update"]:
                side, price, _ = book.get(row["id"], (row["side"], row["price"], 0))
                book[row["id"]] = (side, price, row["size"])
            for row in data["insert"]:
                book[row["id"]] = (row["side"], row["price"], row["size"])
        return books

    def coinbase(frames: Frames) -> dict[str, Any]:
        books: dict[str, Any] = {}
        for _, frame in frames:
            message = loads(frame)
            symbol = message["product_id"]
            if message["type"] == "snapshot":
                books[symbol] = (
                    {price: size for price, size in message["bids"]},
                    {price: size for price, size in message["asks"]},
                )
                continue
            bids, asks = books[symbol]
            for side_name, price, size in message["changes"]:
                side = bids if side_name == "buy" else asks
                if _is_zero(size):
                    side.pop(price, None)
                else:
                    side[price] = size
        return books

    handlers = {"okx": okx, "bybit-v5": bybit_v5, "bybit-v2": bybit_v2, "coinbase": coinbase}
    return handlers[venue.key]


def run_floor(venue: Venue, frames: Frames, passes: int) -> float:
    handle = floor_handler(venue)
    started = time.perf_counter()
    for _ in range(passes):
        handle(frames)
    return time.perf_counter() - started


# -- cryptofeed 2.4.1 -------------------------------------------------------------------------------


def cryptofeed_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cryptofeed")
    except PackageNotFoundError:
        return None


def make_cryptofeed(venue: Venue, symbols: list[str]) -> tuple[Any, Any, list[Any]]:
    """(feed, connection stand-in, [best bid, best ask]) for the recording's symbols, no network."""
    from cryptofeed.defines import (  # type: ignore[import-untyped]
        BYBIT,
        L2_BOOK,
        OKCOIN,
        PERPETUAL,
        SPOT,
    )
    from cryptofeed.exchanges.bybit import Bybit  # type: ignore[import-untyped]
    from cryptofeed.exchanges.okcoin import OKCoin  # type: ignore[import-untyped]
    from cryptofeed.symbols import Symbols  # type: ignore[import-untyped]

    best: list[Any] = [None, None]

    async def on_book(book: Any, receipt_timestamp: float) -> None:
        best[0] = book.book.bids.index(0)
        best[1] = book.book.asks.index(0)

    if venue.key == "okx":
        # what /api/v5/public/instruments would have told it
        mapping = {symbol: symbol for symbol in symbols}
        Symbols.set(OKCOIN, mapping, {"tick_size": {}, "instrument_type": dict.fromkeys(mapping, SPOT)})
        feed = OKCoin(
            symbols=list(mapping),
            channels=[L2_BOOK],
            callbacks={L2_BOOK: on_book},
            checksum_validation=True,
            cross_check=True,
        )
        connection = SimpleNamespace(address="wss://real.okcoin.com:8443/ws/v5/public", uuid="bench")
    elif venue.key == "bybit-v5":
        mapping = {f"{symbol[:-4]}-{symbol[-4:]}-PERP": symbol for symbol in symbols}
        Symbols.set(BYBIT, mapping, {"tick_size": {}, "instrument_type": dict.fromkeys(mapping, PERPETUAL)})
        feed = Bybit(
            symbols=list(mapping), channels=[L2_BOOK], callbacks={L2_BOOK: on_book}, cross_check=True
        )
        connection = SimpleNamespace(address="wss://stream.bybit.com/v5/public/linear", uuid="bench")
    else:
        raise ValueError(f"{venue.key}: {venue.baseline}")
    return feed, connection, best


def run_cryptofeed(venue: Venue, symbols: list[str], texts: list[tuple[float, str]], passes: int) -> float:
    feed, connection, best = make_cryptofeed(venue, symbols)
    handler = feed.message_handler

    async def drive() -> float:
        started = time.perf_counter()
        for _ in range(passes):
            for timestamp, text in texts:
                await handler(text, connection, timestamp)
        return time.perf_counter() - started

    elapsed = asyncio.run(drive())
    if best[0] is None:
        raise SystemExit(f"{venue.key}: cryptofeed never called back with a book")
    return elapsed


# -- one venue ----------------------------------------------------------------------------------------


def load_frames(venue: Venue, path: Path) -> Frames:
    records = read_v5_capture(path) if venue.key == "bybit-v5" else read_recording(path)
    return [(record.ts_recv, record.payload) for record in records if record.kind is RecordKind.FRAME]


def book_frames_of(how: FeedPath, frames: Frames) -> tuple[Frames, list[str], int]:
    """The frames that carry a book update, the symbols they name, and their level updates."""
    parse = how.make_parse()
    kept: Frames = []
    symbols: dict[str, None] = {}
    levels = 0
    for ts_recv, frame in frames:
        updates = [event for event in parse(frame, ts_recv) if isinstance(event, how.update_type)]
        if updates:
            kept.append((ts_recv, frame))
            for update in updates:
                symbols[update.symbol] = None  # type: ignore[attr-defined]
                levels += len(update.bids) + len(update.asks)  # type: ignore[attr-defined]
    return kept, list(symbols), levels


def replay_counts(venue: Venue, path: Path) -> dict[str, Any]:
    """What `tradestack replay --venue <venue> FILE --json` reports, from the same code."""
    report = run_replay(venue.venue, path)
    totals = report.to_json_dict()
    return {
        "messages_parsed": report.messages,
        "book_events_applied": totals["events_applied"],
        "checksums_verified": totals["checksum_ok"],
        "checksums_failed": totals["checksum_failed"],
        "gaps": totals["gaps"],
        "resyncs": totals["resyncs"],
        "malformed": report.malformed,
        "replay_ok": report.ok,
    }


def measure_venue(venue: Venue, root: Path, rounds: int, round_seconds: float) -> dict[str, Any]:
    path = root / venue.recording
    counts = replay_counts(venue, path)
    how = venue_path(venue, path)
    frames = load_frames(venue, path)
    book_frames, symbols, levels = book_frames_of(how, frames)
    texts = [(ts_recv / 1e9, frame.decode()) for ts_recv, frame in book_frames]
    baseline = venue.baseline == "cryptofeed" and cryptofeed_version() is not None

    # warm up every variant; size the rounds so ours takes about `round_seconds`
    one_pass = min(run_ours(how, book_frames, 1)[0] for _ in range(3))
    passes = max(1, math.ceil(round_seconds / one_pass))
    run_floor(venue, book_frames, 1)
    if baseline:
        run_cryptofeed(venue, symbols, texts, 1)
    ours: list[float] = []
    ours_all: list[float] = []
    parse_only: list[float] = []
    floor: list[float] = []
    theirs: list[float] = []
    per_round_checks: dict[str, int] = {}
    for _ in range(rounds):  # round-robin, so load on the machine hits every variant alike
        elapsed, session = run_ours(how, book_frames, passes)
        ours.append(elapsed)
        per_round_checks = check_session(session, venue)
        del session
        ours_all.append(run_ours(how, frames, passes)[0])
        parse_only.append(run_parse_only(how, book_frames, passes))
        floor.append(run_floor(venue, book_frames, passes))
        if baseline:
            theirs.append(run_cryptofeed(venue, symbols, texts, passes))

    messages = len(book_frames) * passes
    our_rate = messages / statistics.median(ours)
    floor_rate = messages / statistics.median(floor)
    result: dict[str, Any] = {
        "venue": venue.venue,
        "protocol": venue.protocol,
        "recording": venue.recording,
        **counts,
        "frames_in_recording": len(frames),
        "book_frames": len(book_frames),
        "symbols": len(symbols),
        "levels_per_book_frame": round(levels / len(book_frames), 1),
        "passes_per_round": passes,
        "book_frames_per_round": messages,
        "checks_per_timed_round": per_round_checks,
        "ours_messages_per_second": round(our_rate),
        "ours_level_updates_per_second": round(our_rate * levels / len(book_frames)),
        "ours_all_frames_messages_per_second": round(len(frames) * passes / statistics.median(ours_all)),
        "ours_parse_only_messages_per_second": round(messages / statistics.median(parse_only)),
        "ours_round_seconds": [round(value, 5) for value in ours],
        "floor_messages_per_second": round(floor_rate),
        "ratio_to_floor": round(our_rate / floor_rate, 2),
        "baseline": "cryptofeed" if baseline else venue.baseline,
        "cryptofeed_messages_per_second": None,
        "ratio_to_cryptofeed": None,
    }
    if venue.baseline == "cryptofeed" and not baseline:
        result["baseline"] = "none: cryptofeed is not installed (make bench installs it)"
    if theirs:
        their_rate = messages / statistics.median(theirs)
        result["cryptofeed_messages_per_second"] = round(their_rate)
        result["ratio_to_cryptofeed"] = round(our_rate / their_rate, 2)
        result["cryptofeed_round_seconds"] = [round(value, 5) for value in theirs]
    return result


# -- main -------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    options.add_argument("--rounds", type=int, default=7)
    options.add_argument(
        "--round-seconds", type=float, default=0.5, help="size of a round of ours: the recording, N times"
    )
    options.add_argument(
        "--venue", action="append", help="only these rows (okx, bybit-v5, bybit-v2, coinbase)"
    )
    options.add_argument("--corpus", default=None, help="default: $TRADESTACK_CORPUS or ../shared/corpora")
    options.add_argument("--output", type=Path, default=RESULTS)
    arguments = options.parse_args(argv)
    root = corpus_root(arguments.corpus)

    started = time.time()
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    for venue in VENUES:
        if arguments.venue and venue.key not in arguments.venue:
            continue
        results[venue.key] = measure_venue(venue, root, arguments.rounds, arguments.round_seconds)
        print_row(venue.key, results[venue.key], first=len(results) == 1)
    print(f"{'kraken':<9} {KRAKEN_NOTE}")

    report = {
        "benchmark": "feed_handler_venues",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "rounds": arguments.rounds,
        "statistic": "median of rounds; ratios are ours / reference",
        "venues": results,
        "kraken": KRAKEN_NOTE,
        "environment": {
            "python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "machine": platform.machine(),
            "processor": _cpu_model(),
            "cores": os.cpu_count(),
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
            "seconds": round(time.time() - started, 1),
            "native_extension_built": _native.BUILT,
            "cryptofeed": cryptofeed_version() or "absent",
        },
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; wrote {arguments.output}"
    )
    return 0


def print_row(key: str, row: dict[str, Any], first: bool) -> None:
    if first:
        print(
            f"{'venue':<9} {'parsed':>7} {'cksum ok/bad':>12} {'gaps':>5} {'book fr':>8} "
            f"{'ours msg/s':>11} {'cryptofeed':>11} {'ratio':>6} {'floor':>10} {'ratio':>6} {'all fr/s':>10}"
        )
    theirs = row["cryptofeed_messages_per_second"]
    their_text = f"{theirs:,}" if theirs else "-"
    ratio_text = f"{row['ratio_to_cryptofeed']:.2f}x" if theirs else "-"
    print(
        f"{key:<9} {row['messages_parsed']:>7,} "
        f"{row['checksums_verified']:>7}/{row['checksums_failed']:<4} {row['gaps']:>5} "
        f"{row['book_frames']:>8,} {row['ours_messages_per_second']:>11,} "
        f"{their_text:>11} "
        f"{ratio_text:>6} "
        f"{row['floor_messages_per_second']:>10,} {row['ratio_to_floor']:>5.2f}x "
        f"{row['ours_all_frames_messages_per_second']:>10,}",
        flush=True,
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    raise SystemExit(main())
