"""Soak (issue 4, item 7): paper trading under toxics and kill -9s; writes reports/soak.json.

    .venv/bin/python scripts/soak.py [--duration 1200] [--seed N] [--sample-every 5] [--warmup 60]
                                     [--toxic-every 30,90] [--kill-every 120,300]
                                     [--out reports/soak.json] [--data-dir DIR]

`make soak DURATION=3600` runs it for as long as asked. Every few seconds it samples the engine's RSS,
open file descriptors, asyncio tasks, queue depths and event-loop lag; after each engine start's
warm-up it fits one slope per series (per engine-process segments; method in
tests/reliability/soak_battery.py). Exit status 1 when a series grows, the engine did not recover from
a fault or a restart, or the journal disagrees with the venue afterwards. Every run records its seed.
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

from reliability.soak_battery import Soak, SoakConfig, reanalyse  # noqa: E402


def pair(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    return float(low), float(high or low)


def main() -> int:
    defaults = SoakConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=defaults.duration_s, help="seconds of faults")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--sample-every", type=float, default=defaults.sample_every_s)
    parser.add_argument("--warmup", type=float, default=defaults.warmup_s, help="after each engine start")
    parser.add_argument("--toxic-every", type=pair, default=defaults.toxic_every_s, help="MIN,MAX seconds")
    parser.add_argument("--kill-every", type=pair, default=defaults.kill_every_s, help="MIN,MAX seconds")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "soak.json")
    parser.add_argument("--data-dir", type=Path, default=None, help="kept afterwards (default: a temp dir)")
    parser.add_argument("--analyse", type=Path, default=None, help="recompute the slopes of a report only")
    args = parser.parse_args()
    if args.analyse is not None:
        report = reanalyse(json.loads(args.analyse.read_text()))
        args.analyse.write_text(json.dumps(report, indent=2) + "\n")
        return summarise(report, args.analyse)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    config = SoakConfig(
        duration_s=args.duration,
        seed=args.seed,
        sample_every_s=args.sample_every,
        warmup_s=args.warmup,
        toxic_every_s=args.toxic_every,
        kill_every_s=args.kill_every,
    )
    print(f"seed {args.seed}: soak for {args.duration:g} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        data_dir = args.data_dir if args.data_dir is not None else Path(scratch)
        data_dir.mkdir(parents=True, exist_ok=True)
        report = asyncio.run(Soak(config, data_dir, log=lambda m: print(m, flush=True)).run())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return summarise(report, args.out)


def summarise(report: dict[str, Any], out: Path) -> int:
    for name, figures in report["series"].items():
        print(
            f"{name:26} median {figures['median']:>11.6g}  slope/h {figures['slope_per_hour']:>+12.6g} "
            f"(± {figures['slope_stderr_per_hour'] or 0:.3g}, "
            f"robust {figures['robust_slope_per_hour']:+.3g}, "
            f"allowed {figures['tolerance_per_hour']:.3g})  {figures['verdict']}"
        )
    summary = {k: report[k] for k in ("seed", "elapsed_s", "engine_processes", "kills", "toxics", "samples")}
    print(json.dumps({**summary, "invariants": report["invariants"], "failures": report["failures"]}))
    print(f"{'PASS' if report['passed'] else 'FAIL'}; written to {out}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
