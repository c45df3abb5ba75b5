"""Orders on the simulated exchange: lifecycle with executionReports, ids, cancels, balances."""

from __future__ import annotations

import aiohttp
import pytest

from tradestack.domain.events import Side
from tradestack.domain.matching import OrderStatus
from tradestack.ports import ManualClock
from tradestack.venues.simulated import SimConfig, SimulatedExchange
from venues.simulated.sim_client import QUIET, Client, client, next_event, next_json, running

pytestmark = pytest.mark.timeout(30)

LIMIT = {"symbol": "BTCUSDT", "type": "LIMIT", "timeInForce": "GTC"}


def lots(exchange: SimulatedExchange, text: str) -> int:
    return exchange.instrument("BTCUSDT").size(text)


def ticks(exchange: SimulatedExchange, text: str) -> int:
    return exchange.instrument("BTCUSDT").price(text)


async def user_stream(api: Client) -> aiohttp.ClientWebSocketResponse:
    key = await api.listen_key()
    return await api.session.ws_connect(f"{api.exchange.ws_url}/ws/{key}")


async def test_lifecycle_new_partial_filled_with_execution_reports() -> None:
    config = SimConfig(flow=QUIET, taker_commission="0.001", maker_commission="0.0005")
    async with running(config) as exchange, client(exchange) as api:
        ws = await user_stream(api)
        placed = await api.order(
            side="BUY", price="60000", quantity="0.002", newClientOrderId="life-1", **LIMIT
        )
        assert placed.status == 200
        assert placed.body["status"] == "NEW"
        assert placed.body["clientOrderId"] == "life-1"
        assert placed.body["fills"] == []  # FULL is the default for LIMIT
        order_id = placed.body["orderId"]

        new = await next_event(ws, "executionReport")
        assert (new["x"], new["X"], new["c"], new["i"], new["S"]) == ("NEW", "NEW", "life-1", order_id, "BUY")
        assert (new["q"], new["p"], new["z"], new["t"], new["w"]) == (
            "0.00200000",
            "60000.00000000",
            "0.00000000",
            -1,
            True,
        )
        locked = await next_event(ws, "outboundAccountPosition")
        assert {b["a"]: b for b in locked["B"]}["USDT"]["l"] == "120.12000000"  # + a 0.1% commission cap

        # another participant sells 0.0005 at market: a partial fill of our resting bid (we are maker)
        exchange.venue.flow_market("BTCUSDT", Side.SELL, lots(exchange, "0.0005"))
        partial = await next_event(ws, "executionReport")
        assert (partial["x"], partial["X"]) == ("TRADE", "PARTIALLY_FILLED")
        assert (partial["l"], partial["z"], partial["L"]) == ("0.00050000", "0.00050000", "60000.00000000")
        assert (partial["m"], partial["n"], partial["N"], partial["Y"]) == (
            True,
            "0.01500000",
            "USDT",
            "30.00000000",
        )
        assert partial["t"] >= 1
        position = await next_event(ws, "outboundAccountPosition")
        balances = {b["a"]: b for b in position["B"]}
        assert balances["BTC"]["f"] == "1.00050000"
        assert balances["USDT"]["l"] == "90.09000000"

        exchange.venue.flow_market("BTCUSDT", Side.SELL, lots(exchange, "0.0015"))
        filled = await next_event(ws, "executionReport")
        assert (filled["x"], filled["X"], filled["z"], filled["Z"]) == (
            "TRADE",
            "FILLED",
            "0.00200000",
            "120.00000000",
        )
        assert filled["w"] is False
        await next_event(ws, "outboundAccountPosition")

        query = await api.signed("GET", "/api/v3/order", symbol="BTCUSDT", orderId=order_id)
        assert query.body["status"] == "FILLED"
        assert query.body["executedQty"] == "0.00200000"
        assert query.body["cummulativeQuoteQty"] == "120.00000000"
        assert query.body["isWorking"] is False
        truth = exchange.balances()
        assert truth["USDT"].locked == 0
        assert truth["USDT"].free == (100_000 - 120) * 10**8 - 6_000_000  # maker commission 0.06 USDT
        assert truth["BTC"].free == 100_200_000
        trades = await api.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT")
        assert [(t["qty"], t["isMaker"], t["isBuyer"]) for t in trades.body] == [
            ("0.00050000", True, True),
            ("0.00150000", True, True),
        ]
        assert [t.quantity for t in exchange.trades()] == [50, 150]
        await ws.close()


async def test_taker_order_reports_new_trade_and_full_response() -> None:
    async with running() as exchange, client(exchange) as api:
        exchange.venue.flow_limit("BTCUSDT", Side.SELL, ticks(exchange, "60001"), lots(exchange, "0.01"))
        exchange.venue.flow_limit("BTCUSDT", Side.SELL, ticks(exchange, "60002"), lots(exchange, "0.01"))
        ws = await user_stream(api)
        market = await api.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.015")
        assert market.body["status"] == "FILLED"
        assert market.body["type"] == "MARKET"
        assert [(f["price"], f["qty"]) for f in market.body["fills"]] == [
            ("60001.00000000", "0.01000000"),
            ("60002.00000000", "0.00500000"),
        ]
        assert market.body["cummulativeQuoteQty"] == "900.02000000"
        kinds = [(await next_event(ws, "executionReport"))["x"] for _ in range(3)]
        assert kinds == ["NEW", "TRADE", "TRADE"]

        ioc = await api.order(
            side="BUY", price="60002", quantity="0.01", timeInForce="IOC", symbol="BTCUSDT", type="LIMIT"
        )
        assert (ioc.body["status"], ioc.body["executedQty"]) == ("EXPIRED", "0.00500000")
        kinds = [(await next_event(ws, "executionReport"))["x"] for _ in range(3)]
        assert kinds == ["NEW", "TRADE", "EXPIRED"]
        assert exchange.balances()["USDT"].locked == 0
        await ws.close()


async def test_response_types_ack_and_result() -> None:
    async with running() as exchange, client(exchange) as api:
        ack = await api.order(side="BUY", price="50000", quantity="0.001", newOrderRespType="ACK", **LIMIT)
        assert set(ack.body) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
        result = await api.order(
            side="BUY", price="50000", quantity="0.001", newOrderRespType="RESULT", **LIMIT
        )
        assert "fills" not in result.body
        assert result.body["origQty"] == "0.00100000"
        assert result.body["selfTradePreventionMode"] == "NONE"


async def test_duplicate_client_order_id_of_an_open_order_is_rejected() -> None:
    async with running() as exchange, client(exchange) as api:
        first = await api.order(side="BUY", price="50000", quantity="0.001", newClientOrderId="dup", **LIMIT)
        assert first.status == 200
        second = await api.order(side="BUY", price="50001", quantity="0.001", newClientOrderId="dup", **LIMIT)
        assert second.status == 400
        assert second.body == {"code": -2010, "msg": "Duplicate order sent."}
        assert exchange.order_count("dup") == 1
        assert len(exchange.open_orders("BTCUSDT")) == 1
        # once it is no longer open, the id may be used again (Binance only forbids open duplicates)
        await api.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="dup")
        third = await api.order(side="BUY", price="50002", quantity="0.001", newClientOrderId="dup", **LIMIT)
        assert third.status == 200
        assert exchange.order_count("dup") == 2


async def test_cancel_by_orig_client_order_id_and_unknown_orders() -> None:
    async with running() as exchange, client(exchange) as api:
        ws = await user_stream(api)
        await api.order(side="SELL", price="70000", quantity="0.01", newClientOrderId="ask-1", **LIMIT)
        assert exchange.balances()["BTC"].locked == 1_000_000
        canceled = await api.signed(
            "DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="ask-1", newClientOrderId="cxl-1"
        )
        assert canceled.status == 200
        assert canceled.body["status"] == "CANCELED"
        assert canceled.body["origClientOrderId"] == "ask-1"
        assert canceled.body["clientOrderId"] == "cxl-1"
        report = None
        while report is None or report["x"] != "CANCELED":
            report = await next_event(ws, "executionReport")
        assert (report["c"], report["C"], report["X"]) == ("cxl-1", "ask-1", "CANCELED")
        assert exchange.balances()["BTC"].locked == 0
        view = exchange.order_by_client_id("ask-1")
        assert view is not None
        assert view.status is OrderStatus.CANCELED

        again = await api.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="ask-1")
        assert again.body == {"code": -2011, "msg": "Unknown order sent."}
        missing = await api.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="nope")
        assert missing.body == {"code": -2013, "msg": "Order does not exist."}
        neither = await api.signed("GET", "/api/v3/order", symbol="BTCUSDT")
        assert neither.body["code"] == -1102
        found = await api.signed("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="ask-1")
        assert found.body["status"] == "CANCELED"
        await ws.close()


async def test_open_orders_and_cancel_all() -> None:
    async with running() as exchange, client(exchange) as api:
        for index in range(3):
            await api.order(side="BUY", price=f"{50000 + index}", quantity="0.001", **LIMIT)
        await api.order(
            symbol="ETHUSDT", side="BUY", type="LIMIT", timeInForce="GTC", price="2000", quantity="0.01"
        )
        everything = await api.signed("GET", "/api/v3/openOrders")
        assert everything.headers["X-MBX-USED-WEIGHT-1M"] == str(4 * 1 + 80)
        assert len(everything.body) == 4
        btc = await api.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT")
        assert [o["price"] for o in btc.body] == ["50000.00000000", "50001.00000000", "50002.00000000"]

        canceled = await api.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT")
        assert canceled.status == 200
        assert [o["status"] for o in canceled.body] == ["CANCELED"] * 3
        assert exchange.open_orders("BTCUSDT") == []
        assert len(exchange.open_orders()) == 1
        empty = await api.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT")
        assert empty.body == {"code": -2011, "msg": "Unknown order sent."}
        assert exchange.balances()["USDT"].locked == 20 * 10**8


async def test_limit_maker_that_would_take_is_rejected() -> None:
    async with running() as exchange, client(exchange) as api:
        exchange.venue.flow_limit("BTCUSDT", Side.SELL, ticks(exchange, "60000"), lots(exchange, "0.01"))
        taker = await api.order(
            symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", price="60000", quantity="0.001"
        )
        assert taker.body == {"code": -2010, "msg": "Order would immediately match and take."}
        maker = await api.order(
            symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", price="59999", quantity="0.001"
        )
        assert maker.status == 200
        assert set(maker.body) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}  # ACK
        assert exchange.balances()["USDT"].locked == 5_999_900_000


async def test_listen_key_keepalive_close_and_expiry() -> None:
    clock = ManualClock()
    async with running(SimConfig(flow=QUIET), clock) as exchange, client(exchange) as api:
        key = await api.listen_key()
        assert len(key) == 60
        assert await api.listen_key() == key  # one active key per account
        url = exchange.rest_url + "/api/v3/userDataStream"
        headers = {"X-MBX-APIKEY": api.key}
        async with api.session.put(url, params={"listenKey": key}, headers=headers) as response:
            assert await response.json() == {}
        async with api.session.put(url, params={"listenKey": "x" * 60}, headers=headers) as response:
            assert await response.json() == {"code": -1125, "msg": "This listenKey does not exist."}
        async with api.session.post(url) as response:
            assert response.status == 401

        ws = await api.session.ws_connect(f"{exchange.ws_url}/ws/{key}")
        clock.advance(59 * 60 * 10**9)
        async with api.session.put(url, params={"listenKey": key}, headers=headers) as response:
            assert response.status == 200
        clock.advance(59 * 60 * 10**9)
        exchange.hub.expire_listen_keys()
        assert exchange.listen_keys.is_active(key)
        clock.advance(2 * 60 * 10**9)
        exchange.hub.expire_listen_keys()
        expired = await next_json(ws)
        assert expired["e"] == "listenKeyExpired"
        assert expired["listenKey"] == key
        closing = await ws.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        async with api.session.delete(url, params={"listenKey": key}, headers=headers) as response:
            assert (await response.json())["code"] == -1125
        await ws.close()


async def test_market_order_by_quote_quantity() -> None:
    async with running() as exchange, client(exchange) as api:
        exchange.venue.flow_limit("BTCUSDT", Side.SELL, ticks(exchange, "50000"), lots(exchange, "0.01"))
        exchange.venue.flow_limit("BTCUSDT", Side.SELL, ticks(exchange, "60000"), lots(exchange, "0.01"))
        bought = await api.order(symbol="BTCUSDT", side="BUY", type="MARKET", quoteOrderQty="560")
        assert bought.body["status"] == "FILLED"
        assert bought.body["origQuoteOrderQty"] == "560.00000000"
        assert bought.body["executedQty"] == "0.01100000"  # 0.01 at 50000 + 0.001 at 60000
        assert bought.body["cummulativeQuoteQty"] == "560.00000000"


async def test_user_stream_on_a_combined_connection() -> None:
    async with running() as exchange, client(exchange) as api:
        key = await api.listen_key()
        ws = await api.session.ws_connect(f"{exchange.ws_url}/stream?streams={key}/btcusdt@trade")
        await api.order(side="SELL", price="70000", quantity="0.001", newClientOrderId="c-1", **LIMIT)
        envelope = await next_json(ws)
        assert envelope["stream"] == key
        assert envelope["data"]["e"] == "executionReport"
        assert envelope["data"]["c"] == "c-1"
        await ws.close()
