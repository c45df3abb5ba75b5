"""Kill -9 at full counts (issue 4, item 3): writes reports/crash_battery.json.

    .venv/bin/python scripts/crash_battery.py [--seed N] [--random 500] [--per-point 50]
        [--chain 10] [--kinds random,after_send,...] [--out reports/crash_battery.json]

Per kind (random, and each named crash point): trials, lost fills, duplicate client ids, max drift,
restart-to-ready p50/p99/max. Exit status 1 on any violation. The short cut runs in
tests/reliability/test_crash_points.py. Every run records its seed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

REPO = Path(__file__).resolve().parent.parent
sys.path[0] = str(REPO / "tests")  # the battery lives with the tests

from reliability.crash_battery import KINDS, CrashCounts, run_crash_battery  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--random", type=int, default=500, help="random-moment kills")
    parser.add_argument("--per-point", type=int, default=50, help="kills at each named crash point")
    parser.add_argument("--chain", type=int, default=10, help="kills per data dir before each verdict")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "crash_battery.json")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    kinds = tuple(kind for kind in args.kinds.split(",") if kind)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
    counts = CrashCounts(random=args.random, per_point=args.per_point, chain=args.chain)
    print(f"seed {args.seed}: {counts}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def write(report: dict[str, Any]) -> None:
        report["passed"] = not report["violations"]
        report["complete"] = len(report["kinds"]) == len(kinds)
        args.out.write_text(json.dumps(report, indent=2) + "\n")

    with tempfile.TemporaryDirectory(prefix="crash-battery-") as root:
        report = asyncio.run(
            run_crash_battery(
                counts, args.seed, Path(root), kinds, log=lambda m: print(m, flush=True), on_kind=write
            )
        )
    write(report)
    for kind, figures in report["kinds"].items():
        ready = figures["ready_s"]
        print(
            f"{kind:>14}: {figures['trials']} trials, {figures['venue_fills']} venue fills, lost "
            f"{figures['lost_fills']}, dup ids {figures['duplicate_ids']}, max drift {figures['max_drift']}, "
            f"ready p50/p99/max {ready['p50']:.2f}/{ready['p99']:.2f}/{ready['max']:.2f}s "
            f"({figures['restarts_measured']} restarts timed)",
            flush=True,
        )
    violations = report["violations"] or "none"
    print(f"{report['seconds']} s; violations: {violations}; wrote {args.out}", flush=True)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
