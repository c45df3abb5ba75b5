"""Binance spot as a `VenueConnector`: signed REST on warm HTTP/1.1 connections, the U/u book feed,
the listen-key user stream, and the key check through apiRestrictions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

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
    VenueTrading,
)
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.security.key_permissions import KeyPolicy, enforce_key_policy
from tradestack.venues._shared.rate_limit import RateLimiter
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.binance.feed import BinanceMarketFeed, FeedSettings
from tradestack.venues.binance.key_permissions import BinanceKeyPermissions
from tradestack.venues.binance.rest_gateway import (
    BinanceRestGateway,
    RequestTiming,
    limits_from_exchange_info,
)
from tradestack.venues.binance.trading import BinanceTrading
from tradestack.venues.binance.user_messages import Balances
from tradestack.venues.binance.user_stream import BinanceUserStream

NAME = "binance"


class BinanceConnector:
    """Spot; USD-M and COIN-M futures (app/venue_binance_futures.py) are this with their own gateway,
    key check, instruments and trading, and the feed and user-stream classes swapped."""

    name = NAME
    pushes_balances = True  # outboundAccountPosition
    feed_type: type[BinanceMarketFeed] = BinanceMarketFeed
    user_stream_type: type[BinanceUserStream] = BinanceUserStream

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
        self.gateway = self._gateway(endpoints.rest_url)

    def _gateway(self, rest_url: str) -> BinanceRestGateway:
        return BinanceRestGateway(
            self._signer, clock=self.clock, base_url=rest_url, on_timing=self._on_timing
        )

    async def start(self) -> None:
        await self.gateway.start()
        await self.gateway.sync_time()

    async def check_key(self, policy: KeyPolicy) -> None:
        source = BinanceKeyPermissions(self._signer, self.endpoints.rest_url, self.gateway.venue_time_ns)
        await enforce_key_policy(source, policy, self.name)

    async def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        info = await self.gateway.exchange_info(list(symbols))
        self.gateway.limiter = RateLimiter(limits_from_exchange_info(info.rate_limits))
        return {s.symbol: s.instrument(NAME) for s in info.symbols if s.symbol in symbols}

    def trading(self, instruments: Mapping[str, Instrument]) -> VenueTrading:
        return BinanceTrading(self.gateway, instruments)

    def market_feed(
        self,
        instruments: Mapping[str, Instrument],
        on_book: BookHandler,
        on_trade: TradeHandler,
        tuning: FeedTuning,
        observer: FeedHooks,
    ) -> BinanceMarketFeed:
        settings = FeedSettings(
            staleness_s=tuning.staleness_s,
            ping_idle_s=tuning.ping_idle_s,
            pong_timeout_s=tuning.pong_timeout_s,
            backoff_initial_s=tuning.backoff_initial_s,
            backoff_max_s=tuning.backoff_max_s,
            snapshot_limit=tuning.snapshot_limit,
        )
        return self.feed_type(
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
    ) -> BinanceUserStream:
        def balances(event: Balances) -> None:
            on_balances(event.totals)

        return self.user_stream_type(
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
