"""Kill -9 at random moments and at named crash points (issue 4, item 3).

The engine is `tradestack paper --venue-rest ... --venue-ws ...` in a child process trading a simulated
exchange that lives in this process and outlives every kill. Trials come in chains: one venue and one
data directory per chain, `chain` kills in a row (each restart is the next trial), then a last start
without a crash point, a clean stop, and the journal is compared with the venue:

* lost fills      — venue fills of the account missing from the journal, plus journal fills the venue
                    does not have, plus any (symbol, trade id) twice: each venue fill exactly once;
* duplicate ids   — client order ids the venue accepted more than once (over everything it accepted);
* drift           — the balances the journal implies (baseline + fills) against the venue's, per asset,
                    exactly, after the clean stop; and the engine's own drift gauge after every
                    start's reconciliation;
* restart-to-ready — from spawning the process after a kill until /readyz answers 200 (bound 5 s).

A named trial arms `TRADESTACK_CRASH_AT=<point>:<n>` (n drawn from the seed) and waits for the process
to SIGKILL itself there (src/tradestack/store/crash_points.py); a random trial SIGKILLs the process a
random time after it was spawned (during start-up and reconciliation as well as while trading). Shared
by the short cut (tests/reliability/test_crash_points.py, in `make test`) and the full counts
(scripts/crash_battery.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.engine_process import Engine
from support.trading_rig import percentile
from tradestack.domain.positions import ASSET_SCALE
from tradestack.store.crash_points import ENV, POINTS
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

READY_BOUND_S = 5.0
ASSETS = ("BTC", "ETH", "USDT")
KINDS = ("random", *POINTS)
CRASH_WAIT_S = 60.0  # a named point not reached by then is reported as unreached
START_WAIT_S = 20.0  # a start neither ready nor dead by then is a failure
RANDOM_KILL_S = (0.2, 4.0)  # random kills land this long after the spawn (start-up ~1-2 s)
# which pass through the point kills: orders pass often (a few deep lets most kills land after /readyz
# has been seen, so the restart is timed, and with orders working); fills and checkpoints are rarer
NTH = {
    "before_intent": (3, 20),
    "after_intent": (3, 20),
    "after_send": (3, 20),
    "after_ack": (3, 20),
    "after_fill": (1, 4),
    "mid_checkpoint": (1, 4),
}


@dataclass(frozen=True)
class CrashCounts:
    random: int = 500
    per_point: int = 50
    chain: int = 10  # kills in a row on one data dir before the chain is verified

    def trials(self, kind: str) -> int:
        return self.random if kind == "random" else self.per_point


FULL = CrashCounts()
SHORT = CrashCounts(random=3, per_point=2, chain=3)


@dataclass
class KindFigures:
    trials: int = 0
    reached: int = 0  # named: the process said where it died; random: killed by us
    killed_before_ready: int = 0
    unreached: int = 0
    bad_exits: list[str] = field(default_factory=list)
    at_venue: int = 0  # the order of the crash point's client id reached the venue
    deferred_sends: int = 0  # after_send on the aiohttp route (bytes not yet written)
    lost_fills: int = 0
    duplicate_ids: int = 0
    max_drift: int = 0  # ASSET_SCALE units, journal-implied against the venue, after the clean stop
    max_drift_gauge: float = 0.0  # percent, the engine's gauge after each start's reconciliation
    ready_s: list[float] = field(default_factory=list)  # restart (after a kill) to /readyz 200
    venue_fills: int = 0
    chains: int = 0
    details: list[str] = field(default_factory=list)


class CrashEngine(Engine):
    """The engine process, spawned with or without a crash point; stderr kept (the crash point's line)."""

    def __init__(self, sim: SimulatedExchange, data_dir: Path) -> None:
        super().__init__(sim, data_dir)
        self.said: list[str] = []

    async def spawn(self, crash_at: str | None) -> None:
        env = {k: v for k, v in os.environ.items() if not re.search(r"KEY|SECRET|PASSPHRASE", k)}
        env.pop(ENV, None)
        if crash_at:
            env[ENV] = crash_at
        self.said = []
        self.base_url = ""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tradestack.cli", "paper", "--no-view",
            "--config", str(self.config), "--data-dir", str(self.data_dir),
            "--venue-rest", self.sim.rest_url, "--venue-ws", self.sim.ws_url,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        asyncio.get_running_loop().create_task(self._read_stderr())

    async def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while line := (await self.process.stderr.readline()).decode(errors="replace"):
            if not self.base_url:
                match = re.search(r"metrics on (http://\S+)/metrics", line)
                if match:
                    self.base_url = match.group(1)
            self.said.append(line)
            del self.said[:-300]

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def is_ready(self) -> bool:
        return bool(self.base_url) and self.alive and await self.ready()

    def crash_line(self) -> str | None:
        return next((line.strip() for line in self.said if line.startswith("CRASH_POINT ")), None)

    async def wait_exit(self, timeout: float) -> int | None:
        assert self.process is not None
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            return None

    async def drift_gauge(self) -> float:
        text = await self.metrics()
        values = [
            float(m.group(1))
            for m in re.finditer(r"^trading_position_drift_percent\{[^}]*\} (\S+)$", text, re.MULTILINE)
        ]
        return max((abs(v) for v in values), default=0.0)

    async def reap(self) -> None:
        if self.alive:
            await self.kill()


async def _start(
    engine: CrashEngine, crash_at: str | None, kill_at_s: float | None
) -> tuple[float | None, float]:
    """Spawn; wait for ready, death, or (random trials) the kill moment. (seconds to ready or None,
    the engine's drift gauge after its reconciliation)."""
    started = time.monotonic()
    await engine.spawn(crash_at)
    drift = 0.0
    while True:
        elapsed = time.monotonic() - started
        if kill_at_s is not None and elapsed >= kill_at_s:
            return None, drift
        if not engine.alive:
            await asyncio.sleep(0.05)  # let the stderr reader take the crash point's last line
            return None, drift
        if await engine.is_ready():
            ready_s = time.monotonic() - started
            with contextlib.suppress(OSError):  # killed by its crash point in between
                drift = await engine.drift_gauge()
            return ready_s, drift
        if elapsed > START_WAIT_S:
            raise AssertionError(f"engine neither ready nor dead {START_WAIT_S}s after its spawn")
        await asyncio.sleep(0.02)


def journal_fills(data_dir: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(data_dir / "journal.db")
    try:
        return [(row[0], str(row[1])) for row in db.execute("SELECT symbol, trade_id FROM fills")]
    finally:
        db.close()


def implied_balances(data_dir: Path, sim: SimulatedExchange) -> dict[str, int]:
    """The journal's balances: its baseline plus every journaled fill (as the engine's ledger does)."""
    db = sqlite3.connect(data_dir / "journal.db")
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        balances = {asset: int(value) for asset, value in json.loads(meta["ledger_baseline"]).items()}
        for symbol, side, price, size, fee, fee_asset in db.execute(
            "SELECT symbol, side, price, size, fee, fee_asset FROM fills"
        ):
            instrument = sim.instrument(symbol)
            sign = 1 if side == "BUY" else -1
            base = size * 10 ** (ASSET_SCALE - instrument.size_scale)
            quote = price * size * 10 ** (ASSET_SCALE - instrument.notional_scale)
            balances[instrument.base] = balances.get(instrument.base, 0) + sign * base
            balances[instrument.quote] = balances.get(instrument.quote, 0) - sign * quote
            balances[fee_asset] = balances.get(fee_asset, 0) - fee
    finally:
        db.close()
    return balances


def verify(data_dir: Path, sim: SimulatedExchange) -> dict[str, Any]:
    """The journal against the venue, once nothing of ours is working there (after a clean stop)."""
    ours = journal_fills(data_dir)
    counted = Counter(ours)
    venue = Counter((trade.symbol, str(trade.trade_id)) for trade in sim.trades())
    lost = sum((venue - counted).values()) + sum((counted - venue).values())
    lost += sum(n - 1 for n in counted.values() if n > 1)
    duplicates = sum(1 for n in sim.accepted_counts().values() if n > 1)
    truth = {asset: b.free + b.locked for asset, b in sim.balances().items()}
    implied = implied_balances(data_dir, sim)
    drift = max(abs(implied.get(a, 0) - truth.get(a, 0)) for a in ASSETS)
    return {
        "venue_fills": sum(venue.values()),
        "lost_fills": lost,
        "duplicate_ids": duplicates,
        "drift": drift,
        "open_orders": len(sim.open_orders()),
    }


async def _chain(
    kind: str, trials: int, rng: random.Random, root: Path, figures: KindFigures, log: Callable[[str], None]
) -> None:
    sim = SimulatedExchange(SimConfig(flow=FlowConfig(interval_ms=50, seed=rng.randrange(1 << 30))))
    await asyncio.wait_for(sim.start(), 10)
    data_dir = root / f"{kind}-{figures.chains}" / "data"
    figures.chains += 1
    data_dir.mkdir(parents=True)
    engine = CrashEngine(sim, data_dir)
    killed_ids: list[str] = []
    after_kill = False  # the next start is a restart
    try:
        for _ in range(trials):
            named = kind != "random"
            crash_at = f"{kind}:{rng.randint(*NTH[kind])}" if named else None
            kill_at = None if named else rng.uniform(*RANDOM_KILL_S)
            ready_s, drift = await _start(engine, crash_at, kill_at)
            figures.trials += 1
            figures.max_drift_gauge = max(figures.max_drift_gauge, drift)
            if ready_s is not None and after_kill:
                figures.ready_s.append(ready_s)
            if ready_s is None:
                figures.killed_before_ready += 1
            if named:
                code = await engine.wait_exit(CRASH_WAIT_S)
                if code is None:
                    figures.unreached += 1
                    await engine.reap()
                    log(f"{kind}: {crash_at} not reached within {CRASH_WAIT_S:.0f}s")
                    after_kill = True
                    continue
            else:
                await engine.reap()
                code = engine.process.returncode if engine.process is not None else None
            after_kill = True
            line = engine.crash_line()
            if code != -9 or (named and line is None):
                figures.bad_exits.append(f"{crash_at or 'random'}: exit {code}; {''.join(engine.said[-5:])}")
                continue
            figures.reached += 1
            if line is not None:
                figures.details.append(line)
                words = line.split()
                if kind in ("before_intent", "after_intent", "after_send", "after_ack") and len(words) > 3:
                    killed_ids.append(words[3])
                if "deferred=True" in line:
                    figures.deferred_sends += 1
        # the last start, unarmed: ready after the last kill, then a clean stop and the verdict
        ready_s, drift = await _start(engine, None, None)
        figures.max_drift_gauge = max(figures.max_drift_gauge, drift)
        if ready_s is None:
            raise AssertionError(f"{kind}: the last start died: {''.join(engine.said[-10:])}")
        figures.ready_s.append(ready_s)
        figures.at_venue += sum(1 for client_id in killed_ids if sim.order_count(client_id) > 0)
        code = await engine.stop()
        if code != 0:
            figures.bad_exits.append(f"clean stop: exit {code}")
        verdict = verify(data_dir, sim)
        figures.lost_fills += verdict["lost_fills"]
        figures.duplicate_ids += verdict["duplicate_ids"]
        figures.max_drift = max(figures.max_drift, verdict["drift"])
        figures.venue_fills += verdict["venue_fills"]
        if verdict["open_orders"]:
            figures.bad_exits.append(f"{verdict['open_orders']} orders left open after a clean stop")
    finally:
        await engine.reap()
        await asyncio.wait_for(sim.stop(), 10)


async def run_crash_battery(
    counts: CrashCounts,
    seed: int,
    root: Path,
    kinds: tuple[str, ...] = KINDS,
    log: Callable[[str], None] = lambda message: None,
    on_kind: Callable[[dict[str, Any]], None] = lambda report: None,
) -> dict[str, Any]:
    """Every kind's trials in chains of `counts.chain`; the report's figures per kind (see the module)."""
    log(f"crash battery seed {seed}")
    rng = random.Random(seed)
    started = time.monotonic()
    report: dict[str, Any] = {"seed": seed, "counts": counts.__dict__, "kinds": {}}
    for kind in kinds:
        figures = KindFigures()
        kind_started = time.monotonic()
        left = counts.trials(kind)
        while left > 0:
            batch = min(left, counts.chain)
            try:
                await _chain(kind, batch, random.Random(rng.randrange(1 << 30)), root, figures, log)
            except AssertionError as failure:  # recorded as a violation; the other chains still run
                figures.bad_exits.append(f"chain failed: {str(failure)[:400]}")
                log(f"{kind}: chain failed: {failure}")
            left -= batch
            log(
                f"{kind}: {figures.trials}/{counts.trials(kind)} trials, lost {figures.lost_fills}, "
                f"dup ids {figures.duplicate_ids}, drift {figures.max_drift}, "
                f"ready max {max(figures.ready_s, default=0):.2f}s"
            )
        report["kinds"][kind] = summarize(figures, time.monotonic() - kind_started)
        report["seconds"] = round(time.monotonic() - started, 1)
        report["violations"] = violations(report)
        on_kind(report)  # the full run writes its report as each kind finishes
    report["seconds"] = round(time.monotonic() - started, 1)
    report["violations"] = violations(report)
    return report


def summarize(figures: KindFigures, seconds: float) -> dict[str, Any]:
    ready = figures.ready_s
    return {
        "trials": figures.trials,
        "reached": figures.reached,
        "unreached": figures.unreached,
        "killed_before_ready": figures.killed_before_ready,
        "bad_exits": figures.bad_exits,
        "crash_point_order_at_venue": figures.at_venue,
        "deferred_sends": figures.deferred_sends,
        "chains": figures.chains,
        "venue_fills": figures.venue_fills,
        "lost_fills": figures.lost_fills,
        "duplicate_ids": figures.duplicate_ids,
        "max_drift": figures.max_drift,
        "max_drift_gauge_percent": figures.max_drift_gauge,
        "restarts_measured": len(ready),
        "ready_s": {
            "p50": round(percentile(ready, 0.5), 3),
            "p99": round(percentile(ready, 0.99), 3),
            "max": round(max(ready, default=0.0), 3),
        },
        "seconds": round(seconds, 1),
        "crash_lines_sample": figures.details[:5],
    }


def violations(report: dict[str, Any]) -> list[str]:
    found = []
    for kind, figures in report["kinds"].items():
        for name in ("lost_fills", "duplicate_ids", "max_drift", "unreached"):
            if figures[name]:
                found.append(f"{kind}: {name} {figures[name]}")
        if figures["max_drift_gauge_percent"]:
            found.append(f"{kind}: drift gauge {figures['max_drift_gauge_percent']}% after reconciliation")
        if figures["ready_s"]["max"] > READY_BOUND_S:
            found.append(f"{kind}: ready after {figures['ready_s']['max']}s (bound {READY_BOUND_S}s)")
        found.extend(f"{kind}: {exit}" for exit in figures["bad_exits"])
    return found
