"""Binance USD-M futures (`binance-futures`) as a `VenueConnector`: signed /fapi REST on the spot
gateway's warm connections, the `pu`-chained depth feed, the /fapi listen-key user stream, and the key
check through apiRestrictions (which lives on the spot host, api.binance.com).

Each contract trades as a linear instrument whose `base` is its position ("BTCUSDT-PERP"): drift is
the engine's signed position against positionRisk's positionAmt (docs/venues/binance.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from tradestack.app.venue_connector import (
    BalancesHandler,
    BookHandler,
    Credentials,
    Endpoints,
    FeedHooks,
    FeedTuning,
    OrderWritten,
    ReportHandler,
    TradeHandler,
)
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.security.key_permissions import KeyPolicy, enforce_key_policy
from tradestack.venues._shared.rate_limit import RateLimiter
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.feed import FeedSettings
from tradestack.venues.binance.key_permissions import ApiRestrictions, BinanceKeyPermissions
from tradestack.venues.binance.rest_gateway import RequestTiming, limits_from_exchange_info
from tradestack.venues.binance.urls import SPOT_REST
from tradestack.venues.binance.user_messages import Balances
from tradestack.venues.binance_futures.feed import BinanceFuturesMarketFeed
from tradestack.venues.binance_futures.rest_gateway import USDM, BinanceFuturesRestGateway, FuturesApi
from tradestack.venues.binance_futures.trading import BinanceFuturesTrading
from tradestack.venues.binance_futures.user_stream import BinanceFuturesUserStream

NAME = "binance-futures"
_LIVE_FUTURES_HOSTS = ("fapi.binance.com", "dapi.binance.com")


@dataclass(frozen=True, slots=True)
class FuturesKeyRestrictions:
    """apiRestrictions read for a futures key: it must trade futures (enableFutures), not spot."""

    restrictions: ApiRestrictions

    @property
    def can_withdraw(self) -> bool:
        return self.restrictions.can_withdraw

    @property
    def can_trade(self) -> bool:
        return self.restrictions.enable_futures

    @property
    def can_transfer(self) -> bool:
        return self.restrictions.can_transfer

    @property
    def ip_restricted(self) -> bool:
        return self.restrictions.ip_restricted


class _KeySource:
    def __init__(self, permissions: BinanceKeyPermissions) -> None:
        self.permissions = permissions

    async def key_restrictions(self) -> FuturesKeyRestrictions:
        return FuturesKeyRestrictions(await self.permissions.key_restrictions())


def key_check_url(rest_url: str) -> str:
    """Where apiRestrictions is asked: the spot host for live futures, else the same host (a simulator
    or a proxy serving both)."""
    return SPOT_REST if urlsplit(rest_url).hostname in _LIVE_FUTURES_HOSTS else rest_url


class BinanceFuturesConnector:
    name = NAME
    api: FuturesApi = USDM  # COIN-M (app/venue_binance_coinm.py) is this over /dapi
    pushes_balances = True  # ACCOUNT_UPDATE: wallet balances and positions

    def __init__(
        self,
        endpoints: Endpoints,
        credentials: Credentials,
        clock: Clock,
        on_order_written: OrderWritten | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.clock = clock
        self._on_order_written = on_order_written
        self._signer = HmacSigner(credentials.api_key.reveal(), credentials.api_secret.reveal())
        self.gateway = BinanceFuturesRestGateway(
            self._signer, clock=clock, base_url=endpoints.rest_url, on_timing=self._on_timing, api=self.api
        )

    async def start(self) -> None:
        await self.gateway.start()
        await self.gateway.sync_time()

    async def check_key(self, policy: KeyPolicy) -> None:
        permissions = BinanceKeyPermissions(
            self._signer, key_check_url(self.endpoints.rest_url), self.gateway.venue_time_ns
        )
        await enforce_key_policy(_KeySource(permissions), policy, self.name)

    async def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        info = await self.gateway.futures_exchange_info()
        self.gateway.limiter = RateLimiter(limits_from_exchange_info(info.rate_limits))
        return {
            s.symbol: s.instrument(self.name, self.api.kind)
            for s in info.symbols
            if s.symbol in symbols and s.status == "TRADING"
        }

    def trading(self, instruments: Mapping[str, Instrument]) -> BinanceFuturesTrading:
        return BinanceFuturesTrading(self.gateway, instruments)

    def market_feed(
        self,
        instruments: Mapping[str, Instrument],
        on_book: BookHandler,
        on_trade: TradeHandler,
        tuning: FeedTuning,
        observer: FeedHooks,
    ) -> BinanceFuturesMarketFeed:
        settings = FeedSettings(
            staleness_s=tuning.staleness_s,
            ping_idle_s=tuning.ping_idle_s,
            pong_timeout_s=tuning.pong_timeout_s,
            backoff_initial_s=tuning.backoff_initial_s,
            backoff_max_s=tuning.backoff_max_s,
            snapshot_limit=tuning.snapshot_limit,
        )
        return BinanceFuturesMarketFeed(
            self.endpoints.ws_url,
            instruments,
            self.gateway,
            self.clock,
            on_book,
            on_trade,
            settings,
            observer=observer,
        )

    def user_stream(
        self,
        instruments: Mapping[str, Instrument],
        on_report: ReportHandler,
        on_balances: BalancesHandler,
        on_reconnected: Callable[[], None],
        on_malformed: Callable[[str], None],
    ) -> BinanceFuturesUserStream:
        def balances(event: Balances) -> None:
            on_balances(event.totals)

        return BinanceFuturesUserStream(
            self.endpoints.private_ws_url or self.endpoints.ws_url,
            self.gateway,
            instruments,
            self.clock,
            on_report,
            balances,
            on_reconnected,
            on_malformed=on_malformed,
        )

    def use_credentials(self, credentials: Credentials) -> None:
        self._signer = HmacSigner(credentials.api_key.reveal(), credentials.api_secret.reveal())
        self.gateway.set_signer(self._signer)

    @property
    def api_key_fingerprint(self) -> str:
        return self.gateway.api_key_fingerprint

    def usage_ratio(self) -> float:
        return self.gateway.limiter.usage_ratio(self.gateway.venue_time_ns())

    async def close(self) -> None:
        await self.gateway.close()

    def _on_timing(self, timing: RequestTiming) -> None:
        if self._on_order_written is None:
            return
        if timing.client_order_id is None or timing.sent_ns is None or timing.method != "POST":
            return
        self._on_order_written(timing.client_order_id, timing.sent_ns)
