"""What the trading runtime needs from a venue, whichever it is: one connector per exchange.

The runtime (app/runtime.py) drives the same engine, risk, journal and monitoring over any venue
through this interface; each venue's connector (app/venue_binance.py, app/venue_okx.py) builds its
own REST gateway, order entry, market feed and private stream from venues/<name>/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from tradestack.domain.book.order_book import OrderBook
from tradestack.domain.instruments import Instrument
from tradestack.domain.orders.reports import OrderReport
from tradestack.ports import TradingVenue
from tradestack.security.key_permissions import KeyPolicy
from tradestack.security.secrets import Secret
from tradestack.venues._shared.feed_hooks import BookHandler as BookHandler
from tradestack.venues._shared.feed_hooks import FeedHooks as FeedHooks
from tradestack.venues._shared.feed_hooks import TradeHandler as TradeHandler
from tradestack.venues._shared.ws_session import WsSession

ReportHandler = Callable[[OrderReport, int], None]
BalancesHandler = Callable[[Mapping[str, int]], None]  # asset -> total at ASSET_SCALE


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where a venue is: REST, the public stream and (where the venue splits them) the private one."""

    rest_url: str
    ws_url: str
    private_ws_url: str | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    """A trading key. `passphrase` only for the venues that have one (OKX, Coinbase)."""

    api_key: Secret
    api_secret: Secret
    passphrase: Secret | None = None


@dataclass(frozen=True, slots=True)
class FeedTuning:
    """The config's feed settings, in the units every venue's feed takes."""

    staleness_s: float
    ping_idle_s: float
    pong_timeout_s: float
    backoff_initial_s: float
    backoff_max_s: float
    snapshot_limit: int


class SyncStateLike(Protocol):
    @property
    def value(self) -> str: ...


class BookSyncLike(Protocol):
    @property
    def book(self) -> OrderBook: ...

    @property
    def state(self) -> SyncStateLike: ...


class MarketFeed(Protocol):
    @property
    def instruments(self) -> Mapping[str, Instrument]: ...

    @property
    def syncs(self) -> Mapping[str, BookSyncLike]: ...

    @property
    def session(self) -> WsSession: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def data_age_ns(self, symbol: str, now_mono_ns: int) -> int | None: ...


class UserStream(Protocol):
    @property
    def session(self) -> WsSession | None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class VenueTrading(TradingVenue, Protocol):
    async def balances(self) -> dict[str, int]: ...

    async def account_id(self) -> int: ...


class VenueConnector(Protocol):
    """One venue's connection, built by `connect()` and used by one runtime."""

    name: str
    # True when the private stream pushes balances; otherwise the runtime polls them over REST
    pushes_balances: bool

    async def start(self) -> None:
        """Open HTTP and sync the venue's clock."""
        ...

    async def check_key(self, policy: KeyPolicy) -> None:
        """Raise security.key_permissions.UnsafeApiKey for a key wider than a trading key."""
        ...

    async def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        """The venue's filters for these symbols (missing ones are left out); arms the rate limits."""
        ...

    def trading(self, instruments: Mapping[str, Instrument]) -> VenueTrading: ...

    def market_feed(
        self,
        instruments: Mapping[str, Instrument],
        on_book: BookHandler,
        on_trade: TradeHandler,
        tuning: FeedTuning,
        observer: FeedHooks,
    ) -> MarketFeed: ...

    def user_stream(
        self,
        instruments: Mapping[str, Instrument],
        on_report: ReportHandler,
        on_balances: BalancesHandler,
        on_reconnected: Callable[[], None],
        on_malformed: Callable[[str], None],
    ) -> UserStream: ...

    def use_credentials(self, credentials: Credentials) -> None:
        """Sign with this key from the next request on (a rotation)."""
        ...

    @property
    def api_key_fingerprint(self) -> str: ...

    def usage_ratio(self) -> float:
        """Used fraction of the tightest rate limit now."""
        ...

    async def close(self) -> None: ...


class UnsupportedVenue(ValueError):
    pass


OrderWritten = Callable[[str, int], None]  # client id, monotonic ns its request was written
