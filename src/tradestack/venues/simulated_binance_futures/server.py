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

from dataclasses import dataclass, field, replace

from aiohttp import web

from tradestack.ports import Clock
from tradestack.venues.simulated.auth import ApiKeys, KeyPermissions
from tradestack.venues.simulated.config import SimConfig, SymbolConfig
from tradestack.venues.simulated.dialect_server import DialectServer
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


class SimulatedBinanceFuturesExchange(DialectServer[FuturesRestApi, FuturesStreamHub]):
    venue: FuturesSimVenue

    def __init__(self, config: FuturesSimConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or FuturesSimConfig()
        self._contract_sizes = dict(self.config.contract_sizes)
        venue_config = self.config.venue
        margin = {s.base if s.symbol in self._contract_sizes else s.quote for s in venue_config.symbols}
        # a wallet holds margin assets only (spot defaults list coins a USD-M wallet does not hold)
        venue_config = replace(
            venue_config, balances=tuple(b for b in venue_config.balances if b[0] in margin)
        )
        super().__init__(venue_config, clock, "futures")
        self.wire = FuturesWire(self.venue.instruments, self._contract_sizes)
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

    def _make_venue(self, config: SimConfig) -> FuturesSimVenue:
        return FuturesSimVenue(config, self.clock, self.config.leverage, self._contract_sizes)

    def _ws_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ws", self.hub.handle),
            web.get("/ws/{name:.*}", self.hub.handle),
            web.get("/stream", self.hub.handle),
        ]

    # ---- addresses and keys ------------------------------------------------------------------------

    @property
    def ws_url(self) -> str:
        """The stream base URL (wss://fstream.binance.com, wss://dstream.binance.com): /ws/<listenKey>,
        /stream?streams=."""
        return self._ws_url("")

    def create_api_key(self, ip_whitelist: tuple[str, ...] = (), label: str = "") -> tuple[str, str]:
        """A new (api_key, secret) pair: trading on, withdrawals off."""
        return self.keys.create(label, KeyPermissions(ip_whitelist=ip_whitelist))

    # ---- the flow and faults -----------------------------------------------------------------------

    def flush_depth(self) -> None:
        self.hub.flush_books()

    def skip_next_depth_update(self, symbol: str) -> None:
        """Lose the next depth diff of `symbol`: a client sees pu != its last u."""
        self.hub.skip_next_depth_update(symbol)

    def drop_user_connections(self) -> int:
        return self.hub.drop_user_connections()

    # ---- the venue's truth (read-only) -------------------------------------------------------------

    def position(self, symbol: str) -> PositionView:
        return self.venue.position(symbol)

    def book_levels(self, symbol: str, depth: int | None = None) -> BookLevels:
        engine = self.venue.engines[symbol]
        return BookLevels(symbol, engine.update_id, engine.bids(depth), engine.asks(depth))
