"""A minimal Binance client for testing the simulated exchange over loopback sockets.

It signs on its own (hmac + hashlib here, never the sim's verifier) and keeps a local book with the
procedure Binance documents for diff depth streams ("How to manage a local order book correctly").
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

TIMEOUT = aiohttp.ClientTimeout(total=10)
QUIET = FlowConfig(enabled=False)


@asynccontextmanager
async def running(
    config: SimConfig | None = None, clock: Clock | None = None
) -> AsyncIterator[SimulatedExchange]:
    exchange = SimulatedExchange(config or SimConfig(flow=QUIET), clock)
    await asyncio.wait_for(exchange.start(), 10)
    try:
        yield exchange
    finally:
        await asyncio.wait_for(exchange.stop(), 10)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


class Client:
    def __init__(self, session: aiohttp.ClientSession, exchange: SimulatedExchange, key: str, secret: str):
        self.session = session
        self.exchange = exchange
        self.key = key
        self.secret = secret

    def timestamp(self) -> int:
        return self.exchange.clock.now_ns() // 1_000_000

    async def public(self, path: str, **params: Any) -> Reply:
        url = self.exchange.rest_url + path
        async with self.session.get(url, params={k: str(v) for k, v in params.items()}) as response:
            return Reply(response.status, dict(response.headers), await response.json())

    async def signed(
        self,
        method: str,
        path: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        **params: Any,
    ) -> Reply:
        params["timestamp"] = self.timestamp() if timestamp is None else timestamp
        payload = urlencode({k: str(v) for k, v in params.items()})
        signature = hmac.new((secret or self.secret).encode(), payload.encode(), hashlib.sha256).hexdigest()
        query = f"{payload}&signature={signature}"
        headers = {"X-MBX-APIKEY": self.key}
        url = self.exchange.rest_url + path
        if method == "GET":
            request = self.session.request(method, f"{url}?{query}", headers=headers)
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            request = self.session.request(method, url, data=query, headers=headers)
        async with request as response:
            return Reply(response.status, dict(response.headers), await response.json())

    async def order(self, **params: Any) -> Reply:
        return await self.signed("POST", "/api/v3/order", **params)

    async def listen_key(self) -> str:
        url = self.exchange.rest_url + "/api/v3/userDataStream"
        async with self.session.post(url, headers={"X-MBX-APIKEY": self.key}) as response:
            body = await response.json()
            return str(body["listenKey"])


@asynccontextmanager
async def client(exchange: SimulatedExchange) -> AsyncIterator[Client]:
    key, secret = exchange.create_api_key()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        yield Client(session, exchange, key, secret)


async def next_json(ws: aiohttp.ClientWebSocketResponse, within: float = 5.0) -> Any:
    message = await asyncio.wait_for(ws.receive(), within)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str, within: float = 5.0) -> Any:
    """The next user-stream event of type `kind` (skipping others)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        event = await next_json(ws, max(0.01, deadline - loop.time()))
        if event.get("e") == kind:
            return event


class Gap(Exception):
    """The diff stream skipped update ids: the documented procedure says resync."""


@dataclass
class LocalBook:
    """Binance's documented local book procedure for <symbol>@depth streams."""

    instrument: Instrument
    book: OrderBook = field(init=False)
    buffer: list[dict[str, Any]] = field(default_factory=list)
    synced: bool = False
    applied: list[int] = field(default_factory=list)  # final update id of each applied event

    def __post_init__(self) -> None:
        self.book = OrderBook(self.instrument.symbol)

    def levels(self, raw: list[list[str]]) -> list[tuple[int, int]]:
        return [(self.instrument.price(p), self.instrument.size(q)) for p, q in raw]

    def on_event(self, event: dict[str, Any]) -> None:
        if not self.synced:
            self.buffer.append(event)
            return
        self.apply(event)

    def load_snapshot(self, snapshot: dict[str, Any]) -> bool:
        """Steps 4-6; False if the snapshot is older than the first buffered event (fetch again)."""
        last = snapshot["lastUpdateId"]
        if self.buffer and last < self.buffer[0]["U"]:
            return False
        self.book.load(self.levels(snapshot["bids"]), self.levels(snapshot["asks"]), last)
        self.synced = True
        pending = [event for event in self.buffer if event["u"] > last]
        self.buffer.clear()
        if pending:
            first = pending[0]
            if not first["U"] <= last + 1 <= first["u"]:
                raise Gap(f"first event [{first['U']}, {first['u']}] does not cover {last + 1}")
        for event in pending:
            self.apply(event)
        return True

    def apply(self, event: dict[str, Any]) -> None:
        local = self.book.last_update_id
        if event["u"] <= local:
            return  # older than what we have
        if event["U"] > local + 1:
            raise Gap(f"expected {local + 1}, got [{event['U']}, {event['u']}]")
        self.book.apply(self.levels(event["b"]), self.levels(event["a"]), event["u"])
        self.applied.append(event["u"])
