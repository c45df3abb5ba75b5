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

from dataclasses import dataclass, field

from aiohttp import web

from tradestack.ports import Clock
from tradestack.venues.simulated.accounts import AccountTrade
from tradestack.venues.simulated.config import SimConfig, SymbolConfig
from tradestack.venues.simulated.dialect_server import DialectServer
from tradestack.venues.simulated.server import BookLevels
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


class SimulatedKrakenExchange(DialectServer[KrakenRestApi, KrakenStreamHub]):
    def __init__(self, config: KrakenSimConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or KrakenSimConfig()
        super().__init__(self.config.venue, clock, "kraken")
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

    def _ws_routes(self) -> list[web.RouteDef]:
        return [web.get("/v2", self.hub.handle_public), web.get("/auth/v2", self.hub.handle_private)]

    # ---- addresses and keys --------------------------------------------------------------------------

    @property
    def public_ws_url(self) -> str:
        """Kraken: wss://ws.kraken.com/v2."""
        return self._ws_url("/v2")

    @property
    def private_ws_url(self) -> str:
        """Kraken: wss://ws-auth.kraken.com/v2."""
        return self._ws_url("/auth/v2")

    def create_api_key(self, nonce_window: int = 0) -> ApiKey:
        """A new key for the account: api_key and its base64 secret."""
        return self.keys.create(nonce_window)

    def revoke_api_key(self, api_key: str) -> bool:
        return self.keys.revoke(api_key)

    # ---- faults --------------------------------------------------------------------------------------

    def corrupt_next_checksum(self, symbol: str) -> None:
        self.hub.corrupt_next_checksum(symbol)

    def drop_public_connections(self) -> int:
        return self.hub.drop_connections(private=False)

    def drop_private_connections(self) -> int:
        return self.hub.drop_connections(private=True)

    # ---- the venue's truth (read-only) ---------------------------------------------------------------

    def trade_id(self, trade: AccountTrade) -> str:
        return self.rest.trade_id(trade)

    def book_levels(self, symbol: str, depth: int | None = None) -> BookLevels:
        engine = self.venue.engines[symbol]
        return BookLevels(symbol, 0, engine.bids(depth), engine.asks(depth))
