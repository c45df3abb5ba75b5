"""Market and user streams of the simulated exchange over loopback, and the fault-injection hooks."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from conftest import eventually
from tradestack.domain.events import Side
from tradestack.ports import ManualClock
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange
from tradestack.venues.simulated.flow import SimFlow
from tradestack.venues.simulated.venue import SimVenue
from venues.simulated.sim_client import Gap, LocalBook, client, next_event, next_json, running

pytestmark = pytest.mark.timeout(60)

MANUAL_FLOW = SimConfig(flow=FlowConfig(interval_ms=0), max_incoming_messages_per_second=0)


class DepthReader:
    """Reads a depth (+ bookTicker) stream into a LocalBook, checking tickers against the book."""

    def __init__(self, exchange: SimulatedExchange, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.exchange = exchange
        self.ws = ws
        self.local = LocalBook(exchange.instrument("BTCUSDT"))
        self.error: BaseException | None = None
        self.ticker: dict[str, Any] | None = None
        self.ticker_checks = 0
        self.exact_ticker_matches = 0

    async def run(self) -> None:
        try:
            async for message in self.ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                envelope = json.loads(message.data)
                data = envelope.get("data", envelope)
                if "e" not in data:
                    self.ticker = data  # bookTicker has no event type
                    continue
                self.local.on_event(data)
                if self.local.synced and self.ticker is not None and self.local.applied:
                    self.check_ticker(data["u"])
        except (Gap, AssertionError) as error:
            self.error = error

    def check_ticker(self, applied: int) -> None:
        ticker = self.ticker
        assert ticker is not None
        if ticker["u"] > applied or ticker["u"] < self.local.applied[0]:
            return
        instrument = self.local.instrument
        bid, ask = self.local.book.best_bid(), self.local.book.best_ask()
        assert bid == (instrument.price(ticker["b"]), instrument.size(ticker["B"])), (ticker, bid)
        assert ask == (instrument.price(ticker["a"]), instrument.size(ticker["A"])), (ticker, ask)
        self.ticker_checks += 1
        self.exact_ticker_matches += ticker["u"] == applied


@contextlib.asynccontextmanager
async def reading(exchange: SimulatedExchange, path: str) -> AsyncIterator[DepthReader]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        ws = await session.ws_connect(exchange.ws_url + path)
        reader = DepthReader(exchange, ws)
        task = asyncio.create_task(reader.run())
        try:
            yield reader
        finally:
            await ws.close()
            await asyncio.wait_for(task, 5)


async def sync(reader: DepthReader, exchange: SimulatedExchange) -> None:
    """Documented procedure: buffer, snapshot, drop what it covers, apply the rest."""
    async with client(exchange) as api:
        for _ in range(3):
            exchange.flow_step()
            await asyncio.sleep(0.02)
        await eventually(lambda: bool(reader.local.buffer), timeout=5)
        while True:
            snapshot = await api.public("/api/v3/depth", symbol="BTCUSDT", limit=5000)
            if reader.local.load_snapshot(snapshot.body):
                return


async def run_flow(exchange: SimulatedExchange, steps: int) -> None:
    for _ in range(steps):
        exchange.flow_step()
        await asyncio.sleep(0.01)


async def caught_up(reader: DepthReader, exchange: SimulatedExchange) -> None:
    exchange.flush_depth()
    await eventually(lambda: reader.local.book.last_update_id == exchange.update_id("BTCUSDT"), timeout=5)


async def test_depth_stream_and_snapshot_obey_binance_update_id_rules() -> None:
    async with running(MANUAL_FLOW) as exchange, reading(exchange, "/ws/btcusdt@depth@100ms") as reader:
        await sync(reader, exchange)
        await run_flow(exchange, 40)
        await caught_up(reader, exchange)
        assert reader.error is None, reader.error
        truth = exchange.book_levels("BTCUSDT")
        assert reader.local.book.bids() == truth.bids
        assert reader.local.book.asks() == truth.asks
        assert len(truth.bids) >= 20
        assert len(reader.local.applied) >= 3


async def test_skipped_depth_update_shows_as_a_gap() -> None:
    async with running(MANUAL_FLOW) as exchange, reading(exchange, "/ws/btcusdt@depth@100ms") as reader:
        await sync(reader, exchange)
        await run_flow(exchange, 5)
        await caught_up(reader, exchange)
        assert reader.error is None
        exchange.skip_next_depth_update("BTCUSDT")
        exchange.flow_step()
        exchange.flush_depth()  # this window is lost
        exchange.flow_step()
        exchange.flush_depth()
        await eventually(lambda: reader.error is not None, timeout=5)
        assert isinstance(reader.error, Gap)


async def test_book_ticker_update_id_matches_the_depth_stream() -> None:
    path = "/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker"
    async with running(MANUAL_FLOW) as exchange, reading(exchange, path) as reader:
        await sync(reader, exchange)
        for _ in range(60):
            exchange.flow_step()
            exchange.flush_depth()  # one window per step: its last change often moves the top
            await asyncio.sleep(0.01)
        await caught_up(reader, exchange)
        assert reader.error is None, reader.error
        assert reader.ticker_checks > 10
        assert reader.exact_ticker_matches > 0


async def test_slow_depth_stream_chains_too() -> None:
    config = SimConfig(flow=FlowConfig(interval_ms=20), depth_slow_ms=300, depth_fast_ms=100)
    async with running(config) as exchange, client(exchange) as api:
        ws = await api.session.ws_connect(exchange.ws_url + "/ws/ethusdt@depth")
        first, second = await next_json(ws), await next_json(ws)
        assert first["e"] == "depthUpdate"
        assert first["s"] == "ETHUSDT"
        assert second["U"] == first["u"] + 1
        assert all(len(level) == 2 for level in first["b"] + first["a"])
        await ws.close()


async def test_live_subscribe_list_unsubscribe_and_properties() -> None:
    config = SimConfig(flow=FlowConfig(enabled=False), max_incoming_messages_per_second=0)
    async with running(config) as exchange, client(exchange) as api:
        ws = await api.session.ws_connect(exchange.ws_url + "/ws")
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}))
        assert await next_json(ws) == {"result": None, "id": 1}
        await ws.send_str('{"method":"SUBSCRIBE","params":["ethusdt@bookTicker"],"id":2}')
        assert await next_json(ws) == {"result": None, "id": 2}
        await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":3}')
        assert await next_json(ws) == {"result": ["btcusdt@trade", "ethusdt@bookTicker"], "id": 3}
        await ws.send_str('{"method":"UNSUBSCRIBE","params":["ethusdt@bookTicker"],"id":4}')
        assert await next_json(ws) == {"result": None, "id": 4}

        venue = exchange.venue
        venue.flow_limit("BTCUSDT", Side.SELL, 6_000_000, 100)
        venue.flow_market("BTCUSDT", Side.BUY, 40)
        trade = await next_json(ws)
        assert list(trade) == ["e", "E", "s", "t", "p", "q", "T", "m", "M"]
        assert (trade["e"], trade["s"], trade["p"], trade["q"], trade["m"]) == (
            "trade",
            "BTCUSDT",
            "60000.00000000",
            "0.00040000",
            False,
        )

        await ws.send_str('{"method":"SET_PROPERTY","params":["combined",true],"id":5}')
        assert await next_json(ws) == {"result": None, "id": 5}
        await ws.send_str('{"method":"GET_PROPERTY","params":["combined"],"id":6}')
        assert await next_json(ws) == {"result": True, "id": 6}
        venue.flow_market("BTCUSDT", Side.BUY, 10)
        wrapped = await next_json(ws)
        assert wrapped["stream"] == "btcusdt@trade"
        assert wrapped["data"]["t"] == trade["t"] + 1

        await ws.send_str('{"method":"SUBSCRIBEE","params":[],"id":7}')
        error = await next_json(ws)
        assert error["code"] == 2
        assert error["msg"].startswith("Invalid request: unknown variant `SUBSCRIBEE`")
        await ws.send_str("{not json")
        assert (await next_json(ws))["code"] == 3
        await ws.close()


async def test_more_than_five_incoming_messages_a_second_disconnects() -> None:
    async with running() as exchange, client(exchange) as api:
        ws = await api.session.ws_connect(exchange.ws_url + "/ws")
        for index in range(7):
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": index}))
        messages = []
        while True:
            message = await ws.receive(timeout=5)
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            messages.append(message)
        assert len(messages) == 5
        assert ws.closed


async def test_drop_market_connections_keeps_user_streams() -> None:
    async with running(MANUAL_FLOW) as exchange, client(exchange) as api:
        market = [
            await api.session.ws_connect(exchange.ws_url + "/ws/btcusdt@trade"),
            await api.session.ws_connect(exchange.ws_url + "/stream?streams=ethusdt@depth@100ms"),
        ]
        user = await api.session.ws_connect(f"{exchange.ws_url}/ws/{await api.listen_key()}")
        await eventually(lambda: exchange.market_connections == 2, timeout=5)
        assert exchange.drop_market_connections() == 2
        for ws in market:
            message = await ws.receive(timeout=5)
            assert message.type in (
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
                aiohttp.WSMsgType.CLOSE,
            )
        await eventually(lambda: exchange.market_connections == 0, timeout=5)

        await api.order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", price="1000", quantity="0.01"
        )
        assert (await next_event(user, "executionReport"))["x"] == "NEW"

        again = await api.session.ws_connect(exchange.ws_url + "/ws/btcusdt@depth@100ms")
        exchange.flow_step()
        exchange.flush_depth()
        assert (await next_json(again))["e"] == "depthUpdate"
        for ws in [*market, user, again]:
            await ws.close()


async def test_stall_keeps_sockets_open_and_answers_pings_unless_told_not_to() -> None:
    async with running(MANUAL_FLOW) as exchange, client(exchange) as api:
        ws = await api.session.ws_connect(exchange.ws_url + "/ws/btcusdt@depth@100ms", autoping=False)
        exchange.stall_market_streams(True)
        exchange.flow_step()
        exchange.flush_depth()
        with pytest.raises(TimeoutError):
            await ws.receive(timeout=0.3)
        await ws.ping(b"hello")
        pong = await ws.receive(timeout=5)
        assert pong.type is aiohttp.WSMsgType.PONG
        assert pong.data == b"hello"

        exchange.stall_market_streams(True, stall_pings=True)
        await ws.ping(b"anyone?")
        with pytest.raises(TimeoutError):
            await ws.receive(timeout=0.3)
        assert not ws.closed

        exchange.stall_market_streams(False)
        exchange.flow_step()
        exchange.flush_depth()
        assert (await next_json(ws))["e"] == "depthUpdate"
        await ws.close()


async def test_server_pings_and_drops_a_silent_client() -> None:
    config = SimConfig(flow=FlowConfig(enabled=False), ping_interval_s=0.1, pong_timeout_s=0.35)
    async with running(config) as exchange, client(exchange) as api:
        polite = await api.session.ws_connect(exchange.ws_url + "/ws/btcusdt@trade")
        reading_polite = asyncio.create_task(polite.receive())  # aiohttp answers pings while receiving
        silent = await api.session.ws_connect(exchange.ws_url + "/ws/btcusdt@trade", autoping=False)
        assert (await silent.receive(timeout=5)).type is aiohttp.WSMsgType.PING
        while True:
            message = await silent.receive(timeout=5)
            if message.type is not aiohttp.WSMsgType.PING:
                break
        assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
        await eventually(lambda: exchange.market_connections == 1, timeout=5)
        assert not reading_polite.done()
        assert not polite.closed
        await polite.close()
        await asyncio.wait_for(reading_polite, 5)


async def test_flow_fills_resting_orders_near_the_touch_within_seconds() -> None:
    async with running(SimConfig()) as exchange, client(exchange) as api:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for side, index in (("BUY", 0), ("SELL", 0), ("BUY", 2), ("SELL", 2)):
            depth = await api.public("/api/v3/depth", symbol="BTCUSDT", limit=5)
            price = depth.body["bids" if side == "BUY" else "asks"][index][0]
            placed = await api.order(
                symbol="BTCUSDT",
                side=side,
                type="LIMIT",
                timeInForce="GTC",
                price=price,
                quantity="0.001",
                newClientOrderId=f"touch-{side}-{index}",
            )
            assert placed.status == 200, placed.body
        await eventually(lambda: not exchange.open_orders("BTCUSDT"), timeout=20)
        assert loop.time() - started < 20
        assert len(exchange.trades("BTCUSDT")) >= 4


def test_flow_is_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[object]:
        config = SimConfig(flow=FlowConfig(seed=seed, interval_ms=0))
        venue = SimVenue(config, ManualClock())
        flow = SimFlow(venue, config.flow)
        flow.seed_books()
        for _ in range(200):
            flow.step()
        return [(e.update_id, e.bids(), e.asks(), e.last_trade_id) for e in venue.engines.values()]

    assert run(3) == run(3)
    assert run(3) != run(4)
