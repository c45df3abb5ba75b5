"""DialectServer: the shell the OKX, Coinbase, Bybit, Kraken and Binance futures simulators share.

    class SimulatedXxxExchange(DialectServer[XxxRestApi, XxxStreamHub]):
        def __init__(self, config: XxxSimConfig | None = None, clock: Clock | None = None) -> None:
            self.config = config or XxxSimConfig()
            super().__init__(self.config.venue, clock, "xxx")  # clock, venue, flow
            ...                                                 # wire, keys, rest, hub
            self.venue.publisher = self.hub

        def _ws_routes(self) -> list[web.RouteDef]:
            return [web.get("/ws", self.hub.handle)]

One aiohttp app on the venue's host and port (the dialect's REST routes behind its middleware, and its
WebSocket routes), the seeded flow stepping on a timer, the hub's tasks, and read-only views of the
venue's truth for tests. A subclass keeps only its dialect: wire, keys, REST API, hub, WebSocket
paths, key creation and fault hooks.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler

from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock, SystemClock
from tradestack.venues.simulated.accounts import AccountTrade, Balance, OrderView
from tradestack.venues.simulated.config import SimConfig
from tradestack.venues.simulated.flow import SimFlow
from tradestack.venues.simulated.venue import SimVenue


class DialectRest(Protocol):
    """What the shell needs of a dialect's REST API."""

    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse: ...

    def routes(self) -> list[web.RouteDef]: ...


class DialectHub(Protocol):
    """What the shell needs of a dialect's stream hub."""

    def start(self) -> list[asyncio.Task[None]]: ...

    def flush_books(self) -> None: ...

    async def close_all(self) -> None: ...


RestT = TypeVar("RestT", bound=DialectRest)
HubT = TypeVar("HubT", bound=DialectHub)


class DialectServer(ABC, Generic[RestT, HubT]):
    # Set by the subclass once its dialect is built: they need the venue first.
    rest: RestT
    hub: HubT

    def __init__(self, venue: SimConfig, clock: Clock | None, name: str) -> None:
        self.clock: Clock = clock or SystemClock()
        self.venue = self._make_venue(venue)
        self.flow = SimFlow(self.venue, venue.flow)
        self._name = name
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._port = 0

    def _make_venue(self, config: SimConfig) -> SimVenue:
        """The matching core and accounts (the futures simulator settles its own way)."""
        return SimVenue(config, self.clock)

    @abstractmethod
    def _ws_routes(self) -> list[web.RouteDef]:
        """The dialect's WebSocket paths and their hub handlers."""

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self.rest.middleware])
        app.add_routes(self.rest.routes())
        app.add_routes(self._ws_routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.venue.config.host, self.venue.config.port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self.flow.seed_books()
        self.hub.flush_books()  # the seeded book is the starting point, not an update
        self._tasks = self.hub.start()
        if self.flow.symbols and self.venue.config.flow.interval_ms > 0:
            self._tasks.append(asyncio.create_task(self._flow_loop(), name=f"{self._name}-sim-flow"))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        failures = [result for result in results if isinstance(result, Exception)]
        if failures:
            raise failures[0]

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()

    async def _flow_loop(self) -> None:
        interval = self.venue.config.flow.interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            self.flow.step()

    # ---- addresses -----------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def rest_url(self) -> str:
        """The REST base URL, standing in for the venue's https:// host."""
        return f"http://{self.venue.config.host}:{self._port}"

    def _ws_url(self, path: str) -> str:
        return f"ws://{self.venue.config.host}:{self._port}{path}"

    # ---- the flow ------------------------------------------------------------------------------------

    def flow_step(self, steps: int = 1) -> None:
        for _ in range(steps):
            self.flow.step()

    def flush_books(self) -> None:
        """Push the pending book updates now instead of waiting for the hub's timer."""
        self.hub.flush_books()

    # ---- the venue's truth (read-only) ---------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        return self.venue.instruments[symbol]

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        return self.venue.open_orders(symbol)

    def order_by_client_id(self, client_order_id: str) -> OrderView | None:
        return self.venue.order_by_client_id(client_order_id)

    def order_count(self, client_order_id: str) -> int:
        return self.venue.accepted_count(client_order_id)

    def trades(self, symbol: str | None = None) -> list[AccountTrade]:
        return self.venue.trades(symbol)

    def balances(self) -> dict[str, Balance]:
        return self.venue.balances.snapshot()
