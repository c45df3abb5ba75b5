"""SimulatedBinanceFuturesExchange: a Binance USD-M (or COIN-M) futures exchange on 127.0.0.1.

    exchange = SimulatedBinanceFuturesExchange(FuturesSimConfig(), SystemClock())
    await exchange.start()
    api_key, secret = exchange.create_api_key()
    ... exchange.rest_url (https://fapi.binance.com), exchange.ws_url (wss://fstream.binance.com)
    await exchange.stop()

The matching core, the seeded flow, keys and listen keys are the simulated spot exchange's; the
account settles as a one-way futures account (venue.py) and speaks the /fapi dialect, or with
`FuturesSimConfig.coinm()` the /dapi one over inverse contracts (dapi.binance.com,
dstream.binance.com).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from types import TracebackType

from aiohttp import web

from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock, SystemClock
from tradestack.venues.simulated.accounts import AccountTrade, Balance, OrderView
from tradestack.venues.simulated.auth import ApiKeys, KeyPermissions
from tradestack.venues.simulated.config import SimConfig, SymbolConfig
from tradestack.venues.simulated.flow import SimFlow
from tradestack.venues.simulated.server import BookLevels
from tradestack.venues.simulated.user_stream import ListenKeys
from tradestack.venues.simulated_binance_futures.rest import FuturesLimits, FuturesRestApi
from tradestack.venues.simulated_binance_futures.streams import FuturesStreamHub
from tradestack.venues.simulated_binance_futures.venue import FuturesSimVenue, PositionView
from tradestack.venues.simulated_binance_futures.wire import FuturesWire

MARGIN_BALANCES = (("USDT", "100000"),)  # a futures wallet holds margin only
COIN_MARGIN_BALANCES = (("BTC", "10"), ("ETH", "100"))
COINM_CONTRACT_SIZES = (("BTCUSD_PERP", 100), ("ETHUSD_PERP", 10))  # USD per contract


def futures_symbols() -> tuple[SymbolConfig, ...]:
    """BTCUSDT and ETHUSDT perpetuals with USD-M's filters (ticks 0.10 and 0.01, steps 0.001)."""
    return (
        SymbolConfig(
            symbol="BTCUSDT",
            base="BTC",
            quote="USDT",
            tick_size="0.1",
            step_size="0.001",
            min_qty="0.001",
            min_notional="100",
            max_qty="1000",
            start_price="60000",
            flow_size_min="0.01",
            flow_size_max="2",
            flow_depth_ticks=2000,
        ),
        SymbolConfig(
            symbol="ETHUSDT",
            base="ETH",
            quote="USDT",
            tick_size="0.01",
            step_size="0.001",
            min_qty="0.001",
            min_notional="20",
            max_qty="10000",
            start_price="3000",
            flow_size_min="0.1",
            flow_size_max="20",
            flow_depth_ticks=300,
        ),
    )


def coinm_symbols() -> tuple[SymbolConfig, ...]:
    """BTCUSD_PERP and ETHUSD_PERP: inverse perpetuals sized in whole contracts (100 and 10 USD)."""
    return (
        SymbolConfig(
            symbol="BTCUSD_PERP",
            base="BTC",
            quote="USD",
            tick_size="0.1",
            step_size="1",
            min_qty="1",
            min_notional="0",
            max_qty="100000",
            start_price="60000",
            flow_size_min="1",
            flow_size_max="200",
            flow_depth_ticks=2000,
        ),
        SymbolConfig(
            symbol="ETHUSD_PERP",
            base="ETH",
            quote="USD",
            tick_size="0.01",
            step_size="1",
            min_qty="1",
            min_notional="0",
            max_qty="1000000",
            start_price="3000",
            flow_size_min="1",
            flow_size_max="400",
            flow_depth_ticks=300,
        ),
    )


@dataclass(frozen=True, slots=True)
class FuturesSimConfig:
    venue: SimConfig = field(
        default_factory=lambda: SimConfig(symbols=futures_symbols(), balances=MARGIN_BALANCES)
    )
    leverage: int = 20
    weight_per_minute: int = 2400  # the published REQUEST_WEIGHT per minute
    orders_per_10s: int = 300
    orders_per_minute: int = 1200
    contract_sizes: tuple[tuple[str, int], ...] = ()  # the inverse (COIN-M) symbols, USD per contract

    @property
    def coin_margined(self) -> bool:
        return bool(self.contract_sizes)

    @classmethod
    def coinm(cls, venue: SimConfig | None = None) -> FuturesSimConfig:
        """COIN-M: /dapi, inverse contracts margined in their coin."""
        venue = venue or SimConfig(symbols=coinm_symbols(), balances=COIN_MARGIN_BALANCES)
        return cls(venue=venue, contract_sizes=COINM_CONTRACT_SIZES)


class SimulatedBinanceFuturesExchange:
    def __init__(self, config: FuturesSimConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or FuturesSimConfig()
        contract_sizes = dict(self.config.contract_sizes)
        venue_config = self.config.venue
        margin = {s.base if s.symbol in contract_sizes else s.quote for s in venue_config.symbols}
        # a wallet holds margin assets only (spot defaults list coins a USD-M wallet does not hold)
        venue_config = replace(
            venue_config, balances=tuple(b for b in venue_config.balances if b[0] in margin)
        )
        self.clock: Clock = clock or SystemClock()
        self.venue = FuturesSimVenue(venue_config, self.clock, self.config.leverage, contract_sizes)
        self.wire = FuturesWire(self.venue.instruments, contract_sizes)
        self.keys = ApiKeys(lambda: self.clock.now_ns() // 1_000_000)
        self.listen_keys = ListenKeys(venue_config.listen_key_ttl_s, self.clock)
        self.hub = FuturesStreamHub(venue_config, self.clock, self.venue, self.wire, self.listen_keys)
        self.venue.publisher = self.hub
        self.rest = FuturesRestApi(
            self.clock,
            self.venue,
            self.wire,
            self.keys,
            self.listen_keys,
            self.hub,
            FuturesLimits(
                self.config.weight_per_minute, self.config.orders_per_10s, self.config.orders_per_minute
            ),
            venue_config.id_seed,
            prefix="dapi" if self.config.coin_margined else "fapi",
        )
        self.flow = SimFlow(self.venue, venue_config.flow)
        self._venue_config = venue_config
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._port = 0

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self.rest.middleware])
        app.add_routes(self.rest.routes())
        app.add_routes(
            [
                web.get("/ws", self.hub.handle),
                web.get("/ws/{name:.*}", self.hub.handle),
                web.get("/stream", self.hub.handle),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._venue_config.host, self._venue_config.port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self.flow.seed_books()
        self._tasks = self.hub.start()
        if self.flow.symbols and self._venue_config.flow.interval_ms > 0:
            self._tasks.append(asyncio.create_task(self._flow_loop(), name="futures-sim-flow"))

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

    async def __aenter__(self) -> SimulatedBinanceFuturesExchange:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()

    async def _flow_loop(self) -> None:
        interval = self._venue_config.flow.interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            self.flow.step()

    # ---- addresses and keys ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def rest_url(self) -> str:
        """The REST base URL (USD-M: https://fapi.binance.com, COIN-M: https://dapi.binance.com)."""
        return f"http://{self._venue_config.host}:{self._port}"

    @property
    def ws_url(self) -> str:
        """The stream base URL (wss://fstream.binance.com, wss://dstream.binance.com): /ws/<listenKey>,
        /stream?streams=."""
        return f"ws://{self._venue_config.host}:{self._port}"

    def create_api_key(self, ip_whitelist: tuple[str, ...] = (), label: str = "") -> tuple[str, str]:
        """A new (api_key, secret) pair: trading on, withdrawals off."""
        return self.keys.create(label, KeyPermissions(ip_whitelist=ip_whitelist))

    # ---- the flow and faults -----------------------------------------------------------------------

    def flow_step(self, steps: int = 1) -> None:
        for _ in range(steps):
            self.flow.step()

    def flush_depth(self) -> None:
        self.hub.flush_depth("fast")
        self.hub.flush_depth("slow")

    def skip_next_depth_update(self, symbol: str) -> None:
        """Lose the next depth diff of `symbol`: a client sees pu != its last u."""
        self.hub.skip_next_depth_update(symbol)

    def drop_user_connections(self) -> int:
        return self.hub.drop_user_connections()

    # ---- the venue's truth (read-only) -------------------------------------------------------------

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

    def position(self, symbol: str) -> PositionView:
        return self.venue.position(symbol)

    def book_levels(self, symbol: str, depth: int | None = None) -> BookLevels:
        engine = self.venue.engines[symbol]
        return BookLevels(symbol, engine.update_id, engine.bids(depth), engine.asks(depth))
