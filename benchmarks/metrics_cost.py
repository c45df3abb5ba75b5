"""Metrics cost on the hot path: nanoseconds per observation of the calls the event path makes.

Measured in this process with `time.perf_counter_ns` over loops of N calls (loop overhead subtracted,
measured with an empty call), rounds alternating between variants, medians reported:
- `histogram_bound_observe`: a Histogram child bound once, `.observe(v)` (fill latency);
- `histogram_labels_observe`: `.labels(exchange).observe(v)` per call (what binding once avoids);
- `counter_bound_inc`: a Counter child bound once, `.inc()` (fills, orders sent);
- `counter_labels_inc`: `.labels(...).inc()` per call;
- `market_data_received`: `SymbolMetrics.market_data_received(ns)` (an int stored in a cell; the age is
  computed at scrape time);
- `message_received`: `ExchangeMetrics.message_received()` (an int add);
- `observe_fill_latency_ns`: `ExchangeMetrics.observe_fill_latency_ns` (bound observe plus ns -> s);
- `scrape`: one `generate_latest` of a registry with 2 symbols bound, in microseconds.

    python -m benchmarks.metrics_cost [--rounds 7] [--calls 200000] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest

from tradestack.domain.events import Side
from tradestack.observability.metrics import Metrics
from tradestack.ports import ManualClock

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "metrics_cost.json"


def _loop(call: Callable[[], None], calls: int) -> int:
    start = time.perf_counter_ns()
    for _ in range(calls):
        call()
    return time.perf_counter_ns() - start


def variants(metrics: Metrics) -> dict[str, Callable[[], None]]:
    symbol = metrics.for_symbol("binance", "BTCUSDT")
    exchange = metrics.for_exchange("binance")
    bound_histogram = metrics.fill_latency.labels("binance")
    bound_counter = metrics.fills.labels("binance", "BTCUSDT", "buy")
    histogram, counter = metrics.fill_latency, metrics.fills
    observe, inc = bound_histogram.observe, bound_counter.inc
    received, message = symbol.market_data_received, exchange.message_received
    latency = exchange.observe_fill_latency_ns
    return {
        "empty_call": lambda: None,
        "histogram_bound_observe": lambda: observe(0.0042),
        "histogram_labels_observe": lambda: histogram.labels("binance").observe(0.0042),
        "counter_bound_inc": lambda: inc(),
        "counter_labels_inc": lambda: counter.labels("binance", "BTCUSDT", "buy").inc(),
        "market_data_received": lambda: received(123_456_789),
        "message_received": lambda: message(),
        "observe_fill_latency_ns": lambda: latency(4_200_000),
    }


def measure(rounds: int, calls: int) -> dict[str, Any]:
    metrics = Metrics(ManualClock())
    metrics.for_symbol("binance", "ETHUSDT").fill(Side.SELL)
    calls_by_name = variants(metrics)
    samples: dict[str, list[float]] = {name: [] for name in calls_by_name}
    for call in calls_by_name.values():  # warm up
        _loop(call, calls // 10)
    for _ in range(rounds):
        for name, call in calls_by_name.items():
            samples[name].append(_loop(call, calls) / calls)
    overhead = statistics.median(samples.pop("empty_call"))
    ns_per_call = {name: round(max(0.0, statistics.median(v) - overhead), 1) for name, v in samples.items()}
    scrape_us = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        generate_latest(metrics.registry)
        scrape_us.append((time.perf_counter_ns() - start) / 1000)
    return {
        "benchmark": "metrics_cost",
        "unit": "ns per call (median of rounds, loop and call overhead subtracted)",
        "rounds": rounds,
        "calls_per_round": calls,
        "loop_overhead_ns": round(overhead, 1),
        "ns_per_call": ns_per_call,
        "labels_over_bound_histogram": round(
            ns_per_call["histogram_labels_observe"] / max(ns_per_call["histogram_bound_observe"], 0.1), 2
        ),
        "labels_over_bound_counter": round(
            ns_per_call["counter_labels_inc"] / max(ns_per_call["counter_bound_inc"], 0.1), 2
        ),
        "scrape_microseconds": round(statistics.median(scrape_us), 1),
        "python": platform.python_version(),
        "prometheus_client": version("prometheus-client"),
        "machine": platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ns per metrics observation on the hot path")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args([] if argv is None else argv)  # run_all calls main() with no arguments
    result = measure(args.rounds, args.calls)
    width = max(len(name) for name in result["ns_per_call"])
    for name, ns in result["ns_per_call"].items():
        print(f"{name:<{width}}  {ns:8.1f} ns")
    print(f"{'labels()/bound histogram':<{width}}  {result['labels_over_bound_histogram']:8.2f} x")
    print(f"{'labels()/bound counter':<{width}}  {result['labels_over_bound_counter']:8.2f} x")
    print(f"{'scrape (2 symbols)':<{width}}  {result['scrape_microseconds']:8.1f} µs")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.output.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(result, indent=2) + "\n")
    temporary.replace(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
