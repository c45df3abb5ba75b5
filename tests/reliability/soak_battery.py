"""Soak: paper trading for a fixed period under toxics and kill -9s, sampling the engine's resources.

The engine is `tradestack paper` in a child process (tests/support/engine_process.py) trading the
simulated exchange, which lives in this process with its background flow running. Both of the engine's
paths go through fault proxies: the WebSocket streams (market and user) and REST. Every 30-90 s (seeded)
one toxic is put on one path for a few seconds, then removed, and the engine must be ready again; every
few minutes the engine is killed with SIGKILL and restarted on the same data directory.

Every few seconds the sampler records, for the engine process alive at that moment:
* rss_bytes and open_fds, from /proc/<pid>/status (VmRSS) and /proc/<pid>/fd;
* asyncio_tasks, event_loop_lag_s and one queue_<name> per internal queue, from the engine's /metrics
  (trading_asyncio_tasks, trading_event_loop_lag_seconds, trading_queue_depth{queue=...}).

How slopes are computed (`analyse`): each engine process is a segment (a restart resets RSS, fds,
tasks, and the restored journal sets a new level). Samples within `warmup_s` of a segment's start are
dropped. The slope is the least-squares fit of value against time with one intercept per segment
(the "within" estimator: time and value are centred on each segment's mean, then
slope = sum(dt * dy) / sum(dt^2) over all segments), so a restart's reset is not read as a fall and a
higher level after restart is not read as growth within a process; its standard error comes from the
residuals. Slopes are reported per hour. Faults cause excursions that end (a blackholed REST path
leaves ~30-70 extra sockets open for about a minute, then they close), and one near the end of a
segment tilts a least-squares line, so a robust slope is computed as well: Theil-Sen within segments
(the median of the slopes of all pairs of samples of one process). A series is GROWING when its
least-squares slope is above its tolerance (a fraction of its median level plus an absolute floor, per
hour, see TOLERANCES) and more than two standard errors above zero, and its robust slope is above the
tolerance too; otherwise it is flat (bounded). Each segment's own slope and median level are reported
too, so growth across restarts (a level that rises with the journal) shows.

Afterwards the engine is stopped cleanly and the journal is checked against the venue as in the crash
recovery test: no client order id accepted twice, every venue fill journaled exactly once, the
journal's balances equal to the venue's, nothing left open.

Shared by the short cut (tests/reliability/test_soak.py, ~60 s) and `scripts/soak.py` (`make soak`).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import sqlite3
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from support.engine_process import Engine
from support.fault_proxy import (
    Bandwidth,
    FaultProxy,
    Latency,
    ResetPeer,
    Slicer,
    Timeout,
    Toxic,
    WsDrop,
    WsDuplicate,
    WsReorder,
)
from tradestack.domain.positions import ASSET_SCALE
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

HOUR = 3600.0
READY_WITHIN_S = 30.0  # after a toxic is removed, or after a restart
ASSETS = ("BTC", "ETH", "USDT")

# per series: (fraction of the median level per hour, absolute per hour); queue_* share one entry
TOLERANCES: dict[str, tuple[float, float]] = {
    "rss_bytes": (0.05, 1024 * 1024),
    "open_fds": (0.0, 1.0),
    "asyncio_tasks": (0.05, 2.0),
    "event_loop_lag_s": (0.25, 0.005),
    "queue": (0.25, 10.0),
}

# (path, kind): the toxics one injection draws from
WS_TOXICS = ("latency", "slicer", "bandwidth", "reset", "blackhole", "down", "drop", "duplicate", "reorder")
REST_TOXICS = ("latency", "reset", "blackhole", "down")


@dataclass(frozen=True)
class SoakConfig:
    duration_s: float = 1200.0
    seed: int = 1
    sample_every_s: float = 5.0
    # after each engine start; those samples are left out of the slopes. Bounded caches reach their
    # level within minutes (docs/reliability.md, Soak: the second probe), so 60 s is enough
    warmup_s: float = 60.0
    toxic_every_s: tuple[float, float] = (30.0, 90.0)
    toxic_hold_s: tuple[float, float] = (2.0, 8.0)
    kill_every_s: tuple[float, float] = (120.0, 300.0)
    flow_interval_ms: int = 50


SHORT = SoakConfig(
    duration_s=60.0,
    seed=5,
    sample_every_s=1.0,
    warmup_s=5.0,
    toxic_every_s=(8.0, 15.0),
    toxic_hold_s=(1.0, 3.0),
    kill_every_s=(25.0, 35.0),
)


@dataclass
class Sample:
    t: float  # seconds since the soak started
    segment: int  # which engine process (0 = the first)
    age: float  # seconds since that process was ready
    values: dict[str, float] = field(default_factory=dict)


@dataclass
class Injection:
    at: float
    path: str
    kind: str
    hold_s: float
    affected: int = 0
    ready_after_s: float | None = None  # from removal until /readyz answered 200


class Soak:
    def __init__(self, config: SoakConfig, data_dir: Path, log: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.data_dir = data_dir
        self.rng = random.Random(config.seed)
        self.log = log or (lambda message: None)
        self.sim = SimulatedExchange(
            SimConfig(flow=FlowConfig(interval_ms=config.flow_interval_ms, seed=config.seed))
        )
        self.ws_proxy: FaultProxy | None = None
        self.rest_proxy: FaultProxy | None = None
        self.engine: Engine | None = None
        self.segment = -1
        self.segment_ready = 0.0
        self.up = False
        self.started = 0.0
        self.samples: list[Sample] = []
        self.injections: list[Injection] = []
        self.restart_s: list[float] = []
        self.kills = 0
        self.failures: list[str] = []
        self.sample_errors = 0

    def now(self) -> float:
        return time.monotonic() - self.started

    # ---- the run -----------------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        await asyncio.wait_for(self.sim.start(), 10)
        self.ws_proxy = FaultProxy("127.0.0.1", self.sim.port, seed=self.config.seed, websocket=True)
        self.rest_proxy = FaultProxy("127.0.0.1", self.sim.port, seed=self.config.seed + 1)
        await self.ws_proxy.start()
        await self.rest_proxy.start()
        self.engine = Engine(
            self.sim, self.data_dir / "data", rest_url=self.rest_proxy.url, ws_url=self.ws_proxy.url
        )
        self.started = time.monotonic()
        sampler: asyncio.Task[None] | None = None
        invariants: dict[str, Any] = {}
        try:
            await self._start_engine()
            sampler = asyncio.get_running_loop().create_task(self._sample_forever())
            await self._drive()
            self.up = False
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            code = await self.engine.stop()
            if code != 0:
                self.failures.append(f"the engine exited {code} on a clean stop")
            invariants = self._check_invariants()
        finally:
            if sampler is not None and not sampler.done():
                sampler.cancel()
                await asyncio.gather(sampler, return_exceptions=True)
            process = self.engine.process
            if process is not None and process.returncode is None:
                process.kill()  # never leave an engine running after a failure
                await process.wait()
            await self.ws_proxy.stop()
            await self.rest_proxy.stop()
            await asyncio.wait_for(self.sim.stop(), 10)
        return self.report(invariants)

    async def _start_engine(self) -> None:
        assert self.engine is not None
        seconds = await self.engine.start()
        self.segment += 1
        self.segment_ready = self.now()
        self.restart_s.append(seconds)
        self.up = True
        self.log(f"soak: {self.now():7.1f}s engine {self.segment} ready after {seconds:.2f}s")

    async def _drive(self) -> None:
        config = self.config
        next_toxic = self.now() + self.rng.uniform(*config.toxic_every_s)
        next_kill = self.now() + self.rng.uniform(*config.kill_every_s)
        while True:
            now = self.now()
            if now >= config.duration_s:
                return
            if now >= next_kill:
                await self._kill_and_restart()
                next_kill = self.now() + self.rng.uniform(*config.kill_every_s)
                next_toxic = max(next_toxic, self.now() + 1.0)
            elif now >= next_toxic:
                await self._inject()
                next_toxic = self.now() + self.rng.uniform(*config.toxic_every_s)
            else:
                await asyncio.sleep(min(next_kill, next_toxic, config.duration_s) - now)

    async def _kill_and_restart(self) -> None:
        assert self.engine is not None
        self.up = False
        self.kills += 1
        self.log(f"soak: {self.now():7.1f}s kill -9 engine {self.segment}")
        await self.engine.kill()
        await self._start_engine()

    def _toxic(self, path: str, kind: str) -> Toxic | None:
        depth = b"@depth"  # frame faults on market data only: a lost execution report is another test
        toxics: dict[str, Callable[[], Toxic]] = {
            "latency": lambda: Latency(latency_ms=100 if path == "ws" else 200, jitter_ms=50),
            "slicer": lambda: Slicer(average_size=7, size_variation=5),
            "bandwidth": lambda: Bandwidth(rate_kbps=20),
            "reset": lambda: ResetPeer(timeout_ms=0),
            "blackhole": lambda: Timeout(timeout_ms=0),
            "drop": lambda: WsDrop(count=1, match=depth),
            "duplicate": lambda: WsDuplicate(count=1, match=depth),
            "reorder": lambda: WsReorder(count=1, match=depth),
        }
        factory = toxics.get(kind)
        return None if factory is None else factory()  # None: "down"

    async def _inject(self) -> None:
        assert self.ws_proxy is not None and self.rest_proxy is not None and self.engine is not None
        path = self.rng.choice(("ws", "rest"))
        kind = self.rng.choice(WS_TOXICS if path == "ws" else REST_TOXICS)
        hold = self.rng.uniform(*self.config.toxic_hold_s)
        proxy = self.ws_proxy if path == "ws" else self.rest_proxy
        injection = Injection(round(self.now(), 2), path, kind, round(hold, 2))
        self.injections.append(injection)
        self.log(f"soak: {self.now():7.1f}s {path} {kind} for {hold:.1f}s")
        toxic = self._toxic(path, kind)
        name = None
        if toxic is None:
            proxy.disable()
        else:
            name = proxy.add(toxic)
        await asyncio.sleep(hold)  # the fault stays on for its hold time
        if toxic is None:
            await proxy.enable()
        elif name is not None:
            proxy.remove(name)
            injection.affected = toxic.affected
        removed = time.monotonic()
        deadline = removed + READY_WITHIN_S
        while not await self.engine.ready():
            if time.monotonic() > deadline:
                self.failures.append(f"{path} {kind} at {injection.at}s: not ready {READY_WITHIN_S}s after")
                return
            await asyncio.sleep(0.1)
        injection.ready_after_s = round(time.monotonic() - removed, 3)

    # ---- sampling ------------------------------------------------------------------------------------
    async def _sample_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.sample_every_s)
            if not self.up:
                continue
            segment = self.segment
            try:
                values = await self._sample_once()
            except (OSError, ValueError):  # the process died or was killed meanwhile
                self.sample_errors += 1
                continue
            if self.up and segment == self.segment:
                self.samples.append(Sample(self.now(), segment, self.now() - self.segment_ready, values))

    async def _sample_once(self) -> dict[str, float]:
        assert self.engine is not None and self.engine.process is not None
        values = proc_figures(self.engine.process.pid)
        text = await self.engine.metrics()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "trading_asyncio_tasks":
                    values["asyncio_tasks"] = sample.value
                elif sample.name == "trading_event_loop_lag_seconds":
                    values["event_loop_lag_s"] = sample.value
                elif sample.name == "trading_queue_depth":
                    values[f"queue_{sample.labels['queue']}"] = sample.value
        return values

    # ---- after the run -------------------------------------------------------------------------------
    def _check_invariants(self) -> dict[str, Any]:
        data = self.data_dir / "data"
        db = sqlite3.connect(data / "journal.db")
        try:
            orders = [row[0] for row in db.execute("SELECT client_id FROM orders")]
            fills = sorted((row[0], str(row[1])) for row in db.execute("SELECT symbol, trade_id FROM fills"))
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            balances = {asset: int(value) for asset, value in json.loads(meta["ledger_baseline"]).items()}
            for symbol, side, price, size, fee, fee_asset in db.execute(
                "SELECT symbol, side, price, size, fee, fee_asset FROM fills"
            ):
                instrument = self.sim.instrument(symbol)
                sign = 1 if side == "BUY" else -1
                base = size * 10 ** (ASSET_SCALE - instrument.size_scale)
                quote = price * size * 10 ** (ASSET_SCALE - instrument.notional_scale)
                balances[instrument.base] = balances.get(instrument.base, 0) + sign * base
                balances[instrument.quote] = balances.get(instrument.quote, 0) - sign * quote
                balances[fee_asset] = balances.get(fee_asset, 0) - fee
        finally:
            db.close()
        duplicates = [client_id for client_id in orders if self.sim.order_count(client_id) > 1]
        venue_fills = sorted((trade.symbol, str(trade.trade_id)) for trade in self.sim.trades())
        journal_set, venue_set = set(fills), set(venue_fills)
        truth = {asset: b.free + b.locked for asset, b in self.sim.balances().items()}
        drift = {
            asset: balances.get(asset, 0) - truth.get(asset, 0)
            for asset in ASSETS
            if balances.get(asset, 0) != truth.get(asset, 0)
        }
        open_after = len(self.sim.open_orders())
        result = {
            "orders_journaled": len(orders),
            "duplicate_client_ids": len(duplicates),
            "duplicate_examples": duplicates[:10],
            "venue_fills": len(venue_fills),
            "journal_fills": len(fills),
            "lost_fills": len(venue_set - journal_set),
            "fills_journaled_twice": len(fills) - len(journal_set),
            "fills_unknown_to_venue": len(journal_set - venue_set),
            "balance_drift": drift,
            "open_at_venue_after_stop": open_after,
        }
        result["passed"] = (
            bool(orders) and not duplicates and fills == venue_fills and not drift and open_after == 0
        )
        return result

    def report(self, invariants: dict[str, Any]) -> dict[str, Any]:
        series = analyse(self.samples, self.config.warmup_s)
        kinds: dict[str, int] = {}
        for injection in self.injections:
            key = f"{injection.path}:{injection.kind}"
            kinds[key] = kinds.get(key, 0) + 1
        ready = [i.ready_after_s for i in self.injections if i.ready_after_s is not None]
        growing = sorted(name for name, figures in series.items() if figures["verdict"] == "growing")
        passed = not self.failures and bool(invariants.get("passed")) and not growing and bool(series)
        return {
            "seed": self.config.seed,
            "config": asdict(self.config),
            "elapsed_s": round(self.now(), 1),
            "passed": passed,
            "growing": growing,
            "failures": self.failures,
            "engine_processes": self.segment + 1,
            "kills": self.kills,
            "ready_after_start_s": {
                "p50": round(statistics.median(self.restart_s), 2) if self.restart_s else None,
                "max": round(max(self.restart_s), 2) if self.restart_s else None,
            },
            "toxics": len(self.injections),
            "toxics_by_kind": dict(sorted(kinds.items())),
            "ready_after_toxic_removed_s_max": round(max(ready), 3) if ready else None,
            "samples": len(self.samples),
            "sample_errors": self.sample_errors,
            "method": (
                "least-squares slope of value on time with one intercept per engine process "
                f"(samples within {self.config.warmup_s:g} s of each start dropped); per hour; growing = "
                "slope above tolerance (fraction of median level + absolute, per hour) and > 2 std "
                "errors, and the robust (Theil-Sen within processes) slope above tolerance too"
            ),
            "series": series,
            "invariants": invariants,
            "injections": [asdict(i) for i in self.injections],
            "sample_rows": [
                {"t": round(s.t, 1), "segment": s.segment, "age": round(s.age, 1), **s.values}
                for s in self.samples
            ],
        }


def reanalyse(report: dict[str, Any]) -> dict[str, Any]:
    """The same report with its series, verdicts and pass recomputed from its own samples (after a
    change to the method or the tolerances)."""
    samples = [
        Sample(
            row["t"],
            row["segment"],
            row["age"],
            {k: v for k, v in row.items() if k not in ("t", "segment", "age")},
        )
        for row in report["sample_rows"]
    ]
    series = analyse(samples, report["config"]["warmup_s"])
    growing = sorted(name for name, figures in series.items() if figures["verdict"] == "growing")
    passed = not report["failures"] and bool(report["invariants"].get("passed")) and not growing
    return {**report, "series": series, "growing": growing, "passed": passed and bool(series)}


def proc_figures(pid: int) -> dict[str, float]:
    """RSS and open file descriptors of a live process, from /proc (OSError once it is gone)."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            values["rss_bytes"] = float(int(line.split()[1]) * 1024)
    values["open_fds"] = float(len(os.listdir(f"/proc/{pid}/fd")))
    return values


def tolerance(name: str) -> tuple[float, float]:
    return TOLERANCES["queue" if name.startswith("queue_") else name]


def within_slope(points: list[tuple[int, float, float]]) -> tuple[float, float, int, int]:
    """(slope, standard error, samples used, segments used) of (segment, t, value) points: least squares
    with one intercept per segment. Segments with fewer than 3 points are left out."""
    by_segment: dict[int, list[tuple[float, float]]] = {}
    for segment, t, value in points:
        by_segment.setdefault(segment, []).append((t, value))
    sxx = sxy = 0.0
    centred: list[tuple[float, float]] = []
    used = 0
    for rows in by_segment.values():
        if len(rows) < 3:
            continue
        used += 1
        mean_t = sum(t for t, _ in rows) / len(rows)
        mean_v = sum(v for _, v in rows) / len(rows)
        for t, v in rows:
            centred.append((t - mean_t, v - mean_v))
            sxx += (t - mean_t) ** 2
            sxy += (t - mean_t) * (v - mean_v)
    n = len(centred)
    if sxx == 0.0 or n - used - 1 <= 0:
        return 0.0, math.inf, n, used
    slope = sxy / sxx
    residual = sum((dv - slope * dt) ** 2 for dt, dv in centred) / (n - used - 1)
    return slope, math.sqrt(residual / sxx), n, used


def robust_slope(points: list[tuple[int, float, float]], max_per_segment: int = 400) -> float:
    """Theil-Sen within segments: the median of the slopes of every pair of points of one segment.

    A fault's excursion (connections held open for a minute after a blackhole, then closed) moves a
    least-squares fit but not this median; a steady climb moves both. Long segments are thinned evenly
    to `max_per_segment` points to bound the pairs."""
    by_segment: dict[int, list[tuple[float, float]]] = {}
    for segment, t, value in points:
        by_segment.setdefault(segment, []).append((t, value))
    slopes: list[float] = []
    for rows in by_segment.values():
        step = max(1, math.ceil(len(rows) / max_per_segment))
        thinned = sorted(rows)[::step]
        for i, (t1, v1) in enumerate(thinned):
            for t2, v2 in thinned[i + 1 :]:
                if t2 > t1:
                    slopes.append((v2 - v1) / (t2 - t1))
    return statistics.median(slopes) if slopes else 0.0


def analyse(samples: list[Sample], warmup_s: float) -> dict[str, dict[str, Any]]:
    names = sorted({name for sample in samples for name in sample.values})
    kept = [sample for sample in samples if sample.age >= warmup_s]
    result: dict[str, dict[str, Any]] = {}
    for name in names:
        points = [(s.segment, s.t, s.values[name]) for s in kept if name in s.values]
        values = [value for _, _, value in points]
        if not values:
            continue
        slope, error, used, segments = within_slope(points)
        level = statistics.median(values)
        relative, absolute = tolerance(name)
        allowed = relative * abs(level) + absolute
        per_hour, error_per_hour = slope * HOUR, error * HOUR
        robust_per_hour = robust_slope(points) * HOUR
        # both fits must climb: least squares clearly (two standard errors) and the robust one too
        growing = per_hour > allowed and per_hour > 2 * error_per_hour and robust_per_hour > allowed
        per_segment = {}
        for segment in sorted({p[0] for p in points}):
            rows = [p for p in points if p[0] == segment]
            segment_slope, _, _, _ = within_slope(rows)
            per_segment[str(segment)] = {
                "samples": len(rows),
                "median": round(statistics.median(v for _, _, v in rows), 6),
                "slope_per_hour": round(segment_slope * HOUR, 6) if len(rows) >= 3 else None,
            }
        result[name] = {
            "samples": used,
            "segments": segments,
            "median": round(level, 6),
            "min": round(min(values), 6),
            "max": round(max(values), 6),
            "slope_per_hour": round(per_hour, 6),
            "slope_stderr_per_hour": round(error_per_hour, 6) if math.isfinite(error_per_hour) else None,
            "robust_slope_per_hour": round(robust_per_hour, 6),
            "slope_percent_of_level_per_hour": round(100 * per_hour / level, 3) if level else None,
            "tolerance_per_hour": round(allowed, 6),
            "verdict": "growing" if growing else "flat",
            "per_segment": per_segment,
        }
    return result
