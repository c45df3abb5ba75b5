"""Bybit (v5, spot) as a `VenueConnector`: signed REST with the X-BAPI headers, the `orderbook.50`
feed checked by `u`, the private `order`/`execution`/`wallet` topics (balances pushed), and the key
check through user/query-api."""

from __future__ import annotations

import asyncio
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
)
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.security.key_permissions import KeyPolicy, enforce_key_policy
from tradestack.venues._shared.ws_session import WsSession
from tradestack.venues.bybit.auth import BybitSigner
from tradestack.venues.bybit.client_ids import OrderDirectory
from tradestack.venues.bybit.feed import BybitFeedSettings, BybitMarketFeed
from tradestack.venues.bybit.rest_gateway import BybitKeyRestrictions, BybitRestGateway
from tradestack.venues.bybit.trading import BybitTrading
from tradestack.venues.bybit.user_stream import BybitUserStream

NAME = "bybit"


class _KeySource:
    def __init__(self, gateway: BybitRestGateway) -> None:
        self.gateway = gateway

    async def key_restrictions(self) -> BybitKeyRestrictions:
        return await self.gateway.key_restrictions()


class _SubscribedUserStream:
    """Started means authenticated and subscribed: the runtime reconciles right after, and an order
    update that arrived before the subscription would be missed."""

    def __init__(self, stream: BybitUserStream, timeout_s: float = 15.0) -> None:
        self.stream = stream
        self.timeout_s = timeout_s

    @property
    def session(self) -> WsSession:
        return self.stream.session

    async def start(self) -> None:
        await self.stream.start()
        try:
            await asyncio.wait_for(self.stream.wait_ready(), self.timeout_s)
        except TimeoutError:
            await self.stream.stop()
            raise RuntimeError(
                f"Bybit private stream: not authenticated within {self.timeout_s:.0f} s "
                f"({self.stream.last_error or 'no answer'}): check the key and secret"
            ) from None

    async def stop(self) -> None:
        await self.stream.stop()


def private_url(endpoints: Endpoints) -> str:
    """The private stream's URL: given, or the public one's host with Bybit's private path."""
    if endpoints.private_ws_url:
        return endpoints.private_ws_url
    base, _, _ = endpoints.ws_url.partition("/v5/")
    return f"{base}/v5/private"


class BybitConnector:
    name = NAME
    pushes_balances = True  # the `wallet` topic

    def __init__(
        self,
        endpoints: Endpoints,
        credentials: Credentials,
        clock: Clock,
        on_order_written: OrderWritten | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.clock = clock
        self._signer = _signer(credentials)
        # orderLinkId is the engine's client id as it is: the gateway's timing names the order
        self.gateway = BybitRestGateway(
            self._signer, clock=clock, base_url=endpoints.rest_url, on_order_written=on_order_written
        )
        self.directory = OrderDirectory()  # shared by order entry and the private stream

    async def start(self) -> None:
        await self.gateway.start()
        await self.gateway.sync_time()

    async def check_key(self, policy: KeyPolicy) -> None:
        await enforce_key_policy(_KeySource(self.gateway), policy, NAME)

    async def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        listed = await self.gateway.instruments()
        return {symbol: inst for symbol, inst in listed.items() if symbol in symbols}

    def trading(self, instruments: Mapping[str, Instrument]) -> BybitTrading:
        return BybitTrading(self.gateway, instruments, self.directory)

    def market_feed(
        self,
        instruments: Mapping[str, Instrument],
        on_book: BookHandler,
        on_trade: TradeHandler,
        tuning: FeedTuning,
        observer: FeedHooks,
    ) -> BybitMarketFeed:
        settings = BybitFeedSettings(
            staleness_s=tuning.staleness_s,
            ping_idle_s=tuning.ping_idle_s,
            pong_timeout_s=tuning.pong_timeout_s,
            backoff_initial_s=tuning.backoff_initial_s,
            backoff_max_s=tuning.backoff_max_s,
        )
        return BybitMarketFeed(
            self.endpoints.ws_url, instruments, self.clock, on_book, on_trade, settings, observer
        )

    def user_stream(
        self,
        instruments: Mapping[str, Instrument],
        on_report: ReportHandler,
        on_balances: BalancesHandler,
        on_reconnected: Callable[[], None],
        on_malformed: Callable[[str], None],
    ) -> _SubscribedUserStream:
        stream = BybitUserStream(
            private_url(self.endpoints),
            self._signer,
            instruments,
            self.clock,
            on_report,
            on_reconnected,
            on_malformed,
            on_balances,
            venue_time_ns=self.gateway.venue_time_ns,
            directory=self.directory,
        )
        return _SubscribedUserStream(stream)

    def use_credentials(self, credentials: Credentials) -> None:
        self._signer = _signer(credentials)
        self.gateway.set_signer(self._signer)

    @property
    def api_key_fingerprint(self) -> str:
        return self.gateway.api_key_fingerprint

    def usage_ratio(self) -> float:
        return self.gateway.usage_ratio()

    async def close(self) -> None:
        await self.gateway.close()


def _signer(credentials: Credentials) -> BybitSigner:
    return BybitSigner(credentials.api_key.reveal(), credentials.api_secret)
