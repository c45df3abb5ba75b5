"""SimulatedOkxExchange: an OKX v5 spot exchange on 127.0.0.1 (REST, public and private WebSocket).

    exchange = SimulatedOkxExchange(OkxSimConfig(), SystemClock())
    await exchange.start()
    key = exchange.create_api_key()          # key.api_key, key.secret, key.passphrase
    ... exchange.rest_url (https://www.okx.com), exchange.public_ws_url
    ... (wss://ws.okx.com:8443/ws/v5/public), exchange.private_ws_url (.../ws/v5/private)
    await exchange.stop()

The venue core (accounts, matching, seeded flow) is the simulated Binance exchange's: only the dialect
differs. It runs on the caller's event loop; fault hooks and read-only views of the venue's truth are
for tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from tradestack.ports import Clock
from tradestack.venues.simulated.config import SimConfig, SymbolConfig
from tradestack.venues.simulated.dialect_server import DialectServer
from tradestack.venues.simulated.server import BookLevels
from tradestack.venues.simulated_okx.auth import ApiKey, OkxKeys
from tradestack.venues.simulated_okx.limits import EndpointLimits
from tradestack.venues.simulated_okx.rest import OkxRestApi
from tradestack.venues.simulated_okx.streams import OkxStreamHub
from tradestack.venues.simulated_okx.wire import OkxWire


def okx_symbols() -> tuple[SymbolConfig, ...]:
    """BTC-USDT and ETH-USDT with OKX's tick sizes (0.1 and 0.01); lots coarser than OKX's 1e-8 so
    a price times a size fits the core's 8 decimals."""
    return (
        SymbolConfig(
            symbol="BTC-USDT",
            base="BTC",
            quote="USDT",
            tick_size="0.1",
            step_size="0.00001",
            min_qty="0.00001",
            min_notional="0",
            start_price="60000",
            flow_size_min="0.001",
            flow_size_max="0.25",
            flow_depth_ticks=200,
        ),
        SymbolConfig(
            symbol="ETH-USDT",
            base="ETH",
            quote="USDT",
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


@dataclass(frozen=True, slots=True)
class OkxSimConfig:
    venue: SimConfig = field(default_factory=lambda: SimConfig(symbols=okx_symbols()))
    books_interval_ms: int = 100  # `books` pushes an update every 100 ms; 0: only flush_books()
    idle_timeout_s: float = 30.0  # OKX closes a connection silent for 30 s
    timestamp_tolerance_ms: int = 30_000  # REST and login timestamps this far off are expired
    rate_limits: tuple[tuple[str, int], ...] = ()  # ("POST /api/v5/trade/order", 5): replace a limit
    uid: str = "614488474791936"


class SimulatedOkxExchange(DialectServer[OkxRestApi, OkxStreamHub]):
    def __init__(self, config: OkxSimConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or OkxSimConfig()
        super().__init__(self.config.venue, clock, "okx")
        self._client_ids: dict[str, str] = {}
        self.wire = OkxWire(self.venue.instruments, self._client_ids)
        self.keys = OkxKeys(self.config.uid, self.config.timestamp_tolerance_ms)
        self.limits = EndpointLimits(dict(self.config.rate_limits))
        self.rest = OkxRestApi(self.clock, self.venue, self.wire, self.keys, self.limits, self._client_ids)
        self.hub = OkxStreamHub(
            self.clock,
            self.venue,
            self.wire,
            self.keys,
            self.rest.fills_of,
            books_interval_ms=self.config.books_interval_ms,
            idle_timeout_s=self.config.idle_timeout_s,
        )
        self.venue.publisher = self.hub

    def _ws_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ws/v5/public", self.hub.handle_public),
            web.get("/ws/v5/private", self.hub.handle_private),
        ]

    # ---- addresses and keys --------------------------------------------------------------------------

    @property
    def public_ws_url(self) -> str:
        """OKX: wss://ws.okx.com:8443/ws/v5/public."""
        return self._ws_url("/ws/v5/public")

    @property
    def private_ws_url(self) -> str:
        """OKX: wss://ws.okx.com:8443/ws/v5/private."""
        return self._ws_url("/ws/v5/private")

    def create_api_key(
        self, passphrase: str = "", ip: tuple[str, ...] = (), perm: str = "read_only,trade"
    ) -> ApiKey:
        """A new key for the account: api_key, secret, passphrase (random if ""), IP whitelist, perm."""
        return self.keys.create(passphrase, ip, perm)

    def revoke_api_key(self, api_key: str) -> bool:
        return self.keys.revoke(api_key)

    # ---- faults --------------------------------------------------------------------------------------

    def skip_next_books_update(self, symbol: str) -> None:
        self.hub.skip_next_books_update(symbol)

    def corrupt_next_checksum(self, symbol: str) -> None:
        self.hub.corrupt_next_checksum(symbol)

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

    def book_levels(self, symbol: str, depth: int | None = None) -> BookLevels:
        """The venue's book, and the `books` seqId it was last published at (after flush_books)."""
        engine = self.venue.engines[symbol]
        return BookLevels(symbol, self.hub.seq_id[symbol], engine.bids(depth), engine.asks(depth))
