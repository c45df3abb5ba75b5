"""SimulatedBybitExchange: a Bybit v5 spot exchange on 127.0.0.1 (REST, public and private WebSocket).

    exchange = SimulatedBybitExchange(BybitSimConfig(), SystemClock())
    await exchange.start()
    key = exchange.create_api_key()          # key.api_key, key.secret
    ... exchange.rest_url (https://api.bybit.com), exchange.public_ws_url
    ... (wss://stream.bybit.com/v5/public/spot), exchange.private_ws_url (.../v5/private)
    await exchange.stop()

The venue core (accounts, matching, seeded flow) is the simulated Binance exchange's: only the dialect
differs. It runs on the caller's event loop; fault hooks and read-only views of the venue's truth are
for tests.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from aiohttp import web

from tradestack.ports import Clock
from tradestack.venues.simulated.config import SimConfig, SymbolConfig
from tradestack.venues.simulated.dialect_server import DialectServer
from tradestack.venues.simulated.server import BookLevels
from tradestack.venues.simulated_bybit.auth import ApiKey, BybitKeys, EndpointLimits
from tradestack.venues.simulated_bybit.rest import AccountIndex, BybitRestApi
from tradestack.venues.simulated_bybit.streams import DEPTH, BybitStreamHub
from tradestack.venues.simulated_bybit.wire import BybitWire


def bybit_symbols() -> tuple[SymbolConfig, ...]:
    """BTCUSDT and ETHUSDT with Bybit's spot tick sizes (0.01) and base precisions (0.000001 and
    0.00001): a price times a size fits the core's 8 decimals."""
    return (
        SymbolConfig(
            symbol="BTCUSDT",
            base="BTC",
            quote="USDT",
            tick_size="0.01",
            step_size="0.000001",
            min_qty="0.000048",
            min_notional="0",
            start_price="60000",
            flow_size_min="0.001",
            flow_size_max="0.25",
            flow_depth_ticks=2000,
        ),
        SymbolConfig(
            symbol="ETHUSDT",
            base="ETH",
            quote="USDT",
            tick_size="0.01",
            step_size="0.00001",
            min_qty="0.00062",
            min_notional="0",
            start_price="3000",
            flow_size_min="0.01",
            flow_size_max="4",
            flow_depth_ticks=300,
        ),
    )


@dataclass(frozen=True, slots=True)
class BybitSimConfig:
    venue: SimConfig = field(default_factory=lambda: SimConfig(symbols=bybit_symbols()))
    books_interval_ms: int = 20  # spot orderbook.50 pushes every 20 ms; 0: only flush_books()
    rate_limits: tuple[tuple[str, int], ...] = ()  # ("POST /v5/order/create", 5): replace a limit
    uid: int = field(default_factory=lambda: 100_000_000 + secrets.randbelow(900_000_000))


class SimulatedBybitExchange(DialectServer[BybitRestApi, BybitStreamHub]):
    def __init__(self, config: BybitSimConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or BybitSimConfig()
        super().__init__(self.config.venue, clock, "bybit")
        self._client_ids: dict[str, str] = {}
        self.wire = BybitWire(self.venue.instruments, self._client_ids)
        self.keys = BybitKeys(self.config.uid)
        self.limits = EndpointLimits(dict(self.config.rate_limits))
        self.index = AccountIndex()
        self.rest = BybitRestApi(
            self.clock, self.venue, self.wire, self.keys, self.limits, self.index, self._client_ids
        )
        self.hub = BybitStreamHub(
            self.clock,
            self.venue,
            self.wire,
            self.keys,
            self.index,
            books_interval_ms=self.config.books_interval_ms,
        )
        self.venue.publisher = self.hub

    def _ws_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v5/public/spot", self.hub.handle_public),
            web.get("/v5/private", self.hub.handle_private),
        ]

    # ---- addresses and keys --------------------------------------------------------------------------

    @property
    def public_ws_url(self) -> str:
        """Bybit: wss://stream.bybit.com/v5/public/spot."""
        return self._ws_url("/v5/public/spot")

    @property
    def private_ws_url(self) -> str:
        """Bybit: wss://stream.bybit.com/v5/private."""
        return self._ws_url("/v5/private")

    def create_api_key(
        self,
        ips: tuple[str, ...] = ("*",),
        permissions: dict[str, list[str]] | None = None,
        read_only: bool = False,
    ) -> ApiKey:
        """A new key for the account: spot trading only unless `permissions` say otherwise."""
        return self.keys.create(ips, permissions, read_only)

    def revoke_api_key(self, api_key: str) -> bool:
        return self.keys.revoke(api_key)

    # ---- faults --------------------------------------------------------------------------------------

    def skip_next_books_update(self, symbol: str) -> None:
        self.hub.skip_next_books_update(symbol)

    def drop_public_connections(self) -> int:
        return self.hub.drop_connections(private=False)

    def drop_private_connections(self) -> int:
        return self.hub.drop_connections(private=True)

    @property
    def public_connections(self) -> int:
        return sum(1 for conn in self.hub.connections if not conn.private)

    @property
    def private_connections(self) -> int:
        return sum(1 for conn in self.hub.connections if conn.private)

    # ---- the venue's truth (read-only) ---------------------------------------------------------------

    def book_levels(self, symbol: str, depth: int = DEPTH) -> BookLevels:
        """The venue's top `depth` levels (after flush_books: what orderbook.50 last published), and
        the symbol's last `u`."""
        engine = self.venue.engines[symbol]
        return BookLevels(symbol, self.hub.update_id[symbol], engine.bids(depth), engine.asks(depth))
