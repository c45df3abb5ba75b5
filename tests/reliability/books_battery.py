"""Books under faults: the simulated exchange streams through the fault proxy to the real Binance feed.

The market is stepped by hand, and the venue's book is recorded after every step, so any book the feed
hands the strategy as synced is compared in full with the venue's book at the same update id. Each
scenario injects one fault, waits for its effect, removes it and lets the books converge. Shared by the
short cut in `make test` (tests/reliability/test_books_under_faults.py) and the full counts in
`scripts/reliability.py`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from support.fault_proxy import (
    Bandwidth,
    FaultProxy,
    Latency,
    LimitData,
    ResetPeer,
    Slicer,
    SlowClose,
    Timeout,
    WsDrop,
    WsDuplicate,
    WsReorder,
)
from support.trading_rig import percentile
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Level, TradePrint
from tradestack.ports import SystemClock
from tradestack.venues._shared.feed_hooks import FeedObserver
from tradestack.venues._shared.rate_limit import RateLimiter
from tradestack.venues._shared.ws_session import SessionState
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.feed import BinanceMarketFeed, FeedSettings
from tradestack.venues.binance.rest_gateway import BinanceRestGateway, limits_from_exchange_info
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

SYMBOLS = ("BTCUSDT", "ETHUSDT")
STALENESS_S = 1.0
STALENESS_CHECK_S = 0.25  # SessionConfig.staleness_check_s
HISTORY = 5000  # venue update ids remembered per symbol

CONNECTION_TOXICS = ("reset", "limit_data", "timeout", "blackhole", "slow_close", "down")
STREAM_TOXICS = ("latency", "bandwidth", "slicer")
FRAME_FAULTS = ("drop", "duplicate", "reorder")


@dataclass(frozen=True)
class Counts:
    per_toxic: int = 30  # each connection and stream toxic
    drops: int = 500  # single-frame drops
    duplicates: int = 100  # duplicated frames
    reorders: int = 100  # reordered frame pairs


SHORT = Counts(per_toxic=1, drops=4, duplicates=2, reorders=2)


@dataclass
class KindResult:
    injected: int = 0
    detected: int = 0  # gaps for frame faults, reconnect + resync of every book for connection faults
    expected_gaps: int = 0
    gaps: int = 0
    resync_s: list[float] = field(default_factory=list)
    stale_detect_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


class Observer(FeedObserver):
    def __init__(self) -> None:
        self.gaps: dict[str, int] = dict.fromkeys(SYMBOLS, 0)
        self.resyncs: dict[str, int] = dict.fromkeys(SYMBOLS, 0)

    def gap(self, symbol: str) -> None:
        self.gaps[symbol] += 1

    def resync(self, symbol: str) -> None:
        self.resyncs[symbol] += 1


class BookRig:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = SystemClock()
        self.sim = SimulatedExchange(
            SimConfig(
                flow=FlowConfig(interval_ms=0, seed=seed),
                weight_limit_per_minute=10**9,
                max_incoming_messages_per_second=0,
            ),
            self.clock,
        )
        self.history: dict[str, OrderedDict[int, tuple[list[Level], list[Level]]]] = {
            symbol: OrderedDict() for symbol in SYMBOLS
        }
        self.observer = Observer()
        self.proxy: FaultProxy | None = None
        self.feed: BinanceMarketFeed | None = None
        self.gateway: BinanceRestGateway | None = None
        # what reached the strategy
        self.synced_calls = 0
        self.compares = 0
        self.equal = 0
        self.post_resync_compares = 0
        self.post_resync_equal = 0
        self.violations: list[str] = []  # crossed, or synced=True while the feed is not synced
        self.resyncing_since: dict[str, float | None] = dict.fromkeys(SYMBOLS)
        self.resync_s: list[float] = []
        self._paused = True
        self._mover: asyncio.Task[None] | None = None

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.wait_for(self.sim.start(), 10)
        for symbol in SYMBOLS:
            self._record(symbol)
        self.proxy = FaultProxy("127.0.0.1", self.sim.port, seed=self.seed, websocket=True)
        await self.proxy.start()
        key, secret = self.sim.create_api_key()
        self.gateway = BinanceRestGateway(
            HmacSigner(key, secret), clock=self.clock, base_url=self.sim.rest_url
        )
        await self.gateway.start()
        # the venue's own limits, as the runtime does: the client-side default (6000/min) would
        # otherwise hold back the hundreds of resync snapshots a full battery asks for
        info = await self.gateway.exchange_info(list(SYMBOLS))
        self.gateway.limiter = RateLimiter(limits_from_exchange_info(info.rate_limits))

        def on_trade(trade: TradePrint) -> None:
            return None

        self.feed = BinanceMarketFeed(
            self.proxy.url,
            {symbol: self.sim.instrument(symbol) for symbol in SYMBOLS},
            self.gateway,
            self.clock,
            self._on_book,
            on_trade,
            FeedSettings(
                staleness_s=STALENESS_S,
                ping_idle_s=2.0,
                pong_timeout_s=1.5,
                backoff_initial_s=0.02,
                backoff_max_s=0.2,
            ),
            observer=self.observer,
            rng=random.Random(self.seed),
        )
        await self.feed.start()
        self._mover = asyncio.get_running_loop().create_task(self._move())

    async def stop(self) -> None:
        if self._mover is not None:
            self._mover.cancel()
            await asyncio.gather(self._mover, return_exceptions=True)
        if self.feed is not None:
            await asyncio.wait_for(self.feed.stop(), 10)
        if self.proxy is not None:
            await asyncio.wait_for(self.proxy.stop(), 10)
        if self.gateway is not None:
            await self.gateway.close()
        await asyncio.wait_for(self.sim.stop(), 10)

    # ---- the venue ---------------------------------------------------------------------------
    def _record(self, symbol: str) -> None:
        truth = self.sim.book_levels(symbol)
        history = self.history[symbol]
        history[truth.update_id] = (truth.bids, truth.asks)
        while len(history) > HISTORY:
            history.popitem(last=False)

    def step(self, steps: int = 1) -> None:
        for _ in range(steps):
            self.sim.flow_step(1)
            for symbol in SYMBOLS:
                self._record(symbol)
        self.sim.flush_depth()

    async def _move(self) -> None:
        while True:
            await asyncio.sleep(0.02)
            if not self._paused:
                self.step(1)

    # ---- what the strategy sees --------------------------------------------------------------
    def _on_book(self, symbol: str, book: OrderBook, synced: bool, ts_recv: int) -> None:
        now = time.monotonic()
        if not synced:
            if self.resyncing_since[symbol] is None:
                self.resyncing_since[symbol] = now
            return
        assert self.feed is not None
        self.synced_calls += 1
        if not self.feed.synced(symbol):
            self.violations.append(f"{symbol}: synced=True while the feed resyncs")
        if book.is_crossed():
            self.violations.append(f"{symbol}: crossed book at {book.last_update_id} reached the strategy")
        truth = self.history[symbol].get(book.last_update_id)
        equal = truth is not None and book.bids() == truth[0] and book.asks() == truth[1]
        self.compares += 1
        self.equal += equal
        since = self.resyncing_since[symbol]
        if since is not None:
            self.resyncing_since[symbol] = None
            self.resync_s.append(now - since)
            self.post_resync_compares += 1
            self.post_resync_equal += equal

    def synced_with_venue(self, symbol: str) -> bool:
        assert self.feed is not None
        book = self.feed.syncs[symbol].book
        truth = self.sim.book_levels(symbol)
        return (
            self.feed.synced(symbol)
            and book.last_update_id == truth.update_id
            and book.bids() == truth.bids
            and book.asks() == truth.asks
        )

    async def converge(self, timeout: float = 20.0) -> None:
        """Pause the market, then step it one update at a time until both books equal the venue's."""
        self._paused = True
        deadline = time.monotonic() + timeout
        while not all(self.synced_with_venue(symbol) for symbol in SYMBOLS):
            if time.monotonic() > deadline:
                assert self.feed is not None and self.proxy is not None
                raise AssertionError(
                    "books did not converge with the venue: "
                    f"session={self.feed.session.state} counters={self.feed.session.counters()} "
                    f"syncs={[(s.symbol, s.state.value, s.buffered) for s in self.feed.syncs.values()]} "
                    f"proxy_links={len(self.proxy.links)} toxics={list(self.proxy.toxics)}"
                )
            self.step(1)
            await asyncio.sleep(0.03)
        self._paused = False

    def resume(self) -> None:
        self._paused = False


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.005)


Scenario = Callable[[BookRig, KindResult, int], Awaitable[None]]


def _connections(rig: BookRig) -> int:
    assert rig.feed is not None
    return rig.feed.session.counters().connections


async def _connection_fault(rig: BookRig, result: KindResult, kind: str) -> None:
    assert rig.proxy is not None and rig.feed is not None
    proxy = rig.proxy
    before = _connections(rig)
    resyncs_before = dict(rig.observer.resyncs)
    stale_before = rig.feed.session.counters().reconnects.get("stale", 0)
    started = time.monotonic()
    name: str | None = None
    if kind == "reset":
        name = proxy.add(ResetPeer(timeout_ms=0))
    elif kind == "limit_data":
        name = proxy.add(LimitData(bytes=1))
    elif kind == "timeout":
        name = proxy.add(Timeout(timeout_ms=150))
    elif kind == "blackhole":
        name = proxy.add(Timeout(timeout_ms=0))
    elif kind == "slow_close":
        name = proxy.add(SlowClose(delay_ms=150))
        rig.sim.drop_market_connections()
    elif kind == "down":
        proxy.disable()
    if kind == "blackhole":
        session = rig.feed.session
        await wait_until(
            lambda: session.counters().reconnects.get("stale", 0) > stale_before,
            STALENESS_S * 4 + 5,
            "staleness detection",
        )
        result.stale_detect_s.append(time.monotonic() - started)
    else:
        session = rig.feed.session
        await wait_until(
            lambda: session.state is not SessionState.RUNNING or _connections(rig) > before,
            10,
            f"{kind} took effect",
        )
        if kind == "down":
            await asyncio.sleep(0.1)  # the venue stays unreachable a while: reconnects are refused
            await proxy.enable()
    if name is not None:
        proxy.remove(name)
    await wait_until(lambda: _connections(rig) > before, 15, f"{kind}: reconnected")
    await rig.converge()
    if all(rig.observer.resyncs[s] > resyncs_before[s] for s in SYMBOLS):
        result.detected += 1
    else:
        result.failures.append(f"{kind}: not every book resynced")


async def _stream_fault(rig: BookRig, result: KindResult, kind: str) -> None:
    assert rig.proxy is not None
    gaps_before = sum(rig.observer.gaps.values())
    if kind == "latency":
        name = rig.proxy.add(Latency(latency_ms=30, jitter_ms=20))
    elif kind == "bandwidth":
        name = rig.proxy.add(Bandwidth(rate_kbps=20))
    else:
        name = rig.proxy.add(Slicer(average_size=7, size_variation=5))
    rig.resume()
    await asyncio.sleep(0.3)  # the market moves under the toxic
    rig.proxy.remove(name)
    await rig.converge()
    result.detected += 1  # nothing to detect: the books must simply stay exact, without gaps
    if sum(rig.observer.gaps.values()) != gaps_before:
        result.failures.append(f"{kind}: a gap appeared although nothing was lost")


async def _frame_fault(rig: BookRig, result: KindResult, kind: str, index: int) -> None:
    assert rig.proxy is not None
    symbol = SYMBOLS[index % len(SYMBOLS)]
    match = b'"stream":"' + symbol.lower().encode() + b"@depth@100ms"
    toxic = (
        WsDrop(count=1, match=match)
        if kind == "drop"
        else WsDuplicate(count=1, match=match)
        if kind == "duplicate"
        else WsReorder(count=1, match=match)
    )
    gaps_before = rig.observer.gaps[symbol]
    others_before = {s: rig.observer.gaps[s] for s in SYMBOLS if s != symbol}
    name = rig.proxy.add(toxic)
    rig.resume()
    await wait_until(lambda: toxic.affected >= 1, 10, f"{kind} fired")
    expect_gap = kind != "duplicate"
    if expect_gap:
        result.expected_gaps += 1
        await wait_until(lambda: rig.observer.gaps[symbol] > gaps_before, 10, f"{kind}: gap detected")
    rig.proxy.remove(name)
    await rig.converge()
    new_gaps = rig.observer.gaps[symbol] - gaps_before
    result.gaps += new_gaps
    if new_gaps == (1 if expect_gap else 0):
        result.detected += 1
    else:
        result.failures.append(f"{kind} on {symbol}: {new_gaps} gaps")
    if any(rig.observer.gaps[s] != n for s, n in others_before.items()):
        result.failures.append(f"{kind} on {symbol}: another symbol resynced")


async def run_books_battery(
    counts: Counts, seed: int = 1, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    rig = BookRig(seed)
    results: dict[str, KindResult] = {}
    await rig.start()
    started = time.monotonic()
    try:
        await rig.converge()
        plan: list[tuple[str, int]] = []
        for kind in CONNECTION_TOXICS + STREAM_TOXICS:
            plan += [(kind, i) for i in range(counts.per_toxic)]
        plan += [("drop", i) for i in range(counts.drops)]
        plan += [("duplicate", i) for i in range(counts.duplicates)]
        plan += [("reorder", i) for i in range(counts.reorders)]
        random.Random(seed).shuffle(plan)
        for number, (kind, index) in enumerate(plan):
            result = results.setdefault(kind, KindResult())
            result.injected += 1
            if log is not None:
                log(f"books: {number + 1}/{len(plan)} {kind}")
            if kind in CONNECTION_TOXICS:
                await _connection_fault(rig, result, kind)
            elif kind in STREAM_TOXICS:
                await _stream_fault(rig, result, kind)
            else:
                await _frame_fault(rig, result, kind, index)
    finally:
        await rig.stop()
    return report(rig, results, time.monotonic() - started, seed)


def report(rig: BookRig, results: dict[str, KindResult], elapsed: float, seed: int) -> dict[str, Any]:
    kinds = {
        kind: {
            "injected": r.injected,
            "detected": r.detected,
            "gaps_expected": r.expected_gaps,
            "gaps_seen": r.gaps,
            "stale_detect_s": [round(v, 3) for v in r.stale_detect_s],
            "failures": r.failures,
        }
        for kind, r in sorted(results.items())
    }
    stale = [v for r in results.values() for v in r.stale_detect_s]
    return {
        "seed": seed,
        "elapsed_s": round(elapsed, 1),
        "injected": sum(r.injected for r in results.values()),
        "detected": sum(r.detected for r in results.values()),
        "failures": [f for r in results.values() for f in r.failures],
        "kinds": kinds,
        "synced_books_to_strategy": rig.synced_calls,
        "full_compares": rig.compares,
        "full_compares_equal": rig.equal,
        "post_resync_compares": rig.post_resync_compares,
        "post_resync_equal": rig.post_resync_equal,
        "post_resync_equal_pct": round(100.0 * rig.post_resync_equal / max(1, rig.post_resync_compares), 3),
        "violations": rig.violations[:20],
        "violation_count": len(rig.violations),
        "resyncs": len(rig.resync_s),
        "resync_ms": {
            "p50": round(percentile(rig.resync_s, 0.5) * 1000, 1),
            "p99": round(percentile(rig.resync_s, 0.99) * 1000, 1),
            "max": round(max(rig.resync_s, default=0) * 1000, 1),
        },
        "staleness": {
            "bound_s": STALENESS_S,
            "check_period_s": STALENESS_CHECK_S,
            "detect_s_max": round(max(stale, default=0), 3),
            "detect_s_p50": round(percentile(stale, 0.5), 3),
        },
    }
