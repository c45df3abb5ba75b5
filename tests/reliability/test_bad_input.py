"""Bad input, part 2: the malformed table through real connections (issue 4, item 6).

The simulated exchange streams through the fault proxy (`WsRewrite`) to the real Binance market feed
and user stream. Each case puts one malformed frame on the wire, right before a real one; the feed
must count it in its malformed metric, log it once with context, drop it, keep the same connection (no
reconnect, no resync) and keep the book equal to the venue's as the market moves on.

What counts as malformed, decided per case (docs/reliability.md, "Bad input"):
* rejected: NaN (as a JSON token or a string), 1e400 (token or string), negative sizes, a trade of
  size 0, wrong types, missing fields, invalid UTF-8, a 16 MB frame, event times in year 3000 (beyond
  int64 nanoseconds) or negative, first update id above the final one;
* accepted: extra fields (venues add fields), a depth level of size 0 (Binance's "remove this level"),
  an event time of 0 (year 1970: the time is informational, the book is sequenced by update ids).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from structlog.testing import capture_logs

from conftest import eventually
from support.fault_proxy import FaultProxy, WsRewrite
from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.events import Side, TradePrint
from tradestack.domain.orders.reports import OrderReport
from tradestack.ports import SystemClock
from tradestack.venues._shared.feed_hooks import FeedObserver
from tradestack.venues._shared.ws_session import SessionState
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.feed import BinanceMarketFeed, FeedSettings
from tradestack.venues.binance.rest_gateway import BinanceRestGateway
from tradestack.venues.binance.user_messages import Balances
from tradestack.venues.binance.user_stream import BinanceUserStream
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

SYMBOL = "BTCUSDT"
SYMBOLS = ("BTCUSDT", "ETHUSDT")
DEPTH = b"btcusdt@depth"
SIXTEEN_MB = 16_000_000  # under the session's 16 MiB frame limit, so it reaches the parser
pytestmark = pytest.mark.timeout(90)


class Observer(FeedObserver):
    def __init__(self) -> None:
        self.malformed_count = 0
        self.resyncs = 0
        self.gaps = 0

    def malformed(self, reason: str) -> None:
        self.malformed_count += 1

    def resync(self, symbol: str) -> None:
        self.resyncs += 1

    def gap(self, symbol: str) -> None:
        self.gaps += 1


def _swap(pattern: bytes, replacement: bytes) -> Callable[[bytes], bytes]:
    def change(payload: bytes) -> bytes:
        changed, count = re.subn(pattern, replacement, payload, count=1)
        assert count == 1, (pattern, payload[:200])
        return changed

    return change


def _first_size(value: bytes) -> Callable[[bytes], bytes]:
    """The first level's size (bids, else asks) set to `value` (raw JSON)."""
    return _swap(rb'(\["[0-9.]+",)"[0-9.]+"', rb"\1" + value)


def _sixteen_mb(payload: bytes) -> bytes:
    head, _, _ = payload.rpartition(b"}}")
    pad = b',"pad":"' + b"x" * (SIXTEEN_MB - len(payload) - 20) + b'"'
    bad = _swap(rb'"u":\d+', b'"u":-1')(head + pad + b"}}")
    assert len(bad) >= SIXTEEN_MB - 100
    return bad


def _zero_size_trade(payload: bytes) -> bytes:
    return (
        b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":1,'
        b'"p":"60000.00","q":"0.00000","T":1723161255342,"m":true,"M":true}}'
    )


def _extra_fields(payload: bytes) -> bytes:
    message = json.loads(payload)
    message["newTopLevel"] = {"x": [1, 2]}
    message["data"]["Z"] = "a field Binance added"
    message["data"]["ext"] = None
    return json.dumps(message, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Case:
    name: str
    change: Callable[[bytes], bytes]
    malformed: bool = True  # False: the changed frame is valid and replaces the real one


CASES = (
    Case("nan_token", _swap(rb'"E":\d+', b'"E":NaN')),
    Case("nan_string_price", _swap(rb'\["[0-9.]+",', b'["NaN",')),
    Case("1e400_token", _swap(rb'"U":\d+', b'"U":1e400')),
    Case("1e400_string_size", _first_size(b'"1e400"')),
    Case("negative_size", _first_size(b'"-1.00000"')),
    Case("zero_size_trade", _zero_size_trade),
    Case("wrong_type_ids", _swap(rb'"u":\d+', b'"u":"many"')),
    Case("wrong_type_levels", _swap(rb'"b":\[', b'"b":{"p":1},"unused":[')),
    Case("missing_field", _swap(rb'"U":\d+,', b"")),
    Case("invalid_utf8", _swap(rb'"s":"BTCUSDT"', b'"s":"BTC\xff\xfeUSDT"')),
    Case("sixteen_mb_frame", _sixteen_mb),
    Case("year_3000", _swap(rb'"E":\d+', b'"E":32503680000000000')),
    Case("negative_time", _swap(rb'"E":\d+', b'"E":-1723161255208')),
    Case("ids_reversed", _swap(rb'"U":\d+', b'"U":99999999999999')),
    Case("extra_fields", _extra_fields, malformed=False),
    Case("year_1970", _swap(rb'"E":\d+', b'"E":0'), malformed=False),
)


class Rig:
    def __init__(self) -> None:
        self.clock = SystemClock()
        self.sim = SimulatedExchange(
            SimConfig(flow=FlowConfig(interval_ms=0, seed=11), max_incoming_messages_per_second=0), self.clock
        )
        self.proxy: FaultProxy | None = None
        self.gateway: BinanceRestGateway | None = None
        self.feed: BinanceMarketFeed | None = None
        self.observer = Observer()
        self.trades: list[TradePrint] = []

    async def start(self) -> None:
        await asyncio.wait_for(self.sim.start(), 10)
        self.proxy = FaultProxy("127.0.0.1", self.sim.port, seed=5, websocket=True)
        await self.proxy.start()
        key, secret = self.sim.create_api_key()
        self.gateway = BinanceRestGateway(
            HmacSigner(key, secret), clock=self.clock, base_url=self.sim.rest_url
        )
        await self.gateway.start()

        def on_book(symbol: str, book: OrderBook, synced: bool, ts_recv: int) -> None:
            return None

        self.feed = BinanceMarketFeed(
            self.proxy.url,
            {symbol: self.sim.instrument(symbol) for symbol in SYMBOLS},
            self.gateway,
            self.clock,
            on_book,
            self.trades.append,
            FeedSettings(staleness_s=30.0, backoff_initial_s=0.02, backoff_max_s=0.2),
            observer=self.observer,
            rng=random.Random(3),
        )
        await self.feed.start()

    async def stop(self) -> None:
        if self.feed is not None:
            await asyncio.wait_for(self.feed.stop(), 10)
        if self.proxy is not None:
            await asyncio.wait_for(self.proxy.stop(), 10)
        if self.gateway is not None:
            await self.gateway.close()
        await asyncio.wait_for(self.sim.stop(), 10)

    def step(self) -> None:
        self.sim.flow_step(1)
        self.sim.flush_depth()

    def stepped_until(self, done: bool) -> bool:
        """For `eventually`: the market moves one step until `done`."""
        if not done:
            self.step()
        return done

    def equal_to_venue(self, symbol: str = SYMBOL) -> bool:
        assert self.feed is not None
        book = self.feed.syncs[symbol].book
        truth = self.sim.book_levels(symbol)
        return (
            self.feed.synced(symbol)
            and book.last_update_id == truth.update_id
            and book.bids() == truth.bids
            and book.asks() == truth.asks
        )

    async def converge(self, timeout: float = 15.0) -> None:
        async def stepped() -> bool:
            if all(self.equal_to_venue(symbol) for symbol in SYMBOLS):
                return True
            self.step()
            await asyncio.sleep(0.02)
            return False

        await eventually(stepped, timeout=timeout, interval=0.0)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    rig = Rig()
    try:
        await rig.start()
        await rig.converge()
        yield rig
    finally:
        await rig.stop()


def _feed_log_lines(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [entry for entry in logs if entry.get("event") == "malformed market frame dropped"]


async def test_each_malformed_market_frame_is_counted_logged_once_dropped_and_the_session_lives(
    rig: Rig,
) -> None:
    assert rig.feed is not None and rig.proxy is not None
    session = rig.feed.session
    assert session.counters().connections == 1
    failures: list[str] = []
    for case in CASES:
        malformed_before = rig.observer.malformed_count
        resyncs_before, gaps_before = rig.observer.resyncs, rig.observer.gaps
        change = case.change

        def rewrite(
            payload: bytes, change: Callable[[bytes], bytes] = change, case: Case = case
        ) -> list[bytes]:
            changed = change(payload)
            return [changed, payload] if case.malformed else [changed]

        with capture_logs() as logs:
            name = rig.proxy.add(WsRewrite(count=1, match=DEPTH, rewrite=rewrite))
            try:
                toxic = rig.proxy.toxics[name]
                await eventually(lambda toxic=toxic: rig.stepped_until(toxic.affected == 1), timeout=10)
                if case.malformed:
                    await eventually(
                        lambda before=malformed_before: rig.observer.malformed_count > before, timeout=10
                    )
                await rig.converge()
            finally:
                rig.proxy.remove(name)
        lines = _feed_log_lines(logs)
        counted = rig.observer.malformed_count - malformed_before
        problems = []
        if counted != (1 if case.malformed else 0):
            problems.append(f"malformed metric +{counted}")
        if len(lines) != (1 if case.malformed else 0):
            problems.append(f"{len(lines)} log lines")
        elif lines and not (lines[0].get("reason") and lines[0].get("sample")):
            problems.append(f"log line without context: {lines[0]}")
        if session.counters().connections != 1 or session.counters().reconnects:
            problems.append(f"reconnected: {session.counters()}")
        if (rig.observer.resyncs, rig.observer.gaps) != (resyncs_before, gaps_before):
            problems.append("a resync or gap")
        if not rig.equal_to_venue():
            problems.append("book differs from the venue")
        if problems:
            failures.append(f"{case.name}: {', '.join(problems)}")
    assert not failures, failures
    assert rig.observer.malformed_count == sum(case.malformed for case in CASES)
    assert session.counters().connections == 1


def _user_cases(payload: bytes) -> list[tuple[str, bytes]]:
    """Malformed copies of a real executionReport: each must be counted and dropped."""
    return [
        ("nan_token", re.sub(rb'"E":\d+', b'"E":NaN', payload, count=1)),
        ("1e400", re.sub(rb'"i":\d+', b'"i":1e400', payload, count=1)),
        ("negative_filled", re.sub(rb'"z":"[0-9.]+"', b'"z":"-1.00000"', payload, count=1)),
        ("wrong_type", re.sub(rb'"s":"BTCUSDT"', b'"s":7', payload, count=1)),
        ("missing_field", re.sub(rb'"X":"[A-Z_]+",', b"", payload, count=1)),
        ("invalid_utf8", re.sub(rb'"c":"', b'"c":"\xff\xfe', payload, count=1)),
        ("unknown_status", re.sub(rb'"X":"[A-Z_]+"', b'"X":"EXPLODED"', payload, count=1)),
        ("year_3000", re.sub(rb'"E":\d+', b'"E":32503680000000000', payload, count=1)),
        ("negative_time", re.sub(rb'"E":\d+', b'"E":-5', payload, count=1)),
        ("sixteen_mb", payload[:-1] + b',"pad":"' + b"x" * SIXTEEN_MB + b'","q":-1}'),
    ]


async def test_malformed_user_stream_frames_are_counted_logged_dropped_and_the_session_lives() -> None:
    clock = SystemClock()
    sim = SimulatedExchange(SimConfig(flow=FlowConfig(interval_ms=0, seed=4)), clock)
    await asyncio.wait_for(sim.start(), 10)
    proxy = FaultProxy("127.0.0.1", sim.port, seed=5, websocket=True)
    await proxy.start()
    key, secret = sim.create_api_key()
    gateway = BinanceRestGateway(HmacSigner(key, secret), clock=clock, base_url=sim.rest_url)
    await gateway.start()
    reports: list[OrderReport] = []
    balances: list[Balances] = []
    reasons: list[str] = []
    reconnects: list[int] = []
    stream = BinanceUserStream(
        proxy.url,
        gateway,
        {symbol: sim.instrument(symbol) for symbol in SYMBOLS},
        clock,
        lambda report, ts: reports.append(report),
        balances.append,
        lambda: reconnects.append(1),
        on_malformed=reasons.append,
    )
    injected: list[str] = []

    def rewrite(payload: bytes) -> list[bytes]:
        cases = _user_cases(payload)
        injected.extend(name for name, _ in cases)
        extra = payload[:-1] + b',"newField":{"a":[1,null]},"W":1}'  # extra fields: accepted
        return [*(bad for _, bad in cases), extra]

    try:
        await stream.start()
        session = stream.session
        assert session is not None
        await eventually(lambda: session.state is SessionState.RUNNING, timeout=10)
        # the venue registers the listen key's connection just after the handshake
        await eventually(lambda: stream.listen_key in sim.hub._subscribers, timeout=10)
        with capture_logs() as logs:
            proxy.add(WsRewrite(count=1, match=b"executionReport", rewrite=rewrite))
            best = sim.book_levels(SYMBOL).bids[0][0]
            instrument = sim.instrument(SYMBOL)
            await gateway.new_order(
                SYMBOL, Side.BUY, "LIMIT", instrument.size_text(instrument.lot * 10),
                instrument.price_text(best - best // 20), "GTC", "bad-input-1",
            )  # fmt: skip
            await eventually(lambda: len(reports) >= 1 and len(reasons) == len(injected), timeout=10)
        lines = [entry for entry in logs if entry.get("event") == "malformed user-stream frame dropped"]
        assert len(injected) == 10
        assert len(reasons) == len(injected), (reasons, injected)
        assert len(lines) == len(injected) and all(line.get("error") and line.get("sample") for line in lines)
        assert [report.client_id for report in reports] == ["bad-input-1"]  # the real one, once
        assert session.counters().connections == 1 and not session.counters().reconnects
        assert not reconnects
    finally:
        await stream.stop()
        await proxy.stop()
        await gateway.close()
        await sim.stop()
