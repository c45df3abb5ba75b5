"""Bybit (v5, spot) as a `VenueConnector`: signed REST with the X-BAPI headers, the `orderbook.50`
feed checked by `u`, the private `order`/`execution`/`wallet` topics (balances pushed), and the key
check through user/query-api."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property

from tradestack.app.dialect_connector import DialectConnector, ReadyUserStream, feed_settings
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
from tradestack.security.key_permissions import KeyPolicy, enforce_key_policy
from tradestack.venues.bybit.auth import BybitSigner
from tradestack.venues.bybit.client_ids import OrderDirectory
from tradestack.venues.bybit.feed import BybitFeedSettings, BybitMarketFeed
from tradestack.venues.bybit.rest_gateway import BybitRestGateway
from tradestack.venues.bybit.trading import BybitTrading
from tradestack.venues.bybit.user_stream import BybitUserStream

NAME = "bybit"


def private_url(endpoints: Endpoints) -> str:
    """The private stream's URL: given, or the public one's host with Bybit's private path."""
    if endpoints.private_ws_url:
        return endpoints.private_ws_url
    base, _, _ = endpoints.ws_url.partition("/v5/")
    return f"{base}/v5/private"


class BybitConnector(DialectConnector[BybitSigner, BybitRestGateway]):
    name = NAME
    pushes_balances = True  # the `wallet` topic

    def _sign_with(self, credentials: Credentials) -> BybitSigner:
        return BybitSigner(credentials.api_key.reveal(), credentials.api_secret)

    def _gateway(self, on_order_written: OrderWritten | None) -> BybitRestGateway:
        # orderLinkId is the engine's client id as it is: the gateway's timing names the order
        return BybitRestGateway(
            self._signer,
            clock=self.clock,
            base_url=self.endpoints.rest_url,
            on_order_written=on_order_written,
        )

    @cached_property
    def directory(self) -> OrderDirectory:
        """Shared by order entry and the private stream."""
        return OrderDirectory()

    async def check_key(self, policy: KeyPolicy) -> None:
        await enforce_key_policy(self.gateway, policy, NAME)

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
        settings = feed_settings(BybitFeedSettings, tuning)
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
    ) -> ReadyUserStream[BybitUserStream]:
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
        return ReadyUserStream(stream, "Bybit private stream: not authenticated", "check the key and secret")
