"""The reliability battery at full counts (issue 4): writes reports/reliability.json.

    .venv/bin/python scripts/reliability.py [--seed N] [--quick] [--out reports/reliability.json]

Exit status 1 when any invariant failed. The short cut of the same code runs in `make test`
(tests/reliability/). Every run records its seed; a failing seed becomes a regression test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import structlog

REPO = Path(__file__).resolve().parent.parent
# the battery lives with the tests; `scripts/reliability` itself would shadow the package
sys.path[0] = str(REPO / "tests")

from reliability.books_battery import SHORT, Counts, run_books_battery  # noqa: E402


def books_passed(report: dict[str, Any]) -> bool:
    return (
        not report["failures"]
        and report["detected"] == report["injected"]
        and report["violation_count"] == 0
        and report["post_resync_equal"] == report["post_resync_compares"]
        and report["full_compares_equal"] == report["full_compares"]
        and all(k["gaps_seen"] == k["gaps_expected"] for k in report["kinds"].values())
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--quick", action="store_true", help="the short-cut counts")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "reliability.json")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    counts = SHORT if args.quick else Counts(per_toxic=30, drops=500, duplicates=100, reorders=100)
    print(f"seed {args.seed}", flush=True)
    started = time.monotonic()
    books = asyncio.run(run_books_battery(counts, seed=args.seed, log=lambda m: print(m, flush=True)))
    sections: dict[str, Any] = {"books_under_faults": {**books, "passed": books_passed(books)}}
    report = {
        "seed": args.seed,
        "counts": counts.__dict__,
        "elapsed_s": round(time.monotonic() - started, 1),
        "passed": all(section["passed"] for section in sections.values()),
        **sections,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "books_under_faults"}, indent=2))
    print(f"written to {args.out}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
