"""Kill-switch latency at full count (issue 4, item 5): writes reports/kill_switch_latency.json.

    .venv/bin/python scripts/kill_switch_latency.py [--trials 1000] [--seed N] [--orders-per-symbol 3]
                                                    [--out reports/kill_switch_latency.json]

Each trial rests orders on both symbols, trips the kill switch and times until the simulated venue
lists no open order. Exit status 1 when p99 is over 100 ms or any trial did not reach an empty venue
book. The short cut (20 trials) runs in tests/reliability/test_kill_switch_latency.py. Every run
records its seed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path

import structlog

REPO = Path(__file__).resolve().parent.parent
sys.path[0] = str(REPO / "tests")  # the battery lives with the tests

from reliability.kill_switch_battery import ORDERS_PER_SYMBOL, run_kill_switch_trials  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--orders-per-symbol", type=int, default=ORDERS_PER_SYMBOL)
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "kill_switch_latency.json")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    print(f"seed {args.seed}: {args.trials} trials", flush=True)
    report = asyncio.run(
        run_kill_switch_trials(
            args.trials,
            seed=args.seed,
            orders_per_symbol=args.orders_per_symbol,
            log=lambda m: print(m, flush=True),
        )
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    latency = report["latency_ms"]
    print(
        f"{report['reached_empty_book']}/{report['trials']} trials reached an empty venue book; "
        f"p50 {latency['p50']} ms, p90 {latency['p90']} ms, p99 {latency['p99']} ms, "
        f"max {latency['max']} ms; "
        f"{report['trials_over_target']} over {report['target_ms']:.0f} ms; "
        f"{'PASS' if report['passed'] else 'FAIL'}"
    )
    print(f"written to {args.out}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
