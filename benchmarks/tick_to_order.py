"""Tick-to-order: a market-data frame received -> the order it caused written to the venue's socket.

The whole stack is on: picows session, parser, book sync, engine, market maker, risk, order manager,
journal (SQLite, its writer thread), metrics, the user stream, and the trader. The simulated exchange
runs in its OWN process (`tradestack sim`), so the trading process has its event loop and its cores
to itself, as it would against a real venue. The trading process runs `TradingRuntime` on uvloop and
reads `runtime.tick_to_order_ns`: the session's receive time of the depth frame to the gateway's
`RequestTiming.sent_ns` for the POST /api/v3/order that the frame caused.

Two order-entry paths are measured in the same run and the same runtime, alternating in short
slices so that load from anything else on the machine falls on both alike:
- aiohttp: `submit` in a task (`ensure_future`), the route before the fast path;
- fast:    `new_order_now` on warm HTTP/1.1 connections, written before `submit_now` returns.
The floor is the same frame receipt (picows, one clock read, payload copied) to a no-op write on a
loopback TCP socket, with nothing in between.

With two or more CPUs the simulator is pinned to the last CPU and the trading process's event-loop
thread to the first (`--no-pin` to leave both to the scheduler): a real venue is on another machine,
while a co-located simulator woken by our own request write could otherwise be run on our CPU inside
that write() (seen here: writes of up to ~0.9 ms). The journal's writer thread stays unpinned.

The sample count is bounded by the venue's order rate limit (100 orders per 10 s, as Binance; our
limiter keeps 10% below it), so a run of 40 s yields a few hundred orders: the p99 of each path rests
on its few slowest orders. Run longer (`--seconds`) for a steadier tail.

    python -m benchmarks.tick_to_order [--seconds 40] [--slice 4] [--warmup 3] [--no-pin] [--output FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from tradestack.app.paper import API_KEY, API_SECRET
from tradestack.app.runtime import TradingRuntime
from tradestack.app.venue_binance import BinanceConnector
from tradestack.app.venue_connector import Credentials, Endpoints
from tradestack.config import load_settings
from tradestack.domain.orders.reports import OrderReport
from tradestack.domain.orders.state import Order
from tradestack.observability.logging import configure_logging, log_file_path
from tradestack.ports import SystemClock
from tradestack.security.redaction import redact_secrets
from tradestack.security.secrets import FileSecretStore
from tradestack.venues.binance.rest_gateway import RequestTiming
from tradestack.venues.binance.session import CombinedStreams
from tradestack.venues.binance.trading import BinanceTrading

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "tick_to_order.json"
TARGET_P99_US = 250
PATHS = ("aiohttp", "fast")

# Requote on every move of the mid (threshold 0) and let risk pass every order the venue's limit allows.
CONFIG = """\
symbols: [BTCUSDT, ETHUSDT]
strategy:
  requote_threshold_bps: 0
  half_spread_bps: 0.5
risk:
  max_orders_per_second: 1000
http:
  port: 0
"""


@dataclass
class Samples:
    by_path: dict[str, list[int]] = field(default_factory=lambda: {path: [] for path in PATHS})
    fallbacks: int = 0
    floor: list[int] = field(default_factory=list)


def percentile(sorted_values: Sequence[int], q: float) -> int:
    """Nearest rank: the smallest value with at least q of the samples at or below it."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def summary(values: list[int]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_us": round(percentile(ordered, 0.50) / 1000, 1),
        "p90_us": round(percentile(ordered, 0.90) / 1000, 1),
        "p99_us": round(percentile(ordered, 0.99) / 1000, 1),
        "max_us": round(ordered[-1] / 1000, 1),
        "mean_us": round(sum(ordered) / len(ordered) / 1000, 1),
    }


# --- the simulated exchange, in its own process ----------------------------------------------------


@dataclass
class Simulator:
    process: subprocess.Popen[bytes]
    rest_url: str
    ws_url: str


def start_simulator(config: Path, data_dir: Path, log: Path) -> Simulator:
    executable = Path(sys.executable).parent / "tradestack"
    command = [str(executable), "sim", "--config", str(config), "--data-dir", str(data_dir), "--port", "0"]
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None
    watchdog = threading.Timer(30.0, process.kill)  # a simulator that never says where it listens
    watchdog.start()
    urls: dict[str, str] = {}
    try:
        while len(urls) < 2:
            line = process.stdout.readline().decode().strip()
            if not line:
                raise RuntimeError(f"the simulator exited before listening; see {log}")
            kind, _, url = line.partition(" ")
            if kind in ("rest", "ws"):
                urls[kind] = url
    finally:
        watchdog.cancel()
    return Simulator(process, urls["rest"], urls["ws"])


def stop_simulator(simulator: Simulator) -> None:
    process = simulator.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process.stdout is not None:
        process.stdout.close()


# --- the trading process ---------------------------------------------------------------------------


async def measure_runtime(
    config: Path, data_dir: Path, secrets: Path, simulator: Simulator, args: argparse.Namespace
) -> Samples:
    settings = load_settings(config).model_copy(update={"data_dir": data_dir})
    store = FileSecretStore(secrets)
    runtime = TradingRuntime(
        settings,
        Endpoints(simulator.rest_url, simulator.ws_url),
        Credentials(store.get(API_KEY), store.get(API_SECRET)),
        SystemClock(),
        http_port=0,
    )
    samples = Samples()
    path_of: dict[str, str] = {}
    state = {"path": "fast", "recording": False}
    await runtime.start()
    if args.pin is not None:  # this thread only: threads started by runtime.start() keep theirs
        os.sched_setaffinity(0, {args.pin[0]})
    try:
        venue = runtime.trader.venue
        assert isinstance(venue, BinanceTrading)
        submit_now = venue.submit_now

        def tagged_submit(order: Order) -> Awaitable[OrderReport]:
            path_of[order.client_id] = state["path"] if state["recording"] else ""
            return submit_now(order)

        # An instance attribute shadows the method: every order is tagged with the path it took.
        setattr(venue, "submit_now", tagged_submit)  # noqa: B010 (mypy refuses assigning to a method)
        connector = runtime.connector
        assert isinstance(connector, BinanceConnector)
        gateway = connector.gateway
        report_timing = gateway.on_timing
        assert report_timing is not None

        def on_timing(timing: RequestTiming) -> None:
            report_timing(timing)  # the runtime appends frame -> sent for the orders it started
            if runtime.tick_to_order_ns:
                elapsed = runtime.tick_to_order_ns.pop()
                path = path_of.pop(timing.client_order_id or "", "")
                if path:
                    samples.by_path[path].append(elapsed)

        gateway.on_timing = on_timing
        await asyncio.sleep(args.warmup)
        state["recording"] = True
        fallbacks_before = venue.fallbacks
        deadline = time.monotonic() + args.seconds
        slice_index = 0
        while time.monotonic() < deadline:
            path = PATHS[slice_index % 2]
            state["path"] = path
            venue.fast_path = path == "fast"
            await asyncio.sleep(min(args.slice, max(0.0, deadline - time.monotonic())))
            slice_index += 1
        state["recording"] = False
        samples.fallbacks = venue.fallbacks - fallbacks_before
        await asyncio.sleep(0.2)  # answers to the last orders
    finally:
        await runtime.stop()
    return samples


class _FloorListener(WSListener):
    """Frame in -> one clock read and a payload copy, as the session does -> a no-op write."""

    def __init__(self, sink: asyncio.Transport, floor: list[int]) -> None:
        super().__init__()
        self.sink = sink
        self.floor = floor

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is not WSMsgType.TEXT:
            return
        received = time.monotonic_ns()
        frame.get_payload_as_bytes()
        self.sink.write(b"x")
        self.floor.append(time.monotonic_ns() - received)


async def measure_floor(simulator: Simulator, seconds: float) -> list[int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)  # discards what it gets
    port = server.sockets[0].getsockname()[1]
    sink, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    streams = [
        f"{s}@{kind}" for s in ("btcusdt", "ethusdt") for kind in ("depth@100ms", "bookTicker", "trade")
    ]
    floor: list[int] = []
    url = CombinedStreams(simulator.ws_url).url(streams)
    transport, _ = await ws_connect(lambda: _FloorListener(sink, floor), url)  # type: ignore[arg-type]
    try:
        await asyncio.sleep(seconds)
    finally:
        transport.disconnect()
        await transport.wait_disconnected()
        sink.close()
        server.close()
        await server.wait_closed()
    return floor


async def run(config: Path, work: Path, simulator: Simulator, args: argparse.Namespace) -> Samples:
    samples = await measure_runtime(config, work / "trader", work / "sim" / "secrets.json", simulator, args)
    if args.floor_seconds > 0:
        samples.floor = await measure_floor(simulator, args.floor_seconds)
    return samples


def main(argv: Sequence[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    options.add_argument("--seconds", type=float, default=40.0, help="measuring time, both paths")
    options.add_argument("--slice", type=float, default=4.0, help="seconds per path before switching")
    options.add_argument("--warmup", type=float, default=3.0, help="seconds of trading before recording")
    options.add_argument("--floor-seconds", type=float, default=3.0, help="0 skips the floor")
    options.add_argument("--no-pin", action="store_true", help="no CPU pinning")
    options.add_argument("--output", type=Path, default=RESULTS)
    args = options.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))
    args.pin = None if args.no_pin or len(cpus) < 2 else (cpus[0], cpus[-1])  # (trader, simulator)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tick-to-order-") as directory:
        work = Path(directory)
        config = work / "config.yaml"
        config.write_text(CONFIG)
        (work / "sim").mkdir(mode=0o700)
        (work / "trader").mkdir(mode=0o700)
        handle = configure_logging(
            redactor=redact_secrets, log_file=log_file_path(work / "trader"), to_stderr=False, level="warning"
        )
        simulator = start_simulator(config, work / "sim", work / "sim.log")
        if args.pin is not None:
            os.sched_setaffinity(simulator.process.pid, {args.pin[1]})
        try:
            samples = uvloop.run(run(config, work, simulator, args))
        finally:
            stop_simulator(simulator)
            handle.close()
        warnings = _count_lines(log_file_path(work / "trader"))

    paths = {path: summary(values) for path, values in samples.by_path.items()}
    base, fast = paths["aiohttp"], paths["fast"]
    ratios = {}
    if base["count"] and fast["count"]:
        ratios = {f"ratio_{q}": round(base[f"{q}_us"] / fast[f"{q}_us"], 2) for q in ("p50", "p90", "p99")}
    report = {
        "benchmark": "tick_to_order",
        "what": "depth frame received (monotonic, picows callback) -> POST /api/v3/order written",
        "simulator": "tradestack sim, separate process, loopback",
        "seconds": args.seconds,
        "slice_seconds": args.slice,
        "warmup_seconds": args.warmup,
        "pinned_cpus": {"trader_loop": args.pin[0], "simulator": args.pin[1]} if args.pin else None,
        "paths": paths,
        **ratios,
        "fast_path_fallbacks_to_aiohttp": samples.fallbacks,
        "floor_frame_to_noop_write": summary(samples.floor),
        "target": {"p99_us": TARGET_P99_US, "met": bool(fast["count"]) and fast["p99_us"] <= TARGET_P99_US},
        "trader_log_warnings": warnings,
        "environment": {
            "python": platform.python_version(),
            "uvloop": uvloop.__version__,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
        },
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")

    print(
        f"tick-to-order, {args.seconds:g} s alternating {args.slice:g} s slices, simulator in its own process"
    )
    print(f"{'path':<10}{'count':>7}{'p50 µs':>10}{'p90 µs':>10}{'p99 µs':>10}{'max µs':>10}")
    for name, row in [*paths.items(), ("floor", report["floor_frame_to_noop_write"])]:
        assert isinstance(row, dict)
        if row.get("count"):
            print(
                f"{name:<10}{row['count']:>7}{row['p50_us']:>10}{row['p90_us']:>10}"
                f"{row['p99_us']:>10}{row['max_us']:>10}"
            )
        else:
            print(f"{name:<10}{0:>7}")
    if ratios:
        print(f"aiohttp / fast: p50 {ratios['ratio_p50']}x, p99 {ratios['ratio_p99']}x")
    print(f"fast path fell back to aiohttp {samples.fallbacks} times (no idle connection)")
    met = report["target"]
    assert isinstance(met, dict)
    print(f"target p99 <= {TARGET_P99_US} µs: {'met' if met['met'] else 'NOT met'}")
    print(f"wrote {args.output}")
    return 0


def _count_lines(path: Path) -> int:
    with contextlib.suppress(FileNotFoundError):
        return sum(1 for _ in path.open(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
