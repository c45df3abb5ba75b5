"""SimulatedKrakenExchange: a Kraken spot exchange on 127.0.0.1 (REST, public and private WebSocket v2).

    exchange = SimulatedKrakenExchange(KrakenSimConfig(), SystemClock())
    await exchange.start()
    key = exchange.create_api_key()          # key.api_key, key.secret (base64)
    ... exchange.rest_url (https://api.kraken.com), exchange.public_ws_url (wss://ws.kraken.com/v2),
    ... exchange.private_ws_url (wss://ws-auth.kraken.com/v2)
    await exchange.stop()

The venue core (accounts, matching, seeded flow) is the simulated Binance exchange's: only the dialect
differs. Symbols are WebSocket v2 names ("BTC/USDT"); REST names pairs by altname ("XBTUSDT").
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web

from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock, SystemClock
from tradestack.venues.simulated.accounts import AccountTrade, Balance, OrderView
from tradestack.venues.simulated.config import SimConfig, SymbolConfig
from tradestack.venues.simulated.flow import SimFlow
from tradestack.venues.simulated.server import BookLevels
from tradestack.venues.simulated.venue import SimVenue
from tradestack.venues.simulated_kraken.auth import ApiKey, KrakenKeys
from tradestack.venues.simulated_kraken.limits import CallCounters, Limits
from tradestack.venues.simulated_kraken.rest import KrakenRestApi
from tradestack.venues.simulated_kraken.streams import KrakenStreamHub
from tradestack.venues.simulated_kraken.wire import KrakenWire


def kraken_symbols() -> tuple[SymbolConfig, ...]:
    """BTC/USDT and ETH/USDT with Kraken's pair_decimals (1 and 2); lot decimals coarser than
    Kraken's 8 so a price times a size fits the core's 8 decimals."""
    return (
        SymbolConfig(
            symbol="BTC/USDT",
            base="BTC",
            quote="USDT",
            tick_size="0.1",
            step_size="0.00001",
            min_qty="0.00005",
            min_notional="0",
            start_price="60000",
            flow_size_min="0.001",
            flow_size_max="0.25",
            flow_depth_ticks=200,
        ),
        SymbolConfig(
            symbol="ETH/USDT",
            base="ETH",
            quote="USDT",
            tick_size="0.01",
            step_size="0.000001",
            min_qty="0.002",
            min_notional="0",
            start_price="3000",
            flow_size_min="0.01",
            flow_size_max="4",
            flow_depth_ticks=300,
        ),
    )


@dataclass(frozen=True, slots=True)
class KrakenSimConfig:
    venue: SimConfig = field(default_factory=lambda: SimConfig(symbols=kraken_symbols()))
    book_interval_ms: int = 100  # `book` updates are batched this often; 0: only flush_books()
    heartbeat_s: float = 1.0
    limits: Limits = field(default_factory=Limits)  # the starter tier


class SimulatedKrakenExchange:
    def __init__(self, config: KrakenSimConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or KrakenSimConfig()
        self.clock: Clock = clock or SystemClock()
        self.venue = SimVenue(self.config.venue, self.clock)
        self.wire = KrakenWire(self.venue.instruments)
        self.keys = KrakenKeys()
        self.counters = CallCounters(self.config.limits)
        self.rest = KrakenRestApi(self.clock, self.venue, self.wire, self.keys, self.counters)
        self.hub = KrakenStreamHub(
            self.clock,
            self.venue,
            self.wire,
            self.keys,
            self.rest.txid,
            self.rest.trade_id,
            book_interval_ms=self.config.book_interval_ms,
            heartbeat_s=self.config.heartbeat_s,
        )
        self.venue.publisher = self.hub
        self.flow = SimFlow(self.venue, self.config.venue.flow)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._port = 0

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self.rest.middleware])
        app.add_routes(self.rest.routes())
        app.add_routes([web.get("/v2", self.hub.handle_public), web.get("/auth/v2", self.hub.handle_private)])
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.venue.host, self.config.venue.port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self.flow.seed_books()
        self.hub.flush_books()
        self._tasks = self.hub.start()
        flow = self.config.venue.flow
        if self.flow.symbols and flow.interval_ms > 0:
            self._tasks.append(asyncio.create_task(self._flow_loop(), name="kraken-sim-flow"))

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

    async def __aenter__(self) -> SimulatedKrakenExchange:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()

    async def _flow_loop(self) -> None:
        interval = self.config.venue.flow.interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            self.flow.step()

    # ---- addresses and keys --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def rest_url(self) -> str:
        """Kraken: https://api.kraken.com (paths /0/public/..., /0/private/...)."""
        return f"http://{self.config.venue.host}:{self._port}"

    @property
    def public_ws_url(self) -> str:
        """Kraken: wss://ws.kraken.com/v2."""
        return f"ws://{self.config.venue.host}:{self._port}/v2"

    @property
    def private_ws_url(self) -> str:
        """Kraken: wss://ws-auth.kraken.com/v2."""
        return f"ws://{self.config.venue.host}:{self._port}/auth/v2"

    def create_api_key(self, nonce_window: int = 0) -> ApiKey:
        """A new key for the account: api_key and its base64 secret."""
        return self.keys.create(nonce_window)

    def revoke_api_key(self, api_key: str) -> bool:
        return self.keys.revoke(api_key)

    # ---- the flow and faults -------------------------------------------------------------------------

    def flow_step(self, steps: int = 1) -> None:
        for _ in range(steps):
            self.flow.step()

    def flush_books(self) -> None:
        self.hub.flush_books()

    def corrupt_next_checksum(self, symbol: str) -> None:
        self.hub.corrupt_next_checksum(symbol)

    def drop_public_connections(self) -> int:
        return self.hub.drop_connections(private=False)

    def drop_private_connections(self) -> int:
        return self.hub.drop_connections(private=True)

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

    def trade_id(self, trade: AccountTrade) -> str:
        return self.rest.trade_id(trade)

    def balances(self) -> dict[str, Balance]:
        return self.venue.balances.snapshot()

    def book_levels(self, symbol: str, depth: int | None = None) -> BookLevels:
        engine = self.venue.engines[symbol]
        return BookLevels(symbol, 0, engine.bids(depth), engine.asks(depth))
