"""Feed handler: recorded Binance spot depth frames -> book, ours against cryptofeed 2.4.1.

Both run in this process on one thread, over the same frames of the hftbacktest spot recording
(BTCUSDT depth@100ms, 2024-08-08), with no network:
- ours: frame bytes -> `BinanceMarketParser.parse` (exact integers) -> `BinanceBookSync.on_delta`
  (sequence rules, OrderBook apply, crossed check) -> best bid and best ask read;
- cryptofeed: its own `Binance.message_handler` (yapic json with Decimal, `_check_update_id`, its C
  order book) with an L2_BOOK callback reading best bid and ask (`book.bids.index(0)`), the REST
  snapshot it asks for answered from the recording. Frames are handed to it as `str`, as its
  WebSocket client would (that decode is not timed).
Rounds alternate between the two; medians are reported. Then peak RSS over a long replay (the whole
recording, every record kind, through `replay_records`, several times in a row).

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

    run_ours(recording)  # warm up both (cryptofeed on a slice: a full round of it takes a second)
    run_cryptofeed(recording, texts[:300])
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(arguments.rounds):
        elapsed, our_best = run_ours(recording)
        ours.append(elapsed)
        elapsed, their_best = run_cryptofeed(recording, texts)
        theirs.append(elapsed)

    # both must end on the same top of book (ours in integer units, theirs in Decimal)
    scales = BinanceMarketParser.inferring()
    scales.parse(recording.frames[0][1], 0)
    price_scale, size_scale = scales.scales(recording.symbol) or (0, 0)

    def as_decimal(level: Level | None) -> tuple[Decimal, Decimal] | None:
        if level is None:
            return None
        return Decimal(format_fixed(level[0], price_scale)), Decimal(format_fixed(level[1], size_scale))

    agree = [as_decimal(our_best[0]), as_decimal(our_best[1])] == [tuple(their_best[0]), tuple(their_best[1])]

    snapshot_parser = BinanceMarketParser.inferring()
    deltas = [event for ts, frame in recording.frames for event in snapshot_parser.parse(frame, ts)]
    if not all(isinstance(delta, BookDelta) for delta in deltas):
        raise SystemExit("a depth frame did not parse")
    book_deltas = [delta for delta in deltas if isinstance(delta, BookDelta)]
    parse_only = [run_parse_only(recording) for _ in range(arguments.rounds)]
    # cryptofeed's handler and book writes alone, nobody reading the book: the floor of its cost
    handler_only = [run_cryptofeed(recording, texts, read_best=False)[0] for _ in range(arguments.rounds)]
    sync_only = [run_sync_only(recording, book_deltas, snapshot_parser) for _ in range(arguments.rounds)]

    our_rate = median_rate(messages, ours)
    their_rate = median_rate(messages, theirs)
    ratio = our_rate / their_rate
    handler_only_rate = median_rate(messages, handler_only)
    result: dict[str, object] = {
        "benchmark": "feed_handler",
        "recording": RECORDING,
        "depth_messages": messages,
        "levels_per_message": round(recording.levels / messages, 1),
        "rounds": arguments.rounds,
        "ours_messages_per_second": round(our_rate),
        "cryptofeed_messages_per_second": round(their_rate),
        "ratio": round(ratio, 2),
        "ours_round_seconds": [round(value, 5) for value in ours],
        "cryptofeed_round_seconds": [round(value, 5) for value in theirs],
        "ours_level_updates_per_second": round(our_rate * recording.levels / messages),
        "cryptofeed_without_book_reads_messages_per_second": round(handler_only_rate),
        "ratio_to_cryptofeed_without_book_reads": round(our_rate / handler_only_rate, 2),
        "ours_parse_only_messages_per_second": round(median_rate(messages, parse_only)),
        "ours_sync_and_book_only_messages_per_second": round(median_rate(messages, sync_only)),
        "final_top_of_book_agrees": agree,
        "targets": {
            "messages_per_second": TARGET_MESSAGES_PER_SECOND,
            "ratio": TARGET_RATIO,
            "messages_per_second_met": our_rate >= TARGET_MESSAGES_PER_SECOND,
            "ratio_met": ratio >= TARGET_RATIO,
        },
        "long_replay": memory,
        "environment": {
            "python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "machine": platform.machine(),
            "processor": _cpu_model(),
            "cryptofeed": _version("cryptofeed"),
            "msgspec": _version("msgspec"),
        },
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2) + "\n")

    print(f"ours        {our_rate:>10,.0f} depth msg/s  (median of {arguments.rounds})")
    print(f"cryptofeed  {their_rate:>10,.0f} depth msg/s")
    print(f"ratio       {ratio:>10.2f}x   (target {TARGET_RATIO}x: {_verdict(ratio >= TARGET_RATIO)})")
    print(f"target {TARGET_MESSAGES_PER_SECOND:,} msg/s: {_verdict(our_rate >= TARGET_MESSAGES_PER_SECOND)}")
    print(
        f"cryptofeed without reading its book {handler_only_rate:,.0f} msg/s: "
        f"ours is {our_rate / handler_only_rate:.2f}x that"
    )
    print(f"  parse only        {median_rate(messages, parse_only):>10,.0f} msg/s")
    print(f"  sync + book only  {median_rate(messages, sync_only):>10,.0f} msg/s")
    print(f"final top of book agrees with cryptofeed: {agree}")
    print(
        f"long replay: {memory['records_replayed']:,} records in {memory['seconds']} s, "
        f"peak RSS {memory['peak_rss_kib']:,} KiB (before: {memory['peak_rss_before_kib']:,} KiB)"
    )
    print(f"wrote {arguments.output}")
    return 0


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
