"""The simulated exchange's REST API over loopback: public endpoints, signing, timing, rate limits."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from tradestack.ports import ManualClock
from tradestack.venues.simulated import FlowConfig, SimConfig, SymbolConfig
from tradestack.venues.simulated.auth import signature_matches
from venues.simulated.sim_client import QUIET, TIMEOUT, client, running

pytestmark = pytest.mark.timeout(30)

NOW_NS = 1_750_000_000_000_000_000


async def test_ping_time_and_exchange_info() -> None:
    async with running(clock=ManualClock(NOW_NS)) as exchange, client(exchange) as api:
        ping = await api.public("/api/v3/ping")
        assert ping.status == 200
        assert ping.body == {}
        assert ping.headers["X-MBX-USED-WEIGHT-1M"] == "1"
        assert (await api.public("/api/v3/time")).body == {"serverTime": NOW_NS // 1_000_000}

        info = await api.public("/api/v3/exchangeInfo")
        assert info.headers["X-MBX-USED-WEIGHT-1M"] == "22"  # 1 + 1 + 20
        assert info.body["timezone"] == "UTC"
        limits = {
            (r["rateLimitType"], r["interval"], r["intervalNum"]): r["limit"] for r in info.body["rateLimits"]
        }
        assert limits == {
            ("REQUEST_WEIGHT", "MINUTE", 1): 6000,
            ("ORDERS", "SECOND", 10): 100,
            ("ORDERS", "DAY", 1): 200000,
        }
        symbols = {s["symbol"]: s for s in info.body["symbols"]}
        assert set(symbols) == {"BTCUSDT", "ETHUSDT"}
        btc = symbols["BTCUSDT"]
        assert (btc["baseAsset"], btc["quoteAsset"], btc["status"]) == ("BTC", "USDT", "TRADING")
        filters = {f["filterType"]: f for f in btc["filters"]}
        assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
        assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
        assert filters["LOT_SIZE"]["minQty"] == "0.00001000"
        assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
        eth_filters = {f["filterType"]: f for f in symbols["ETHUSDT"]["filters"]}
        assert eth_filters["LOT_SIZE"]["stepSize"] == "0.00010000"

        one = await api.public("/api/v3/exchangeInfo", symbol="ETHUSDT")
        assert [s["symbol"] for s in one.body["symbols"]] == ["ETHUSDT"]
        many = await api.public("/api/v3/exchangeInfo", symbols='["ETHUSDT","BTCUSDT"]')
        assert [s["symbol"] for s in many.body["symbols"]] == ["ETHUSDT", "BTCUSDT"]
        bad = await api.public("/api/v3/exchangeInfo", symbol="DOGEUSDT")
        assert bad.status == 400
        assert bad.body == {"code": -1121, "msg": "Invalid symbol."}


async def test_depth_snapshot_is_padded_and_weighted_by_limit() -> None:
    config = SimConfig(flow=FlowConfig(interval_ms=0))
    async with running(config) as exchange, client(exchange) as api:
        depth = await api.public("/api/v3/depth", symbol="BTCUSDT", limit=5)
        assert depth.status == 200
        assert depth.headers["X-MBX-USED-WEIGHT-1M"] == "5"
        assert depth.body["lastUpdateId"] == exchange.update_id("BTCUSDT")
        assert len(depth.body["bids"]) == len(depth.body["asks"]) == 5
        price, size = depth.body["bids"][0]
        assert price.endswith("0" * 6)  # tick 0.01, padded to 8 decimals like Binance
        assert len(price.split(".")[1]) == len(size.split(".")[1]) == 8
        truth = exchange.book_levels("BTCUSDT", 5)
        instrument = exchange.instrument("BTCUSDT")
        assert [(instrument.price(p), instrument.size(q)) for p, q in depth.body["bids"]] == truth.bids
        assert [(instrument.price(p), instrument.size(q)) for p, q in depth.body["asks"]] == truth.asks
        big = await api.public("/api/v3/depth", symbol="BTCUSDT", limit=1000)
        assert big.headers["X-MBX-USED-WEIGHT-1M"] == str(5 + 50)
        missing = await api.public("/api/v3/depth")
        assert missing.body["code"] == -1102


async def test_signed_request_accepted_and_bad_signature_rejected() -> None:
    async with running() as exchange, client(exchange) as api:
        good = await api.signed("GET", "/api/v3/account")
        assert good.status == 200
        assert good.body["canTrade"] is True
        balances = {b["asset"]: b for b in good.body["balances"]}
        assert balances["USDT"] == {"asset": "USDT", "free": "100000.00000000", "locked": "0.00000000"}
        assert balances["BTC"]["free"] == "1.00000000"

        forged = await api.signed("GET", "/api/v3/account", secret="x" * 64)
        assert forged.status == 400
        assert forged.body == {"code": -1022, "msg": "Signature for this request is not valid."}
        posted = await api.signed("POST", "/api/v3/order", secret="y" * 64, symbol="BTCUSDT")
        assert posted.body["code"] == -1022


async def test_timestamps_outside_the_window_are_rejected() -> None:
    async with running() as exchange, client(exchange) as api:
        now = api.timestamp()
        stale = await api.signed("GET", "/api/v3/account", timestamp=now - 6000)
        assert stale.status == 400
        assert stale.body == {
            "code": -1021,
            "msg": "Timestamp for this request is outside of the recvWindow.",
        }
        widened = await api.signed("GET", "/api/v3/account", timestamp=now - 6000, recvWindow=10000)
        assert widened.status == 200
        ahead = await api.signed("GET", "/api/v3/account", timestamp=now + 5000)
        assert ahead.body == {
            "code": -1021,
            "msg": "Timestamp for this request was 1000ms ahead of the server's time.",
        }
        too_wide = await api.signed("GET", "/api/v3/account", recvWindow=60001)
        assert too_wide.body["code"] == -1131
        no_timestamp = await api.session.get(
            exchange.rest_url + "/api/v3/account", headers={"X-MBX-APIKEY": api.key}
        )
        assert (await no_timestamp.json())["code"] == -1102


async def test_unknown_and_malformed_api_keys() -> None:
    async with running() as exchange, client(exchange) as api:
        api.key = "A" * 64
        unknown = await api.signed("GET", "/api/v3/account")
        assert unknown.status == 401
        assert unknown.body == {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
        api.key = "short"
        malformed = await api.signed("GET", "/api/v3/account")
        assert malformed.status == 401
        assert malformed.body == {"code": -2014, "msg": "API-key format invalid."}


def test_verifier_accepts_binance_documented_vector(corpus: Path) -> None:
    vectors = json.loads((corpus / "exchange_docs_vectors" / "signing_vectors.json").read_text())
    (vector,) = [v for v in vectors["vectors"] if v["id"] == "binance-spot-rest-hmac-ascii"]
    inputs, expected = vector["inputs"], vector["expected"]
    assert signature_matches(inputs["secretKey"], inputs["payload"], expected["signature_hex"])
    assert signature_matches(inputs["secretKey"], inputs["payload"], expected["signature_hex"].upper())
    assert not signature_matches(inputs["secretKey"], inputs["payload"] + "&x=1", expected["signature_hex"])


LTCBTC = SymbolConfig(
    symbol="LTCBTC",
    base="LTC",
    quote="BTC",
    tick_size="0.000001",
    step_size="0.01",
    min_qty="0.01",
    min_notional="0.0001",
    start_price="0.1",
)


async def test_documented_request_is_accepted_over_the_wire(corpus: Path) -> None:
    """Binance's own example POST /api/v3/order, byte for byte, at the moment it was signed."""
    vectors = json.loads((corpus / "exchange_docs_vectors" / "signing_vectors.json").read_text())
    (vector,) = [v for v in vectors["vectors"] if v["id"] == "binance-spot-rest-hmac-ascii"]
    inputs, expected = vector["inputs"], vector["expected"]
    signed_at = int(dict(inputs["params_in_order"])["timestamp"])
    clock = ManualClock((signed_at + 300) * 1_000_000)
    config = SimConfig(symbols=(LTCBTC,), balances=(("BTC", "1"), ("LTC", "0")), flow=QUIET)
    async with running(config, clock) as exchange:
        exchange.add_api_key(inputs["apiKey"], inputs["secretKey"])
        headers = {**expected["header"], "Content-Type": "application/x-www-form-urlencoded"}
        url = exchange.rest_url + "/api/v3/order"
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            # Example 1: everything in the request body
            body = f"{inputs['payload']}&signature={expected['signature_hex']}"
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 200, await response.text()
                order = await response.json()
            assert order["symbol"] == "LTCBTC"
            assert order["status"] == "NEW"
            assert order["price"] == "0.10000000"
            # Example 3 of the same docs section: query string and body mixed; no "&" between them
            query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
            mixed = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
            signature = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
            async with session.post(
                f"{url}?{query}", data=f"{mixed}&signature={signature}", headers=headers
            ) as r:
                assert r.status == 200, await r.text()
            # one character changed: rejected
            async with session.post(url, data=body.replace("quantity=1", "quantity=2"), headers=headers) as r:
                assert (await r.json())["code"] == -1022
        assert len(exchange.open_orders("LTCBTC")) == 2
        assert exchange.balances()["BTC"].locked == 20_000_000  # 2 x 1 LTC at 0.1 BTC


async def test_request_weight_limit_answers_429_with_retry_after() -> None:
    clock = ManualClock(NOW_NS + 15_000_000_000)  # 15 s into a minute
    config = SimConfig(weight_limit_per_minute=30, flow=QUIET)
    async with running(config, clock) as exchange, client(exchange) as api:
        assert (await api.public("/api/v3/exchangeInfo")).headers["X-MBX-USED-WEIGHT-1M"] == "20"
        assert (await api.public("/api/v3/ping")).status == 200
        refused = await api.public("/api/v3/exchangeInfo")
        assert refused.status == 429
        assert refused.body["code"] == -1003
        assert refused.body["msg"].startswith("Too much request weight used; current limit is 30")
        assert refused.headers["Retry-After"] == str(60 - (NOW_NS // 10**9 + 15) % 60)
        assert refused.headers["X-MBX-USED-WEIGHT-1M"] == "41"
        clock.advance(60 * 1_000_000_000)  # the next minute window
        again = await api.public("/api/v3/ping")
        assert again.status == 200
        assert again.headers["X-MBX-USED-WEIGHT-1M"] == "1"


async def test_order_rate_limit_and_order_count_headers() -> None:
    clock = ManualClock(NOW_NS)
    async with running(SimConfig(orders_per_10s=2, flow=QUIET), clock) as exchange, client(exchange) as api:
        order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": "50000"}
        first = await api.order(quantity="0.001", **order)
        assert first.headers["X-MBX-ORDER-COUNT-10S"] == "1"
        assert first.headers["X-MBX-ORDER-COUNT-1D"] == "1"
        second = await api.order(quantity="0.001", **order)
        assert second.headers["X-MBX-ORDER-COUNT-10S"] == "2"
        third = await api.order(quantity="0.001", **order)
        assert third.status == 429
        assert third.body["code"] == -1015
        assert "Retry-After" not in third.headers
        assert len(exchange.open_orders()) == 2
        clock.advance(10 * 1_000_000_000)  # the next 10 s window
        fourth = await api.order(quantity="0.001", **order)
        assert fourth.status == 200
        assert fourth.headers["X-MBX-ORDER-COUNT-10S"] == "1"
        assert fourth.headers["X-MBX-ORDER-COUNT-1D"] == "3"


async def test_parameter_errors_follow_binance() -> None:
    async with running() as exchange, client(exchange) as api:
        base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
        cases = [
            ({**base, "price": "50000"}, -1102, "Mandatory parameter 'quantity' was not sent"),
            ({**base, "price": "50000.001", "quantity": "0.001"}, -1013, "Filter failure: PRICE_FILTER"),
            ({**base, "price": "50000", "quantity": "0.000011"}, -1013, "Filter failure: LOT_SIZE"),
            ({**base, "price": "50000", "quantity": "0.00001"}, -1013, "Filter failure: NOTIONAL"),
            (
                {**base, "price": "5e4", "quantity": "0.001"},
                -1100,
                "Illegal characters found in parameter 'price'",
            ),
            ({**base, "side": "HOLD", "price": "1", "quantity": "1"}, -1117, "Invalid side."),
            ({**base, "type": "STOP", "price": "1", "quantity": "1"}, -1116, "Invalid orderType."),
            ({**base, "timeInForce": "GTD", "price": "1", "quantity": "1"}, -1115, "Invalid timeInForce."),
            ({**base, "symbol": "XYZ", "price": "1", "quantity": "1"}, -1121, "Invalid symbol."),
            ({**base, "price": "50000", "quantity": "3"}, -2010, "Account has insufficient balance"),
            ({**base, "type": "MARKET", "quantity": "0.001"}, -1106, "Parameter 'timeInForce' sent when not"),
        ]
        for params, code, message in cases:
            reply = await api.order(**params)
            assert reply.status == 400, params
            assert reply.body["code"] == code, (params, reply.body)
            assert reply.body["msg"].startswith(message), (params, reply.body)
        assert exchange.open_orders() == []
