"""The Binance REST gateway against a small Binance-like server on 127.0.0.1.

The server checks every signature itself with hmac (not with our signer), and answers in Binance's
documented shapes. What matters most here is the failure semantics: which outcomes are safe to
resend (NotSent, RateLimited, VenueRejected) and which must be resolved by a query (OutcomeUnknown).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from tradestack.domain.events import Side
from tradestack.ports import ManualClock
from tradestack.venues._shared.errors import NotExecuted, NotSent, OutcomeUnknown, RateLimited, VenueRejected
from tradestack.venues._shared.rate_limit import LimitKind, RateLimiter, UsageLimit
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.rest_gateway import (
    DEFAULT_SPOT_LIMITS,
    BinanceRestGateway,
    RateLimitInfo,
    RequestTiming,
    limits_from_exchange_info,
)

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
START_NS = 1_700_000_000_000_000_000
MINUTE_NS = 60_000_000_000

# Response bodies as Binance documents them (rest-api.md), numbers as decimal strings.
ORDER_RESULT = {
    "symbol": "BTCUSDT",
    "orderId": 28,
    "orderListId": -1,
    "clientOrderId": "c-1",
    "transactTime": 1507725176595,
    "price": "50000.00000000",
    "origQty": "0.00100000",
    "executedQty": "0.00000000",
    "origQuoteOrderQty": "0.000000",
    "cummulativeQuoteQty": "0.00000000",
    "status": "NEW",
    "timeInForce": "GTC",
    "type": "LIMIT",
    "side": "BUY",
    "workingTime": 1507725176595,
    "selfTradePreventionMode": "NONE",
}
QUERIED_ORDER = {
    **ORDER_RESULT,
    "stopPrice": "0.00000000",
    "icebergQty": "0.00000000",
    "time": 1499827319559,
    "updateTime": 1499827319559,
    "isWorking": True,
}
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
    "selfTradePreventionMode": "NONE",
}
OCO_CANCELED = {
    "orderListId": 1929,
    "contingencyType": "OCO",
    "listStatusType": "ALL_DONE",
    "listOrderStatus": "ALL_DONE",
    "listClientOrderId": "2inzWQdDvZLHbbAmAozX2N",
    "transactionTime": 1585230948299,
    "symbol": "BTCUSDT",
    "orders": [{"symbol": "BTCUSDT", "orderId": 20, "clientOrderId": "CwOOIPHSmYywx6jZX77TdL"}],
    "orderReports": [{**CANCELED, "orderId": 20, "origClientOrderId": "CwOOIPHSmYywx6jZX77TdL"}],
}
ACCOUNT = {
    "makerCommission": 15,
    "takerCommission": 15,
    "buyerCommission": 0,
    "sellerCommission": 0,
    "commissionRates": {
        "maker": "0.00150000",
        "taker": "0.00150000",
        "buyer": "0.00000000",
        "seller": "0.00000000",
    },
    "canTrade": True,
    "canWithdraw": True,
    "canDeposit": True,
    "brokered": False,
    "requireSelfTradePrevention": False,
    "preventSor": False,
    "updateTime": 123456789,
    "accountType": "SPOT",
    "balances": [{"asset": "BTC", "free": "4723846.89208129", "locked": "0.00000000"}],
    "permissions": ["SPOT"],
    "uid": 354937868,
}
TRADES = [
    {
        "symbol": "BTCUSDT",
        "id": 28457,
        "orderId": 100234,
        "orderListId": -1,
        "price": "4.00000100",
        "qty": "12.00000000",
        "quoteQty": "48.000012",
        "commission": "10.10000000",
        "commissionAsset": "BNB",
        "time": 1499865549590,
        "isBuyer": True,
        "isMaker": False,
        "isBestMatch": True,
    }
]
EXCHANGE_INFO = {
    "timezone": "UTC",
    "serverTime": 1565246363776,
    "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
    ],
    "exchangeFilters": [],
    "symbols": [
        {
            "symbol": "BTCUSDT",
            "status": "TRADING",
            "baseAsset": "BTC",
            "baseAssetPrecision": 8,
            "quoteAsset": "USDT",
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
            "icebergAllowed": True,
            "isSpotTradingAllowed": True,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": "0.01000000",
                    "maxPrice": "1000000.00000000",
                    "tickSize": "0.01000000",
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": "0.00001000",
                    "maxQty": "9000.00000000",
                    "stepSize": "0.00001000",
                },
                {"filterType": "ICEBERG_PARTS", "limit": 10},
                {
                    "filterType": "NOTIONAL",
                    "minNotional": "5.00000000",
                    "applyMinToMarket": True,
                    "maxNotional": "9000000.00000000",
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
            ],
            "permissions": [],
        }
    ],
}
DEPTH = {
    "lastUpdateId": 1027024,
    "bids": [["4.00000000", "431.00000000"]],
    "asks": [["4.00000200", "12.00000000"]],
}


# --- the fake venue -----------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    params: list[tuple[str, str]]
    api_key: str | None
    content_type: str | None


@dataclass
class FakeBinance:
    """Binance-like responses; `script` may override the response for a (method, path)."""

    server_time_ms: int = START_NS // 1_000_000
    used_weight: int = 0
    requests: list[Received] = field(default_factory=list)
    script: dict[tuple[str, str], Callable[[web.Request], Awaitable[web.StreamResponse]]] = field(
        default_factory=dict
    )
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    def weight_headers(self) -> dict[str, str]:
        return {"X-MBX-USED-WEIGHT-1M": str(self.used_weight)}

    def reply(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            status=status,
            body=json.dumps(body).encode(),
            content_type="application/json",
            headers={**self.weight_headers(), **(headers or {})},
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw_query = request.raw_path.partition("?")[2]
        params = parse_qsl(raw_query, keep_blank_values=True)
        headers = request.headers
        self.requests.append(
            Received(
                request.method, request.path, params, headers.get("X-MBX-APIKEY"), headers.get("Content-Type")
            )
        )
        self.used_weight += 1
        scripted = self.script.get((request.method, request.path))
        if scripted is not None:
            return await scripted(request)
        if "signature" in raw_query:
            payload, _, signature = raw_query.rpartition("&signature=")
            expected = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
            if request.headers.get("X-MBX-APIKEY") != API_KEY:
                return self.reply(
                    {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, 401
                )
            if not hmac.compare_digest(signature, expected):
                return self.reply({"code": -1022, "msg": "Signature for this request is not valid."}, 400)
        return self.reply(self.canned(request.method, request.path, dict(params)))

    def canned(self, method: str, path: str, params: dict[str, str]) -> Any:
        match method, path:
            case "GET", "/api/v3/time":
                return {"serverTime": self.server_time_ms}
            case "GET", "/api/v3/ping":
                return {}
            case "POST", "/api/v3/order":
                return {**ORDER_RESULT, "clientOrderId": params["newClientOrderId"]}
            case "GET", "/api/v3/order":
                return QUERIED_ORDER
            case "DELETE", "/api/v3/order":
                return CANCELED
            case "DELETE", "/api/v3/openOrders":
                return [CANCELED, OCO_CANCELED]
            case "GET", "/api/v3/openOrders":
                return [QUERIED_ORDER]
            case "GET", "/api/v3/account":
                return ACCOUNT
            case "GET", "/api/v3/myTrades":
                return TRADES
            case "GET", "/api/v3/exchangeInfo":
                return EXCHANGE_INFO
            case "GET", "/api/v3/depth":
                return DEPTH
            case "POST", "/api/v3/userDataStream":
                return {"listenKey": "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"}
            case _, "/api/v3/userDataStream":
                return {}
        raise AssertionError(f"unexpected {method} {path}")


@pytest.fixture
async def venue() -> AsyncIterator[FakeBinance]:
    fake = FakeBinance()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield fake
    fake.release.set()  # let any hanging handler finish before the server shuts down
    await runner.cleanup()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start_ns=START_NS)


@pytest.fixture
async def gateway_for(clock: ManualClock) -> AsyncIterator[Callable[..., BinanceRestGateway]]:
    gateways: list[BinanceRestGateway] = []

    def make(url: str, **options: Any) -> BinanceRestGateway:
        gateway = BinanceRestGateway(HmacSigner(API_KEY, SECRET), clock=clock, base_url=url, **options)
        gateways.append(gateway)
        return gateway

    yield make
    for gateway in gateways:
        await gateway.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- signing and typed results ------------------------------------------------------------------------


async def test_a_signed_order_is_accepted_with_parameters_in_order(
    venue: FakeBinance, gateway_for: Callable[..., BinanceRestGateway], clock: ManualClock
) -> None:
    timings: list[RequestTiming] = []
    async with gateway_for(venue.url, recv_window_ms=3000, on_timing=timings.append) as gateway:
        ack = await gateway.new_order("BTCUSDT", Side.BUY, "LIMIT", "0.00100000", "50000.00", "GTC", "c-1")

    assert ack.order_id == 28
    assert ack.client_order_id == "c-1"
    assert ack.status == "NEW"
    assert ack.price == "50000.00000000"  # the venue's exact string
    assert ack.fills == []
    (request,) = venue.requests
    assert request.api_key == API_KEY
    assert request.content_type == "application/x-www-form-urlencoded"
    assert [key for key, _ in request.params] == [
        "symbol",
        "side",
        "type",
        "timeInForce",
        "quantity",
        "price",
        "newClientOrderId",
        "newOrderRespType",
        "recvWindow",
        "timestamp",
        "signature",
    ]
    params = dict(request.params)
    assert params["timestamp"] == str(clock.now_ns() // 1_000_000)
    assert params["recvWindow"] == "3000"
    (timing,) = timings
    assert (timing.method, timing.path, timing.client_order_id, timing.status) == (
        "POST",
        "/api/v3/order",
        "c-1",
        200,
    )
    assert timing.sent_ns is not None


async def test_a_market_order_sends_neither_price_nor_time_in_force(
    venue: FakeBinance, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    async with gateway_for(venue.url) as gateway:
        await gateway.new_order(
            "BTCUSDT", Side.SELL, "MARKET", "0.001", None, None, "c-2", response_type="ACK"
        )
    params = dict(venue.requests[0].params)
    assert "price" not in params
    assert "timeInForce" not in params
    assert (params["side"], params["newOrderRespType"]) == ("SELL", "ACK")


async def test_the_server_time_offset_moves_the_timestamp(
    venue: FakeBinance, gateway_for: Callable[..., BinanceRestGateway], clock: ManualClock
) -> None:
    venue.server_time_ms = START_NS // 1_000_000 + 1500  # the venue runs 1.5 s ahead of us
    async with gateway_for(venue.url) as gateway:
        assert await gateway.sync_time() == 1_500_000_000
        await gateway.query_order("BTCUSDT", "c-1")
    assert dict(venue.requests[-1].params)["timestamp"] == str(START_NS // 1_000_000 + 1500)


async def test_a_wrong_secret_is_rejected_by_the_venue(venue: FakeBinance, clock: ManualClock) -> None:
    async with BinanceRestGateway(
        HmacSigner(API_KEY, "not-the-secret"), clock=clock, base_url=venue.url
    ) as gateway:
        with pytest.raises(VenueRejected) as rejected:
            await gateway.account()
    assert (rejected.value.code, rejected.value.http_status) == (-1022, 400)


async def test_queries_decode_into_typed_results(
    venue: FakeBinance, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    async with gateway_for(venue.url) as gateway:
        await gateway.ping()
        order = await gateway.query_order("BTCUSDT", "c-1")
        by_id = await gateway.query_order_by_id("BTCUSDT", 28)
        canceled = await gateway.cancel_order("BTCUSDT", "c-1")
        all_canceled = await gateway.cancel_all("BTCUSDT")
        open_orders = await gateway.open_orders("BTCUSDT")
        account = await gateway.account()
        trades = await gateway.my_trades("BTCUSDT", from_id=28000, limit=10)
        info = await gateway.exchange_info(["BTCUSDT"])
        depth = await gateway.depth("BTCUSDT", limit=5)
        listen_key = await gateway.create_listen_key()
        await gateway.keepalive_listen_key(listen_key)
        await gateway.close_listen_key(listen_key)

    assert (order.client_order_id, order.is_working, order.orig_qty) == ("c-1", True, "0.00100000")
    assert by_id == order
    assert (canceled.status, canceled.orig_client_order_id) == ("CANCELED", "c-1")
    assert [entry.order_id for entry in all_canceled] == [28, -1]
    assert all_canceled[1].order_list_id == 1929
    assert all_canceled[1].order_reports[0].orig_client_order_id == "CwOOIPHSmYywx6jZX77TdL"
    assert [o.order_id for o in open_orders] == [28]
    assert account.balances[0].free == "4723846.89208129"
    assert account.commission_rates is not None
    assert account.commission_rates.maker == "0.00150000"
    assert (trades[0].id, trades[0].quote_qty, trades[0].is_maker) == (28457, "48.000012", False)
    assert depth.bids == [("4.00000000", "431.00000000")]
    assert depth.last_update_id == 1027024
    instrument = info.symbols[0].instrument()
    assert (instrument.price_scale, instrument.size_scale) == (2, 5)
    assert instrument.min_notional == instrument.price("5.00") * 10**5
    assert limits_from_exchange_info(info.rate_limits)[0].header == "X-MBX-USED-WEIGHT-1M"

    by_path = {(r.method, r.path): r for r in venue.requests}
    assert dict(by_path["GET", "/api/v3/myTrades"].params)["fromId"] == "28000"
    assert dict(by_path["GET", "/api/v3/exchangeInfo"].params) == {"symbols": '["BTCUSDT"]'}
    assert "signature" not in dict(by_path["GET", "/api/v3/depth"].params)
    user_stream = by_path["PUT", "/api/v3/userDataStream"]
    assert user_stream.api_key == API_KEY  # API key, but no signature
    assert "signature" not in dict(user_stream.params)


def test_exchange_info_rate_limits_become_limiter_windows() -> None:
    limits = limits_from_exchange_info(
        [RateLimitInfo("ORDERS", "SECOND", 10, 100), RateLimitInfo("RAW_REQUESTS", "MINUTE", 5, 61000)]
    )
    assert limits == [
        UsageLimit(LimitKind.ORDERS, 10_000_000_000, 100, "X-MBX-ORDER-COUNT-10S"),
        UsageLimit(LimitKind.RAW_REQUESTS, 5 * MINUTE_NS, 61000, None),
    ]
    assert DEFAULT_SPOT_LIMITS[0].header == "X-MBX-USED-WEIGHT-1M"


# --- failure semantics ---------------------------------------------------------------------------------


async def test_an_error_body_is_venue_rejected_with_its_code(
    venue: FakeBinance, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    async def insufficient_balance(request: web.Request) -> web.Response:
        return venue.reply(
            {"code": -2010, "msg": "Account has insufficient balance for requested action."}, 400
        )

    venue.script["POST", "/api/v3/order"] = insufficient_balance
    async with gateway_for(venue.url) as gateway:
        with pytest.raises(VenueRejected) as rejected:
            await gateway.new_order("BTCUSDT", Side.BUY, "LIMIT", "1", "1.00", "GTC", "c-1")
    assert (rejected.value.code, rejected.value.http_status) == (-2010, 400)
    assert "insufficient balance" in rejected.value.msg
    assert isinstance(rejected.value, NotExecuted)


@pytest.mark.parametrize("status", [429, 418])
async def test_rate_limited_carries_retry_after_and_blocks_further_requests(
    venue: FakeBinance, gateway_for: Callable[..., BinanceRestGateway], clock: ManualClock, status: int
) -> None:
    async def too_many(request: web.Request) -> web.Response:
        body = {"code": -1003, "msg": "Too many requests; current limit is 6000 request weight per 1 MINUTE."}
        return venue.reply(body, status, headers={"Retry-After": "7"})

    venue.script["POST", "/api/v3/order"] = too_many
    async with gateway_for(venue.url) as gateway:
        with pytest.raises(RateLimited) as limited:
            await gateway.new_order("BTCUSDT", Side.BUY, "LIMIT", "1", "1.00", "GTC", "c-1")
        assert (limited.value.retry_after_seconds, limited.value.http_status) == (7.0, status)

        # Until Retry-After has passed nothing goes out, not even a query.
        clock.advance(6_000_000_000)
        with pytest.raises(RateLimited) as held:
            await gateway.account()
        assert held.value.http_status is None
        assert held.value.retry_after_seconds == pytest.approx(1.0)
        assert len(venue.requests) == 1

        clock.advance(1_000_000_000)
        await gateway.account()
    assert len(venue.requests) == 2


async def test_the_weight_header_drives_the_usage_ratio(
    venue: FakeBinance, gateway_for: Callable[..., BinanceRestGateway], clock: ManualClock
) -> None:
    venue.used_weight = 2999
    async with gateway_for(venue.url) as gateway:
        await gateway.exchange_info()
        assert gateway.limiter.usage_ratio(gateway.venue_time_ns()) == 0.5


async def test_the_local_limiter_holds_back_requests_over_budget(
    venue: FakeBinance, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    limiter = RateLimiter([UsageLimit(LimitKind.REQUEST_WEIGHT, MINUTE_NS, 100, "X-MBX-USED-WEIGHT-1M")], 1.0)
    async with gateway_for(venue.url, limiter=limiter) as gateway:
        await gateway.account()  # weight 20
        venue.used_weight = 90
        await gateway.query_order("BTCUSDT", "c-1")  # weight 4; the venue now reports 91
        with pytest.raises(RateLimited) as held:
            await gateway.account()
    assert held.value.http_status is None
    assert len(venue.requests) == 2


async def test_a_server_that_accepts_then_hangs_is_outcome_unknown_after_the_timeout(
    venue: FakeBinance, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    async def hang(request: web.Request) -> web.Response:
        await venue.release.wait()
        return venue.reply(ORDER_RESULT)

    venue.script["POST", "/api/v3/order"] = hang
    timings: list[RequestTiming] = []
    async with gateway_for(venue.url, timeout_s=0.3, on_timing=timings.append) as gateway:
        async with asyncio.timeout(5):
            with pytest.raises(OutcomeUnknown):
                await gateway.new_order("BTCUSDT", Side.BUY, "LIMIT", "1", "1.00", "GTC", "c-1")
    assert len(venue.requests) == 1  # never resent
    assert timings[0].sent_ns is not None
    assert timings[0].status is None


async def test_a_5xx_is_outcome_unknown(
    venue: FakeBinance, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    async def unavailable(request: web.Request) -> web.Response:
        return web.Response(status=503, text="Service Unavailable")

    venue.script["POST", "/api/v3/order"] = unavailable
    async with gateway_for(venue.url) as gateway:
        with pytest.raises(OutcomeUnknown) as unknown:
            await gateway.new_order("BTCUSDT", Side.BUY, "LIMIT", "1", "1.00", "GTC", "c-1")
    assert unknown.value.http_status == 503
    assert len(venue.requests) == 1


async def test_binance_timeout_codes_are_outcome_unknown_whatever_the_status(
    venue: FakeBinance, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    async def backend_timeout(request: web.Request) -> web.Response:
        body = {
            "code": -1007,
            "msg": "Timeout waiting for response from backend server. Send status unknown.",
        }
        return venue.reply(body, 408)

    venue.script["POST", "/api/v3/order"] = backend_timeout
    async with gateway_for(venue.url) as gateway:
        with pytest.raises(OutcomeUnknown):
            await gateway.new_order("BTCUSDT", Side.BUY, "LIMIT", "1", "1.00", "GTC", "c-1")


async def test_an_undecodable_success_is_outcome_unknown(
    venue: FakeBinance, gateway_for: Callable[..., BinanceRestGateway]
) -> None:
    async def garbled(request: web.Request) -> web.Response:
        return web.Response(status=200, text="<html>gateway</html>")

    venue.script["POST", "/api/v3/order"] = garbled
    async with gateway_for(venue.url) as gateway:
        with pytest.raises(OutcomeUnknown):
            await gateway.new_order("BTCUSDT", Side.BUY, "LIMIT", "1", "1.00", "GTC", "c-1")


async def test_a_refused_connection_is_not_sent(gateway_for: Callable[..., BinanceRestGateway]) -> None:
    timings: list[RequestTiming] = []
    async with gateway_for(f"http://127.0.0.1:{free_port()}", on_timing=timings.append) as gateway:
        with pytest.raises(NotSent):
            await gateway.new_order("BTCUSDT", Side.BUY, "LIMIT", "1", "1.00", "GTC", "c-1")
    assert timings[0].sent_ns is None


async def test_a_gateway_that_was_not_started_refuses(clock: ManualClock) -> None:
    gateway = BinanceRestGateway(HmacSigner(API_KEY, SECRET), clock=clock, base_url="http://127.0.0.1:9")
    with pytest.raises(RuntimeError, match="not started"):
        await gateway.account()


@dataclass
class DroppingServer:
    """Raw HTTP on 127.0.0.1: answers the first request with keep-alive, then reads the next request
    and drops the connection without a response."""

    requests: list[bytes] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                if len(self.requests) > 1:
                    break
                body = b"{}"
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.mark.parametrize("cancel", [False, True], ids=["new_order", "cancel"])
async def test_a_connection_dropped_after_sending_is_outcome_unknown_and_never_resent(
    gateway_for: Callable[..., BinanceRestGateway], cancel: bool
) -> None:
    dropping = DroppingServer()
    server = await asyncio.start_server(dropping.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with gateway_for(f"http://127.0.0.1:{port}") as gateway:
            await gateway.ping()  # the pooled connection is now reused for the order
            request = (
                gateway.cancel_order("BTCUSDT", "c-1")
                if cancel
                else gateway.new_order("BTCUSDT", Side.BUY, "LIMIT", "1", "1.00", "GTC", "c-1")
            )
            with pytest.raises(OutcomeUnknown):
                await request
    finally:
        server.close()
        await server.wait_closed()
    # One ping and one order request: aiohttp's retry of idempotent methods (DELETE) is off.
    assert len(dropping.requests) == 2
