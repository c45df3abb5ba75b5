"""SimulatedCoinbaseExchange: a Coinbase Exchange on 127.0.0.1 (REST and the ws-feed, public and `user`).

    exchange = SimulatedCoinbaseExchange(CoinbaseSimConfig(), SystemClock())
    await exchange.start()
    key = exchange.create_api_key()          # key.api_key, key.secret (base64), key.passphrase
    ... exchange.rest_url (https://api.exchange.coinbase.com),
    ... exchange.ws_url (wss://ws-feed.exchange.coinbase.com)
    await exchange.stop()

The venue core (accounts, matching, seeded flow) is the simulated Binance exchange's: only the dialect
differs. It runs on the caller's event loop; fault hooks and read-only views of the venue's truth are
for tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from tradestack.ports import Clock
from tradestack.venues.simulated.accounts import OrderView
from tradestack.venues.simulated.config import SimConfig, SymbolConfig
from tradestack.venues.simulated.dialect_server import DialectServer
from tradestack.venues.simulated.server import BookLevels
from tradestack.venues.simulated_coinbase.auth import ApiKey, CoinbaseKeys
from tradestack.venues.simulated_coinbase.limits import TokenBuckets
from tradestack.venues.simulated_coinbase.rest import CoinbaseRestApi
from tradestack.venues.simulated_coinbase.streams import CoinbaseStreamHub
from tradestack.venues.simulated_coinbase.wire import CoinbaseWire


def coinbase_symbols() -> tuple[SymbolConfig, ...]:
    """BTC-USD and ETH-USD with Coinbase's quote increments (0.01); base increments coarser than
    Coinbase's 1e-8 so a price times a size fits the core's 8 decimals."""
    return (
        SymbolConfig(
            symbol="BTC-USD",
            base="BTC",
            quote="USD",
            tick_size="0.01",
            step_size="0.000001",
            min_qty="0.000001",
            min_notional="0",
            start_price="60000",
            flow_size_min="0.001",
            flow_size_max="0.25",
            flow_depth_ticks=2000,
        ),
        SymbolConfig(
            symbol="ETH-USD",
            base="ETH",
            quote="USD",
            tick_size="0.01",
            step_size="0.000001",
            min_qty="0.0001",
            min_notional="0",
            start_price="3000",
            flow_size_min="0.01",
            flow_size_max="4",
            flow_depth_ticks=300,
        ),
    )


def _venue() -> SimConfig:
    return SimConfig(symbols=coinbase_symbols(), balances=(("BTC", "1"), ("ETH", "10"), ("USD", "100000")))


@dataclass(frozen=True, slots=True)
class CoinbaseSimConfig:
    venue: SimConfig = field(default_factory=_venue)
    batch_interval_ms: int = 50  # level2_batch; 0: only flush_books()
    heartbeat_interval_ms: int = 1000  # 0: only send_heartbeats()
    subscribe_timeout_s: float = 5.0  # Coinbase closes a connection that has not subscribed by then
    timestamp_tolerance_s: float = 30.0
    rate_limits: tuple[tuple[str, int, int], ...] = ()  # ("private", rate/s, burst): replace a budget
    profile_id: str = "8058d771-2d88-4f0f-ab6e-299c153d4308"
    user_id: str = "5844eceecf7e803e259d0365"


class SimulatedCoinbaseExchange(DialectServer[CoinbaseRestApi, CoinbaseStreamHub]):
    def __init__(self, config: CoinbaseSimConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or CoinbaseSimConfig()
        super().__init__(self.config.venue, clock, "coinbase")
        self.wire = CoinbaseWire(self.venue.instruments, self.config.profile_id, self.config.user_id)
        self.keys = CoinbaseKeys(
            self.config.profile_id, self.config.user_id, int(self.config.timestamp_tolerance_s * 1e9)
        )
        self.limits = TokenBuckets({name: (rate, burst) for name, rate, burst in self.config.rate_limits})
        self.rest = CoinbaseRestApi(self.clock, self.venue, self.wire, self.keys, self.limits)
        self.hub = CoinbaseStreamHub(
            self.clock,
            self.venue,
            self.wire,
            self.keys,
            self.rest.fills_of,
            self.rest.assign_id,
            batch_interval_ms=self.config.batch_interval_ms,
            heartbeat_interval_ms=self.config.heartbeat_interval_ms,
            subscribe_timeout_s=self.config.subscribe_timeout_s,
        )
        self.rest.sequence_of = self.hub.sequence.__getitem__
        self.venue.publisher = self.hub

    def _ws_routes(self) -> list[web.RouteDef]:
        return [web.get("/", self.hub.handle)]

    # ---- addresses and keys --------------------------------------------------------------------------

    @property
    def ws_url(self) -> str:
        """The ws-feed, public channels and `user` alike (Coinbase: wss://ws-feed.exchange.coinbase.com)."""
        return self._ws_url("/")

    def create_api_key(self, passphrase: str = "") -> ApiKey:
        """A new key for the profile: api_key, secret (base64), passphrase (random if "")."""
        return self.keys.create(passphrase)

    def revoke_api_key(self, api_key: str) -> bool:
        return self.keys.revoke(api_key)

    # ---- faults --------------------------------------------------------------------------------------

    def send_heartbeats(self) -> None:
        self.hub.send_heartbeats()

    def pause_heartbeats(self, paused: bool = True) -> None:
        self.hub.heartbeats_paused = paused

    def lose_next_trade(self, symbol: str) -> None:
        """Public messages of `symbol` are lost until one trade's `match` was: a trade-id gap."""
        self.hub.lose_next_trade(symbol)

    def drop_connections(self) -> int:
        return self.hub.drop_connections()

    @property
    def connections(self) -> int:
        return len(self.hub.connections)

    # ---- the venue's truth (read-only) ---------------------------------------------------------------

    # Coinbase calls the client order id `client_oid`.
    def order_by_client_oid(self, client_oid: str) -> OrderView | None:
        return self.venue.order_by_client_id(client_oid)

    def order_count(self, client_oid: str) -> int:
        return self.venue.accepted_count(client_oid)

    def book_levels(self, symbol: str, depth: int | None = None) -> BookLevels:
        """The venue's book, and the product's sequence now."""
        engine = self.venue.engines[symbol]
        return BookLevels(symbol, self.hub.sequence[symbol], engine.bids(depth), engine.asks(depth))
