"""`make bench`: every benchmark, one after the other; each prints medians and writes results/*.json."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = (
    "benchmarks.feed_handler",
    "benchmarks.feed_handler_venues",
    "benchmarks.tick_to_order",
    "benchmarks.metrics_cost",
    "benchmarks.restart_restore",
)


def main() -> int:
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        module = importlib.import_module(name)
        result = module.main()
        if isinstance(result, int) and result != 0:
            return result
    return 0


if __name__ == "__main__":
    sys.exit(main())
