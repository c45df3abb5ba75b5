"""Feed handler: recorded Binance spot depth frames -> book, ours against cryptofeed 2.4.1.

All run in this process on one thread, over the same frames of the hftbacktest spot recording
(BTCUSDT depth@100ms, 2024-08-08), with no network:
- ours: frame bytes -> `BinanceMarketParser.parse` (exact integers) -> `BinanceBookSync.on_delta`
  (sequence rules, OrderBook apply, crossed check) -> best bid and best ask read; twice when the C
  extension is built: "native" (`tradestack._native`: level arrays converted in C from the raw JSON,
  book sides in C int64 arrays) and "python" (`_native.use_native(False)`: the pure-Python paths, which
  give the same events and books);
- cryptofeed: its own `Binance.message_handler` (yapic json with Decimal, `_check_update_id`, its C
  order book) with an L2_BOOK callback reading best bid and ask (`book.bids.index(0)`), the REST
  snapshot it asks for answered from the recording. Frames are handed to it as `str`, as its
  WebSocket client would (that decode is not timed).
Rounds alternate between the variants; medians are reported, with ratios. Peak RSS is measured first,
over a long replay (the whole recording, every record kind, through `replay_records`, several times in a
row, native when built).

    python -m benchmarks.feed_handler [--rounds 5] [--replays 10] [--corpus DIR] [--output FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from tradestack import _native
from tradestack.app.replay import replay_records
from tradestack.domain.events import BookDelta, Level
from tradestack.domain.instruments import format_fixed
from tradestack.venues.binance.book_sync import BinanceBookSync, SyncState
from tradestack.venues.binance.parse import BinanceMarketParser
from tradestack.venues.replay.recordings import read_recording

REPO = Path(__file__).resolve().parent.parent
RECORDING = "hftbacktest/examples/spot/btcusdt_20240808.gz"
RESULTS = REPO / "benchmarks" / "results" / "feed_handler.json"
TARGET_MESSAGES_PER_SECOND = 100_000
TARGET_RATIO = 2.5


@dataclass(frozen=True, slots=True)
class DepthRecording:
    symbol: str
    frames: list[tuple[int, bytes]]  # (ts_recv ns, depth frame), in arrival order
    snapshot_before: int  # the REST snapshot arrived before frames[snapshot_before]
    snapshot_ts: int
    snapshot_body: bytes
    levels: int  # price-level updates over all frames


def corpus_root(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("TRADESTACK_CORPUS", str(REPO.parent / "shared" / "corpora")))


def load_depth(path: Path) -> DepthRecording:
    frames: list[tuple[int, bytes]] = []
    snapshot: tuple[int, int, bytes] | None = None
    symbol = ""
    levels = 0
    with gzip.open(path, "rb") as lines:
        for line in lines:
            stamp, _, payload = line.rstrip(b"\n").partition(b" ")
            if payload.startswith(b'{"stream":"') and b"@depth" in payload[:48]:
                frames.append((int(stamp), payload))
                symbol = symbol or payload[11 : payload.index(b"@")].decode().upper()
                data = msgspec.json.decode(payload)["data"]
                levels += len(data["b"]) + len(data["a"])
            elif payload.startswith(b'{"lastUpdateId"') and snapshot is None:
                snapshot = (len(frames), int(stamp), payload)
    if snapshot is None or not frames:
        raise SystemExit(f"{path}: no depth frames or no snapshot")
    return DepthRecording(symbol, frames, snapshot[0], snapshot[1], snapshot[2], levels)


# -- ours -------------------------------------------------------------------------------------------


def run_ours(recording: DepthRecording) -> tuple[float, tuple[Level | None, Level | None]]:
    parser = BinanceMarketParser.inferring()
    sync = BinanceBookSync(recording.symbol)
    parse = parser.parse
    on_delta = sync.on_delta
    book = sync.book
    best: tuple[Level | None, Level | None] = (None, None)
    frames = recording.frames
    split = recording.snapshot_before
    started = time.perf_counter()
    for part in (frames[:split], None, frames[split:]):
        if part is None:  # the REST reply, where it arrived in the recording
            if sync.needs_snapshot:
                snapshot = parser.parse_depth_snapshot(
                    recording.snapshot_body, recording.symbol, recording.snapshot_ts
                )
                sync.on_snapshot(snapshot)
            continue
        for ts_recv, frame in part:
            for event in parse(frame, ts_recv):
                if isinstance(event, BookDelta):
                    on_delta(event)
            best = book.best_bid(), book.best_ask()
    elapsed = time.perf_counter() - started
    if sync.state is not SyncState.SYNCED or sync.counters.gaps:
        raise SystemExit(f"our book did not stay synced: {sync.counters}")
    return elapsed, best


def run_parse_only(recording: DepthRecording) -> float:
    parse = BinanceMarketParser.inferring().parse
    started = time.perf_counter()
    for ts_recv, frame in recording.frames:
        parse(frame, ts_recv)
    return time.perf_counter() - started


def run_sync_only(
    recording: DepthRecording, deltas: list[BookDelta], snapshot_parser: BinanceMarketParser
) -> float:
    sync = BinanceBookSync(recording.symbol)
    snapshot = snapshot_parser.parse_depth_snapshot(
        recording.snapshot_body, recording.symbol, recording.snapshot_ts
    )
    book = sync.book
    started = time.perf_counter()
    for index, delta in enumerate(deltas):
        if index == recording.snapshot_before:
            sync.on_snapshot(snapshot)
        sync.on_delta(delta)
        book.best_bid()
        book.best_ask()
    return time.perf_counter() - started


# -- cryptofeed 2.4.1 -------------------------------------------------------------------------------


class RecordedRest:
    """Stands in for cryptofeed's HTTPAsyncConn: answers the depth request from the recording."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.requests: list[str] = []

    async def read(self, address: str, *args: Any, **kwargs: Any) -> str:
        self.requests.append(address)
        return self.body

    async def close(self) -> None:
        return None


def make_cryptofeed(recording: DepthRecording, read_best: bool = True) -> tuple[Any, list[Any]]:
    from cryptofeed.defines import BINANCE, L2_BOOK, SPOT  # type: ignore[import-untyped]
    from cryptofeed.exchanges.binance import Binance  # type: ignore[import-untyped]
    from cryptofeed.symbols import Symbols  # type: ignore[import-untyped]

    base, quote = recording.symbol[:-4], recording.symbol[-4:]
    normalized = f"{base}-{quote}"
    # what exchangeInfo would have told it, so the feed makes no network call
    Symbols.set(
        BINANCE, {normalized: recording.symbol}, {"tick_size": {}, "instrument_type": {normalized: SPOT}}
    )
    best: list[Any] = [None, None]

    async def on_book(book: Any, receipt_timestamp: float) -> None:
        best[0] = book.book.bids.index(0)
        best[1] = book.book.asks.index(0)

    async def ignore_book(book: Any, receipt_timestamp: float) -> None:
        return None

    callback = on_book if read_best else ignore_book
    feed = Binance(symbols=[normalized], channels=[L2_BOOK], callbacks={L2_BOOK: callback})
    feed.http_conn = RecordedRest(recording.snapshot_body.decode())
    return feed, best


def run_cryptofeed(
    recording: DepthRecording, texts: list[tuple[float, str]], read_best: bool = True
) -> tuple[float, list[Any]]:
    feed, best = make_cryptofeed(recording, read_best)
    handler = feed.message_handler

    async def drive() -> float:
        started = time.perf_counter()
        for timestamp, text in texts:
            await handler(text, None, timestamp)
        return time.perf_counter() - started

    elapsed = asyncio.run(drive())
    if len(feed.http_conn.requests) != 1:
        raise SystemExit(f"cryptofeed asked for {len(feed.http_conn.requests)} snapshots (it reset its book)")
    return elapsed, best


# -- memory over a long replay ----------------------------------------------------------------------


def current_rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() // 1024


def long_replay_memory(path: Path, replays: int) -> dict[str, object]:
    records = list(read_recording(path))
    before_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    before = current_rss_kib()
    after_each: list[int] = []
    applied = 0
    started = time.perf_counter()
    for _ in range(replays):
        report = replay_records("binance", records, path)
        applied += report.total("events_applied")
        if not report.ok or report.total("gaps"):
            raise SystemExit("the long replay went wrong")
        after_each.append(current_rss_kib())
    elapsed = time.perf_counter() - started
    return {
        "records_per_replay": len(records),
        "replays": replays,
        "records_replayed": len(records) * replays,
        "events_applied": applied,
        "seconds": round(elapsed, 3),
        "records_per_second": round(len(records) * replays / elapsed),
        "rss_before_kib": before,
        "rss_after_each_replay_kib": after_each,
        "peak_rss_before_kib": before_peak,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


# -- main -------------------------------------------------------------------------------------------


def median_rate(count: int, seconds: Sequence[float]) -> float:
    return count / statistics.median(seconds)


def main(argv: Sequence[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    options.add_argument("--rounds", type=int, default=5)
    options.add_argument("--replays", type=int, default=10, help="passes over the recording for peak RSS")
    options.add_argument("--corpus", default=None, help="default: $TRADESTACK_CORPUS or ../shared/corpora")
    options.add_argument("--output", type=Path, default=RESULTS)
    arguments = options.parse_args(argv)

    path = corpus_root(arguments.corpus) / RECORDING
    recording = load_depth(path)
    messages = len(recording.frames)
    texts = [(ts_recv / 1e9, frame.decode()) for ts_recv, frame in recording.frames]
    print(
        f"{path.name}: {messages} depth frames, {recording.levels / messages:.1f} levels per frame on average"
    )

    memory = long_replay_memory(path, arguments.replays)  # first, so its peak is not the other runs'

    variants = ["native", "python"] if _native.BUILT else ["python"]
    try:
        report = measure(recording, texts, variants, arguments.rounds)
    finally:
        _native.use_native(True)
    report["long_replay"] = memory
    report["environment"] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "native_extension_built": _native.BUILT,
        "cryptofeed": _version("cryptofeed"),
        "msgspec": _version("msgspec"),
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(report, indent=2) + "\n")

    print_report(report, variants, arguments.rounds)
    print(
        f"long replay: {memory['records_replayed']:,} records in {memory['seconds']} s, "
        f"peak RSS {memory['peak_rss_kib']:,} KiB (before: {memory['peak_rss_before_kib']:,} KiB)"
    )
    print(f"wrote {arguments.output}")
    return 0


def measure(
    recording: DepthRecording, texts: list[tuple[float, str]], variants: list[str], rounds: int
) -> dict[str, Any]:
    """Every variant of ours and cryptofeed, round-robin in each round; then the parts alone."""
    messages = len(recording.frames)
    for variant in variants:  # warm up (cryptofeed on a slice: a full round of it takes a second)
        _native.use_native(variant == "native")
        run_ours(recording)
    run_cryptofeed(recording, texts[:300])
    ours: dict[str, list[float]] = {variant: [] for variant in variants}
    best: dict[str, tuple[Level | None, Level | None]] = {}
    theirs: list[float] = []
    their_best: list[Any] = []
    for _ in range(rounds):
        for variant in variants:
            _native.use_native(variant == "native")
            elapsed, best[variant] = run_ours(recording)
            ours[variant].append(elapsed)
        elapsed, their_best = run_cryptofeed(recording, texts)
        theirs.append(elapsed)

    # all must end on the same top of book (ours in integer units, theirs in Decimal)
    _native.use_native(True)
    scales = BinanceMarketParser.inferring()
    scales.parse(recording.frames[0][1], 0)
    price_scale, size_scale = scales.scales(recording.symbol) or (0, 0)

    def as_decimal(level: Level | None) -> tuple[Decimal, Decimal] | None:
        if level is None:
            return None
        return Decimal(format_fixed(level[0], price_scale)), Decimal(format_fixed(level[1], size_scale))

    theirs_top = [tuple(their_best[0]), tuple(their_best[1])]
    agree = {
        variant: [as_decimal(best[variant][0]), as_decimal(best[variant][1])] == theirs_top
        for variant in variants
    }

    snapshot_parser = BinanceMarketParser.inferring()
    deltas = [event for ts, frame in recording.frames for event in snapshot_parser.parse(frame, ts)]
    if not all(isinstance(delta, BookDelta) for delta in deltas):
        raise SystemExit("a depth frame did not parse")
    book_deltas = [delta for delta in deltas if isinstance(delta, BookDelta)]
    parse_only: dict[str, list[float]] = {variant: [] for variant in variants}
    sync_only: dict[str, list[float]] = {variant: [] for variant in variants}
    for _ in range(rounds):
        for variant in variants:
            _native.use_native(variant == "native")
            parse_only[variant].append(run_parse_only(recording))
            sync_only[variant].append(run_sync_only(recording, book_deltas, snapshot_parser))
    _native.use_native(True)
    # cryptofeed's handler and book writes alone, nobody reading the book: the floor of its cost
    handler_only = [run_cryptofeed(recording, texts, read_best=False)[0] for _ in range(rounds)]

    their_rate = median_rate(messages, theirs)
    handler_only_rate = median_rate(messages, handler_only)
    levels_per_message = recording.levels / messages
    results: dict[str, dict[str, Any]] = {}
    for variant in variants:
        rate = median_rate(messages, ours[variant])
        results[variant] = {
            "messages_per_second": round(rate),
            "ratio_to_cryptofeed": round(rate / their_rate, 2),
            "ratio_to_cryptofeed_without_book_reads": round(rate / handler_only_rate, 2),
            "level_updates_per_second": round(rate * levels_per_message),
            "round_seconds": [round(value, 5) for value in ours[variant]],
            "parse_only_messages_per_second": round(median_rate(messages, parse_only[variant])),
            "sync_and_book_only_messages_per_second": round(median_rate(messages, sync_only[variant])),
            "final_top_of_book_agrees_with_cryptofeed": agree[variant],
        }
    default = variants[0]  # what runs in production: native when it is built
    our_rate = median_rate(messages, ours[default])
    ratio = our_rate / their_rate
    report: dict[str, Any] = {
        "benchmark": "feed_handler",
        "recording": RECORDING,
        "depth_messages": messages,
        "levels_per_message": round(levels_per_message, 1),
        "rounds": rounds,
        "ours_variant": default,
        "ours_messages_per_second": round(our_rate),
        "cryptofeed_messages_per_second": round(their_rate),
        "ratio": round(ratio, 2),
        "ours_round_seconds": results[default]["round_seconds"],
        "cryptofeed_round_seconds": [round(value, 5) for value in theirs],
        "ours_level_updates_per_second": results[default]["level_updates_per_second"],
        "cryptofeed_without_book_reads_messages_per_second": round(handler_only_rate),
        "ratio_to_cryptofeed_without_book_reads": round(our_rate / handler_only_rate, 2),
        "ours_parse_only_messages_per_second": results[default]["parse_only_messages_per_second"],
        "ours_sync_and_book_only_messages_per_second": results[default][
            "sync_and_book_only_messages_per_second"
        ],
        "final_top_of_book_agrees": all(agree.values()),
        "variants": results,
        "native_to_python_ratio": (
            round(results["native"]["messages_per_second"] / results["python"]["messages_per_second"], 2)
            if "native" in results
            else None
        ),
        "targets": {
            "messages_per_second": TARGET_MESSAGES_PER_SECOND,
            "ratio": TARGET_RATIO,
            "messages_per_second_met": our_rate >= TARGET_MESSAGES_PER_SECOND,
            "ratio_met": ratio >= TARGET_RATIO,
        },
    }
    return report


def print_report(report: dict[str, Any], variants: list[str], rounds: int) -> None:
    their_rate = report["cryptofeed_messages_per_second"]
    handler_only_rate = report["cryptofeed_without_book_reads_messages_per_second"]
    print(f"medians of {rounds} rounds, depth messages per second (ratio to cryptofeed)")
    for variant in variants:
        result = report["variants"][variant]
        print(
            f"ours, {variant:<7} {result['messages_per_second']:>10,}  ({result['ratio_to_cryptofeed']:.2f}x;"
            f" {result['ratio_to_cryptofeed_without_book_reads']:.2f}x cryptofeed without book reads)"
        )
        print(f"  parse only        {result['parse_only_messages_per_second']:>10,}")
        print(f"  sync + book only  {result['sync_and_book_only_messages_per_second']:>10,}")
    print(f"cryptofeed      {their_rate:>10,}")
    print(f"cryptofeed without reading its book {handler_only_rate:,}")
    if report["native_to_python_ratio"] is not None:
        print(f"native / python {report['native_to_python_ratio']:>10.2f}x")
    ratio = report["ratio"]
    rate = report["ours_messages_per_second"]
    verdict = _verdict(ratio >= TARGET_RATIO)
    print(f"ours ({report['ours_variant']}): ratio {ratio:.2f}x (target {TARGET_RATIO}x: {verdict})")
    print(f"target {TARGET_MESSAGES_PER_SECOND:,} msg/s: {_verdict(rate >= TARGET_MESSAGES_PER_SECOND)}")
    print(f"final top of book agrees with cryptofeed: {report['final_top_of_book_agrees']}")


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "absent"


if __name__ == "__main__":
    raise SystemExit(main())
