"""Order entry on the fast path: `new_order_now` / `cancel_order_now` and `BinanceTrading.submit_now`.

The server checks every signature itself with hmac (not with our signer). The fast path must keep the
aiohttp path's rules exactly (same signed query, limiter accounting, error mapping, timing) and add
one: when no warm connection is idle it says NotSent before counting or writing anything.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from tradestack.domain.events import Side
from tradestack.domain.orders.state import Order, OrderStatus
from tradestack.ports import Clock, ManualClock, SystemClock
from tradestack.venues._shared.errors import NotSent, OutcomeUnknown, RateLimited, VenueRejected
from tradestack.venues._shared.rate_limit import LimitKind, RateLimiter, UsageLimit
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.rest_gateway import BinanceRestGateway, RequestTiming
from tradestack.venues.binance.trading import BinanceTrading
from tradestack.venues.simulated import SimConfig, SimulatedExchange

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
MINUTE_NS = 60_000_000_000
ACK = {"symbol": "BTCUSDT", "orderId": 28, "orderListId": -1, "transactTime": 1507725176595}
CANCELED = {
    "symbol": "BTCUSDT",
    "origClientOrderId": "c-1",
    "orderId": 28,
    "orderListId": -1,
    "clientOrderId": "cancelMyOrder1",
    "transactTime": 1684804350068,
    "price": "50000.00000000",
    "origQty": "0.00100000",
    "executedQty": "0.00000000",
    "cummulativeQuoteQty": "0.00000000",
    "status": "CANCELED",
    "timeInForce": "GTC",
    "type": "LIMIT",
    "side": "BUY",
}

Script = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path: str
    raw_query: str
    api_key: str | None
    content_type: str | None
    signature_ok: bool


@dataclass
class Venue:
    """Binance-like: checks the key and the HMAC itself, reports usage in lower-case headers."""

    url: str = ""
    used_weight: int = 0
    orders_10s: int = 0
    seen: list[Seen] = field(default_factory=list)
    script: dict[tuple[str, str], Script] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def reply(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        usage = {"x-mbx-used-weight-1m": str(self.used_weight), "x-mbx-order-count-10s": str(self.orders_10s)}
        return web.Response(
            status=status,
            body=json.dumps(body).encode(),
            content_type="application/json",
            headers={**usage, **(headers or {})},
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw_query = request.raw_path.partition("?")[2]
        payload, _, signature = raw_query.rpartition("&signature=")
        expected = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
        signature_ok = hmac.compare_digest(signature, expected)
        api_key = request.headers.get("X-MBX-APIKEY")
        self.seen.append(
            Seen(
                request.method,
                request.path,
                raw_query,
                api_key,
                request.headers.get("Content-Type"),
                signature_ok,
            )
        )
        self.used_weight += 1
        scripted = self.script.get((request.method, request.path))
        if scripted is not None:
            return await scripted(request)
        if api_key != API_KEY:
            return self.reply({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, 401)
        if not signature_ok:
            return self.reply({"code": -1022, "msg": "Signature for this request is not valid."}, 400)
        params = dict(parse_qsl(raw_query))
        if (request.method, request.path) == ("POST", "/api/v3/order"):
            self.orders_10s += 1
            return self.reply({**ACK, "clientOrderId": params["newClientOrderId"]})
        if (request.method, request.path) == ("DELETE", "/api/v3/order"):
            return self.reply({**CANCELED, "origClientOrderId": params["origClientOrderId"]})
        if (request.method, request.path) == ("GET", "/api/v3/time"):
            return self.reply({"serverTime": 1_700_000_000_000})
        raise AssertionError(f"unexpected {request.method} {request.path}")


@pytest.fixture
async def venue() -> AsyncIterator[Venue]:
    fake = Venue()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield fake
    fake.release.set()
    await runner.cleanup()


@pytest.fixture
async def gateway_for() -> AsyncIterator[Callable[..., BinanceRestGateway]]:
    gateways: list[BinanceRestGateway] = []

    def make(url: str, clock: Clock | None = None, **options: Any) -> BinanceRestGateway:
        gateway = BinanceRestGateway(
            HmacSigner(API_KEY, SECRET), clock=clock or ManualClock(), base_url=url, **options
        )
        gateways.append(gateway)
        return gateway

    yield make
    for gateway in gateways:
        await gateway.close()


def order_now(gateway: BinanceRestGateway, client_id: str = "c-1") -> asyncio.Future[Any]:
    return gateway.new_order_now(
        "BTCUSDT", Side.BUY, "LIMIT", "0.00100000", "50000.00", "GTC", client_id, response_type="ACK"
    )


# --- the happy path -----------------------------------------------------------------------------------


async def test_an_order_is_signed_written_and_timed(
    venue: Venue, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    timings: list[RequestTiming] = []
    clock = SystemClock()
    async with gateway_for(venue.url, clock, on_timing=timings.append) as gateway:
        assert gateway.fast_path_ready
        async with asyncio.timeout(5):
            ack = await order_now(gateway, "c-fast")
            slow = await gateway.new_order(
                "BTCUSDT", Side.BUY, "LIMIT", "0.00100000", "50000.00", "GTC", "c-slow", response_type="ACK"
            )
    assert (ack.order_id, ack.client_order_id, ack.transact_time) == (28, "c-fast", 1507725176595)
    assert slow.client_order_id == "c-slow"
    fast_seen, slow_seen = venue.seen
    assert fast_seen.signature_ok and fast_seen.api_key == API_KEY
    assert fast_seen.content_type == "application/x-www-form-urlencoded"
    # The same parameters in the same order as the aiohttp path: one signing rule for both.
    assert [k for k, _ in parse_qsl(fast_seen.raw_query)] == [k for k, _ in parse_qsl(slow_seen.raw_query)]
    assert [k for k, _ in parse_qsl(fast_seen.raw_query)][-3:] == ["recvWindow", "timestamp", "signature"]
    fast_timing = timings[0]
    assert (fast_timing.method, fast_timing.path, fast_timing.client_order_id, fast_timing.status) == (
        "POST",
        "/api/v3/order",
        "c-fast",
        200,
    )
    assert fast_timing.sent_ns is not None
    assert fast_timing.started_ns <= fast_timing.sent_ns <= fast_timing.finished_ns


async def test_a_cancel_goes_the_fast_way_too(
    venue: Venue, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    async with gateway_for(venue.url) as gateway:
        async with asyncio.timeout(5):
            canceled = await gateway.cancel_order_now("BTCUSDT", "c-1")
    assert (canceled.status, canceled.orig_client_order_id) == ("CANCELED", "c-1")
    (seen,) = venue.seen
    assert (seen.method, seen.signature_ok) == ("DELETE", True)
    assert [k for k, _ in parse_qsl(seen.raw_query)][:2] == ["symbol", "origClientOrderId"]


async def test_usage_headers_feed_the_limiter(
    venue: Venue, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    limiter = RateLimiter(
        [
            UsageLimit(LimitKind.REQUEST_WEIGHT, MINUTE_NS, 6000, "X-MBX-USED-WEIGHT-1M"),
            UsageLimit(LimitKind.ORDERS, 10_000_000_000, 100, "X-MBX-ORDER-COUNT-10S"),
        ],
        safety_ratio=1.0,
    )
    venue.used_weight = 2999  # other processes on our IP spent half the minute's weight
    venue.orders_10s = 79
    async with gateway_for(venue.url, limiter=limiter) as gateway:
        async with asyncio.timeout(5):
            await order_now(gateway)
        usage = {u.kind: u.used for u in gateway.limiter.usage(gateway.venue_time_ns())}
    assert usage[LimitKind.REQUEST_WEIGHT] == 3000  # the venue's count, read from lower-case headers
    assert usage[LimitKind.ORDERS] == 80


# --- failures -----------------------------------------------------------------------------------------


async def test_venue_errors_map_as_on_the_aiohttp_path(
    venue: Venue, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    answers: list[web.Response] = [
        venue.reply({"code": -2010, "msg": "Account has insufficient balance for requested action."}, 400),
        venue.reply({"code": -1007, "msg": "Timeout waiting for response from backend server."}, 408),
        web.Response(status=503, text="Service Unavailable"),
        web.Response(status=200, text="<html>gateway</html>"),
    ]

    async def scripted(request: web.Request) -> web.Response:
        return answers.pop(0)

    venue.script["POST", "/api/v3/order"] = scripted
    async with gateway_for(venue.url) as gateway:
        async with asyncio.timeout(5):
            with pytest.raises(VenueRejected) as rejected:
                await order_now(gateway)
            with pytest.raises(OutcomeUnknown):
                await order_now(gateway)
            with pytest.raises(OutcomeUnknown) as server_error:
                await order_now(gateway)
            with pytest.raises(OutcomeUnknown, match="undecodable"):
                await order_now(gateway)
    assert (rejected.value.code, rejected.value.http_status) == (-2010, 400)
    assert server_error.value.http_status == 503
    assert len(venue.seen) == 4  # each sent once, none resent


@pytest.mark.parametrize("status", [429, 418])
async def test_a_429_blocks_the_limiter_and_the_next_order_is_refused_unsent(
    venue: Venue, gateway_for: Callable[..., BinanceRestGateway], status: int
) -> None:
    async def too_many(request: web.Request) -> web.Response:
        return venue.reply({"code": -1003, "msg": "Too many requests."}, status, {"Retry-After": "7"})

    venue.script["POST", "/api/v3/order"] = too_many
    clock = ManualClock()
    async with gateway_for(venue.url, clock) as gateway:
        async with asyncio.timeout(5):
            with pytest.raises(RateLimited) as limited:
                await order_now(gateway)
        assert (limited.value.retry_after_seconds, limited.value.http_status) == (7.0, status)
        with pytest.raises(RateLimited) as held:  # raised at once: nothing is written
            order_now(gateway, "c-2")
        assert held.value.http_status is None
        clock.advance(7_000_000_000)
        venue.script.clear()
        async with asyncio.timeout(5):
            await order_now(gateway, "c-3")
    assert [dict(parse_qsl(s.raw_query))["newClientOrderId"] for s in venue.seen] == ["c-1", "c-3"]


async def test_the_local_limiter_refuses_synchronously(
    venue: Venue, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    limiter = RateLimiter([UsageLimit(LimitKind.ORDERS, 10_000_000_000, 1)], safety_ratio=1.0)
    async with gateway_for(venue.url, limiter=limiter) as gateway:
        async with asyncio.timeout(5):
            await order_now(gateway)
        with pytest.raises(RateLimited):
            order_now(gateway, "c-2")
    assert len(venue.seen) == 1


async def test_a_hang_after_sending_is_outcome_unknown_and_timed_as_sent(
    venue: Venue, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    async def hang(request: web.Request) -> web.Response:
        await venue.release.wait()
        return venue.reply(ACK)

    venue.script["POST", "/api/v3/order"] = hang
    timings: list[RequestTiming] = []
    async with gateway_for(venue.url, SystemClock(), timeout_s=0.2, on_timing=timings.append) as gateway:
        async with asyncio.timeout(5):
            with pytest.raises(OutcomeUnknown):
                await order_now(gateway)
    assert len(venue.seen) == 1
    assert timings[0].sent_ns is not None
    assert timings[0].status is None


async def test_without_a_warm_connection_nothing_is_counted_or_written(
    gateway_for: Callable[..., BinanceRestGateway], venue: Venue
) -> None:
    limiter = RateLimiter([UsageLimit(LimitKind.ORDERS, 10_000_000_000, 100)], safety_ratio=1.0)
    timings: list[RequestTiming] = []
    async with gateway_for(
        venue.url, limiter=limiter, order_connections=0, on_timing=timings.append
    ) as gateway:
        assert not gateway.fast_path_ready
        with pytest.raises(NotSent, match="disabled"):
            order_now(gateway)
        assert limiter.usage(gateway.venue_time_ns())[0].used == 0
    assert timings[0].sent_ns is None
    assert venue.seen == []


async def test_a_gateway_that_was_not_started_refuses_the_fast_path() -> None:
    gateway = BinanceRestGateway(
        HmacSigner(API_KEY, SECRET), clock=ManualClock(), base_url="http://127.0.0.1:9"
    )
    with pytest.raises(RuntimeError, match="not started"):
        order_now(gateway)


# --- the trading adapter ------------------------------------------------------------------------------


def an_order(client_id: str, price: int) -> Order:
    return Order(
        client_id=client_id,
        symbol="BTCUSDT",
        side=Side.BUY,
        price=price,
        size=100,  # 0.00100 BTC
        status=OrderStatus.PENDING_NEW,
        created_ns=0,
    )


async def test_submit_now_writes_on_the_fast_path_and_falls_back_when_busy() -> None:
    async with SimulatedExchange(SimConfig(), SystemClock()) as sim:
        key, secret = sim.create_api_key()
        gateway = BinanceRestGateway(
            HmacSigner(key, secret), clock=SystemClock(), base_url=sim.rest_url, order_connections=1
        )
        async with gateway:
            await gateway.sync_time()
            instruments = {"BTCUSDT": sim.instrument("BTCUSDT")}
            trading = BinanceTrading(gateway, instruments)
            price = sim.book_levels("BTCUSDT", 1).bids[0][0] - 100 * instruments["BTCUSDT"].tick
            first = an_order("ts-fast-1", price=price)
            second = an_order("ts-fast-2", price=price)
            answer_first = trading.submit_now(first)  # written now, on the one warm connection
            answer_second = trading.submit_now(second)  # none idle: by aiohttp, counted once
            async with asyncio.timeout(5):
                reports = [await answer_first, await answer_second]
            assert trading.fallbacks == 1
            assert [r.status for r in reports] == [OrderStatus.NEW, OrderStatus.NEW]
            assert sim.order_count("ts-fast-1") == 1
            assert sim.order_count("ts-fast-2") == 1
            async with asyncio.timeout(5):
                canceled = await trading.cancel(first)
            assert canceled.status is OrderStatus.CANCELED
            trading.fast_path = False  # the aiohttp route alone still works
            async with asyncio.timeout(5):
                third = await trading.submit_now(an_order("ts-slow-3", price=price))
            assert third.venue_order_id > 0
            assert trading.fallbacks == 1


async def test_warming_counts_writes_and_reports_nothing(
    venue: Venue, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    limiter = RateLimiter([UsageLimit(LimitKind.ORDERS, 10_000_000_000, 100)], safety_ratio=1.0)
    timings: list[RequestTiming] = []
    async with gateway_for(venue.url, limiter=limiter, on_timing=timings.append) as gateway:
        for _ in range(3):
            gateway.warm()
        assert gateway.fast_path_ready
        assert limiter.usage(gateway.venue_time_ns())[0].used == 0
        await asyncio.sleep(0.05)
    assert venue.seen == []
    assert timings == []
