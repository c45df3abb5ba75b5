"""The Binance connector (the code a live run uses) against the simulated exchange on loopback.

The simulator's flow is stepped by the test, so the venue's book can be compared with ours at the
same update id: a full compare, every level.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from conftest import eventually
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import TradePrint
from tradestack.ports import SystemClock
from tradestack.venues._shared.feed_hooks import FeedObserver
from tradestack.venues._shared.ws_session import SessionState
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.feed import BinanceMarketFeed, FeedSettings
from tradestack.venues.binance.rest_gateway import BinanceRestGateway
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

SYMBOLS = ("BTCUSDT", "ETHUSDT")


@dataclass
class Seen(FeedObserver):
    gaps: dict[str, int] = field(default_factory=dict)
    resyncs: dict[str, int] = field(default_factory=dict)
    unsynced_books_traded: int = 0
    malformed_reasons: list[str] = field(default_factory=list)

    def malformed(self, reason: str) -> None:
        self.malformed_reasons.append(reason)

    def gap(self, symbol: str) -> None:
        self.gaps[symbol] = self.gaps.get(symbol, 0) + 1

    def resync(self, symbol: str) -> None:
        self.resyncs[symbol] = self.resyncs.get(symbol, 0) + 1


@dataclass
class Rig:
    sim: SimulatedExchange
    feed: BinanceMarketFeed
    seen: Seen
    synced_calls: list[tuple[str, bool]]

    def step(self, steps: int = 3) -> None:
        self.sim.flow_step(steps)
        self.sim.flush_depth()

    def matches_venue(self, symbol: str) -> bool:
        truth = self.sim.book_levels(symbol)
        book = self.feed.syncs[symbol].book
        return (
            self.feed.synced(symbol)
            and book.last_update_id == truth.update_id
            and book.bids() == truth.bids
            and book.asks() == truth.asks
        )

    async def converge(self) -> None:
        """Step the venue until both books equal its truth at the same update id."""

        def settled() -> bool:
            if all(self.matches_venue(symbol) for symbol in SYMBOLS):
                return True
            self.step(1)
            return False

        await eventually(settled, timeout=10, interval=0.05)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = SystemClock()
    sim = SimulatedExchange(SimConfig(flow=FlowConfig(interval_ms=0), ping_interval_s=1.0), clock)
    await asyncio.wait_for(sim.start(), 10)
    key, secret = sim.create_api_key()
    gateway = BinanceRestGateway(HmacSigner(key, secret), clock=clock, base_url=sim.rest_url)
    await gateway.start()
    instruments = {symbol: sim.instrument(symbol) for symbol in SYMBOLS}
    seen = Seen()
    synced_calls: list[tuple[str, bool]] = []

    def on_book(symbol: str, book: OrderBook, synced: bool, ts_recv: int) -> None:
        synced_calls.append((symbol, synced))
        if synced and book.is_crossed():
            seen.unsynced_books_traded += 1

    def trades(trade: TradePrint) -> None:
        return None

    feed = BinanceMarketFeed(
        sim.ws_url,
        instruments,
        gateway,
        clock,
        on_book,
        trades,
        FeedSettings(
            staleness_s=1.0, ping_idle_s=1.0, pong_timeout_s=0.5, backoff_initial_s=0.05, backoff_max_s=0.5
        ),
        observer=seen,
    )
    await feed.start()
    rig = Rig(sim, feed, seen, synced_calls)
    try:
        yield rig
    finally:
        await asyncio.wait_for(feed.stop(), 10)
        await gateway.close()
        await asyncio.wait_for(sim.stop(), 10)


@pytest.mark.timeout(60)
async def test_books_equal_the_venue_at_the_same_update_id(rig: Rig) -> None:
    await rig.converge()
    for _ in range(5):
        rig.step(5)
        await rig.converge()
    assert rig.seen.gaps == {}


@pytest.mark.timeout(60)
async def test_a_lost_diff_resyncs_that_symbol_alone(rig: Rig) -> None:
    await rig.converge()
    rig.sim.skip_next_depth_update("BTCUSDT")
    rig.step(3)  # this window is lost
    rig.step(3)  # this one reveals the hole
    await eventually(lambda: rig.seen.gaps.get("BTCUSDT", 0) == 1, timeout=5)
    assert ("BTCUSDT", False) in rig.synced_calls  # the engine is told not to trade on it
    await rig.converge()
    assert "ETHUSDT" not in rig.seen.gaps
    assert "ETHUSDT" not in rig.seen.resyncs


@pytest.mark.timeout(60)
async def test_a_dropped_socket_reconnects_and_resyncs(rig: Rig) -> None:
    await rig.converge()
    assert rig.sim.drop_market_connections() == 1
    await eventually(lambda: rig.feed.session.counters().connections >= 2, timeout=10)
    await rig.converge()
    assert rig.seen.resyncs.get("BTCUSDT", 0) >= 1
    assert rig.seen.resyncs.get("ETHUSDT", 0) >= 1


@pytest.mark.timeout(60)
async def test_a_stalled_stream_is_detected_within_its_bound(rig: Rig) -> None:
    await rig.converge()
    rig.sim.stall_market_streams(True)  # the socket stays open; data stops
    loop = asyncio.get_running_loop()
    started = loop.time()
    stepping = True

    async def keep_the_market_moving() -> None:
        while stepping:
            rig.step(1)
            await asyncio.sleep(0.05)

    mover = loop.create_task(keep_the_market_moving())
    try:
        await eventually(lambda: rig.feed.session.counters().reconnects.get("stale", 0) >= 1, timeout=5)
        detected_after = loop.time() - started
        assert detected_after < 1.0 + 0.25 + 0.5  # the bound, the check period, and scheduling slack
        assert rig.feed.session.state is not SessionState.STOPPED
        rig.sim.stall_market_streams(False)
    finally:
        stepping = False
        await mover
    await rig.converge()


@pytest.mark.timeout(60)
async def test_a_malformed_frame_is_counted_and_dropped_and_the_feed_lives_on(rig: Rig) -> None:
    await rig.converge()
    garbage = [b"not json at all", b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","U":"x"}}']
    for frame in garbage * 3:
        rig.feed._on_frame(frame, 0)  # as the socket would deliver it
    assert len(rig.seen.malformed_reasons) == 6
    assert rig.feed.session.state is SessionState.RUNNING
    rig.step(3)
    await rig.converge()
