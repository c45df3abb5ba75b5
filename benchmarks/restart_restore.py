"""Restart cost: restoring an engine from a long-lived journal, with and without the positions snapshot.

A journal of `--fills` fills (two symbols, written through the real SqliteJournal) is restored into a
fresh engine the way `tradestack paper` starts (app/journal_state.restore): the baseline replays every
fill (what a start did before snapshots; `load()` without `recent_fills`), the snapshot variant loads
the snapshot, the fills after it and each symbol's last 4,096 as seen. Rounds alternate between the
two; medians and the ratio are printed and written to benchmarks/results/restart_restore.json. Both
must end with the same positions, or the run fails.

    python -m benchmarks.restart_restore [--fills 200000] [--rounds 5] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tradestack.app.journal_state import restore
from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.client_ids import ClientOrderIds
from tradestack.domain.orders.manager import OrderManager
from tradestack.domain.positions import Fill
from tradestack.domain.risk.engine import KillSwitch, RiskEngine
from tradestack.domain.risk.limits import RiskLimits, SymbolLimits
from tradestack.engine.core import Engine
from tradestack.ports import ManualClock
from tradestack.store.sqlite import SqliteJournal
from tradestack.strategies.market_maker import MarketMaker, MarketMakerParams

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "restart_restore.json"
INSTRUMENTS = {
    "BTCUSDT": Instrument.from_steps("binance", "BTCUSDT", "BTC", "USDT", "0.01", "0.00001"),
    "ETHUSDT": Instrument.from_steps("binance", "ETHUSDT", "ETH", "USDT", "0.01", "0.0001"),
}


def engine_on(journal: SqliteJournal) -> Engine:
    size = {symbol: inst.size("0.001") for symbol, inst in INSTRUMENTS.items()}
    limits = RiskLimits(
        per_symbol={symbol: SymbolLimits(s, s * 10) for symbol, s in size.items()},
        max_order_notional=10**20,
        price_band_bps=100,
        max_orders_per_second=100,
        daily_loss_limit=10**20,
    )
    params = MarketMakerParams(500, 1000, 200, size, {symbol: s * 10 for symbol, s in size.items()})
    return Engine(
        INSTRUMENTS,
        MarketMaker(params),
        RiskEngine(limits, INSTRUMENTS, KillSwitch()),
        OrderManager(ClientOrderIds("bench")),
        journal,
        ManualClock(),
    )


def write_journal(path: Path, fills: int) -> None:
    """`fills` fills through the engine, so snapshots are taken as in production (every 1,000)."""
    journal = SqliteJournal(path)
    engine = engine_on(journal)
    for n in range(fills):
        symbol = "BTCUSDT" if n % 2 else "ETHUSDT"
        inst = INSTRUMENTS[symbol]
        side = Side.BUY if (n // 2) % 3 else Side.SELL
        price = inst.price("50000") + n % 997
        engine.recover_fill(Fill(symbol, str(n), "", side, price, inst.size("0.001"), 1_000, "USDT", n))
    journal.close()


def restored(path: Path, snapshot: bool) -> tuple[float, tuple[int, ...]]:
    journal = SqliteJournal(path)
    engine = engine_on(journal)
    started = time.perf_counter()
    if snapshot:
        restore(engine, journal)
    else:
        for fill in journal.load().fills:  # every fill, as a start did before snapshots
            engine.restore_fill(fill)
    seconds = time.perf_counter() - started
    journal.close()
    figures = tuple(x for p in engine.positions.values() for x in (p.size, p.cost, p.realized, p.fees))
    return seconds, figures


def measure(fills: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "journal.db"
        write_journal(path, fills)
        samples: dict[str, list[float]] = {"full_replay": [], "snapshot": []}
        results: dict[str, tuple[int, ...]] = {}
        for _ in range(rounds):
            for name in samples:
                seconds, figures = restored(path, snapshot=name == "snapshot")
                samples[name].append(seconds)
                results[name] = figures
    if results["full_replay"] != results["snapshot"]:
        raise SystemExit(f"positions differ: {results}")
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "fills_in_journal": fills,
        "rounds": rounds,
        "median_seconds": {name: round(value, 4) for name, value in medians.items()},
        "speedup_vs_full_replay": round(medians["full_replay"] / medians["snapshot"], 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fills", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv if argv is not None else [])
    result = measure(args.fills, args.rounds)
    medians = result["median_seconds"]
    print(
        f"restore of {args.fills:,} journaled fills: full replay {medians['full_replay']:.3f} s, "
        f"with the snapshot {medians['snapshot']:.3f} s ({result['speedup_vs_full_replay']}x)"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
