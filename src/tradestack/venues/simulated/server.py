"""SimulatedExchange: a Binance spot exchange on 127.0.0.1 (REST + WebSocket on one port).

    exchange = SimulatedExchange(SimConfig(), SystemClock())
    await exchange.start()
    api_key, secret = exchange.create_api_key()
    ... exchange.rest_url (https://api.binance.com), exchange.ws_url (wss://stream.binance.com:9443)
    await exchange.stop()

It runs on the caller's event loop: tests and the `tradestack paper` bootstrap share it. Fault
injection hooks and read-only accessors to the venue's truth are for tests.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web

from tradestack.domain.events import Level
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock, SystemClock
from tradestack.venues.simulated.accounts import AccountTrade, Balance, OrderView
from tradestack.venues.simulated.auth import ApiKeys, KeyPermissions
from tradestack.venues.simulated.config import SimConfig
from tradestack.venues.simulated.faults import OrderFaultInjector, OrderFaults
from tradestack.venues.simulated.flow import SimFlow
from tradestack.venues.simulated.key_admin import KeyAdmin
from tradestack.venues.simulated.rest import RestApi
from tradestack.venues.simulated.streams import StreamHub
from tradestack.venues.simulated.user_stream import ListenKeys
from tradestack.venues.simulated.venue import SimVenue
from tradestack.venues.simulated.wire import Wire


@dataclass(frozen=True, slots=True)
class BookLevels:
    """The venue's aggregated book in the instrument's integers, and the update id it is at."""

    symbol: str
    update_id: int
    bids: list[Level]  # best first
    asks: list[Level]


class SimulatedExchange:
    def __init__(self, config: SimConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or SimConfig()
        self.clock: Clock = clock or SystemClock()
        self.venue = SimVenue(self.config, self.clock)
        self.wire = Wire(self.venue.instruments)
        self.keys = ApiKeys(lambda: self.clock.now_ns() // 1_000_000)
        self.listen_keys = ListenKeys(self.config.listen_key_ttl_s, self.clock)
        self.hub = StreamHub(self.config, self.clock, self.venue, self.wire, self.listen_keys)
        self.venue.publisher = self.hub
        self.rest = RestApi(
            self.config, self.clock, self.venue, self.wire, self.keys, self.listen_keys, self.hub
        )
        self.key_admin = KeyAdmin(self.keys, self.rest.signed)
        self.flow = SimFlow(self.venue, self.config.flow)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._port = 0

    # ---- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self.rest.middleware])
        app.add_routes(self.rest.routes())
        app.add_routes(self.key_admin.routes())
        app.add_routes(
            [
                web.get("/ws", self.hub.handle),
                web.get("/ws/{name:.*}", self.hub.handle),
                web.get("/stream", self.hub.handle),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        address = self._runner.addresses[0]
        self._port = int(address[1])
        self.flow.seed_books()
        self._tasks = self.hub.start()
        if self.flow.symbols and self.config.flow.interval_ms > 0:
            self._tasks.append(asyncio.create_task(self._flow_loop(), name="sim-flow"))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        failures = [result for result in results if isinstance(result, Exception)]
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if failures:
            raise failures[0]

    async def __aenter__(self) -> SimulatedExchange:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def rest_url(self) -> str:
        """The REST base URL (Binance: https://api.binance.com); paths are /api/v3/..."""
        return f"http://{self.config.host}:{self._port}"

    @property
    def ws_url(self) -> str:
        """The stream base URL (Binance: wss://stream.binance.com:9443): /ws/<stream>, /stream?streams=."""
        return f"ws://{self.config.host}:{self._port}"

    def create_api_key(
        self, ip_whitelist: tuple[str, ...] = (), label: str = "", can_withdraw: bool = False
    ) -> tuple[str, str]:
        """A new (api_key, secret) pair for the account: trading on, withdrawals off unless asked."""
        return self.keys.create(
            label, KeyPermissions(ip_whitelist=ip_whitelist, enable_withdrawals=can_withdraw)
        )

    def revoke_api_key(self, api_key: str) -> bool:
        """Revoke a key now; requests signed with it get -2015 from here on."""
        return self.keys.revoke(api_key)

    @property
    def admin_token(self) -> str:
        """The token of the sim-only key admin routes (/sim/admin/apiKeys)."""
        return self.key_admin.admin_token

    def add_api_key(self, api_key: str, secret: str, ip_whitelist: tuple[str, ...] = ()) -> None:
        self.keys.add(api_key, secret, ip_whitelist)

    # ---- flow --------------------------------------------------------------------------------------------

    async def _flow_loop(self) -> None:
        interval = self.config.flow.interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            self.flow.step()

    def flow_step(self, steps: int = 1) -> None:
        """Advance the synthetic flow by hand (e.g. with FlowConfig.interval_ms = 0)."""
        for _ in range(steps):
            self.flow.step()

    def flush_depth(self) -> None:
        """Close the current depth windows now (both speeds) instead of waiting for the timers."""
        self.hub.flush_depth("fast")
        self.hub.flush_depth("slow")

    # ---- fault injection ---------------------------------------------------------------------------------

    def drop_market_connections(self) -> int:
        """Abruptly close every market-data socket. Returns how many were open."""
        return self.hub.drop_market_connections()

    def drop_user_connections(self) -> int:
        return self.hub.drop_user_connections()

    def stall_market_streams(self, stalled: bool, stall_pings: bool = False) -> None:
        """Keep market sockets open but send no data (lost, not queued); with stall_pings, no
        pings and no pongs either."""
        self.hub.stall(stalled, stall_pings)

    def skip_next_depth_update(self, symbol: str) -> None:
        """Lose the next depth diff of `symbol` (on both speeds): a client sees a gap in U/u."""
        self.hub.skip_next_depth_update(symbol)

    def set_order_faults(self, faults: OrderFaults | None) -> OrderFaultInjector | None:
        """Seeded faults for POST and DELETE /api/v3/order from now on (None: none). Returns the
        injector, whose `counts` say what was injected."""
        self.rest.faults = OrderFaultInjector(faults) if faults is not None and faults.active else None
        return self.rest.faults

    @property
    def order_faults(self) -> OrderFaultInjector | None:
        return self.rest.faults

    @property
    def market_connections(self) -> int:
        return sum(1 for conn in self.hub.connections if conn.is_market)

    # ---- the venue's truth (read-only) -------------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        return self.venue.instruments[symbol]

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        return self.venue.open_orders(symbol)

    def order_by_client_id(self, client_order_id: str) -> OrderView | None:
        """The latest order accepted with this clientOrderId, open or not."""
        return self.venue.order_by_client_id(client_order_id)

    def order_count(self, client_order_id: str) -> int:
        """How many orders with this clientOrderId the venue ever accepted."""
        return self.venue.accepted_count(client_order_id)

    def accepted_counts(self) -> dict[str, int]:
        """How many orders the venue ever accepted under each clientOrderId it has seen."""
        return self.venue.accepted_counts()

    def trades(self, symbol: str | None = None) -> list[AccountTrade]:
        """Every fill of the account's orders, oldest first."""
        return self.venue.trades(symbol)

    def balances(self) -> dict[str, Balance]:
        """Free and locked per asset, at 8 decimals (ASSET_SCALE)."""
        return self.venue.balances.snapshot()

    def book_levels(self, symbol: str, depth: int | None = None) -> BookLevels:
        engine = self.venue.engines[symbol]
        return BookLevels(symbol, engine.update_id, engine.bids(depth), engine.asks(depth))

    def update_id(self, symbol: str) -> int:
        return self.venue.engines[symbol].update_id
