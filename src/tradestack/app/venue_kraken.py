"""Kraken (spot) as a `VenueConnector`: REST signed with API-Sign and strictly increasing nonces, the
WebSocket v2 `book` feed checked by CRC32, and the ws-auth `executions` and `balances` channels opened
with a fresh token on every connection. One `OrderDirectory` maps our client ids and Kraken's txids."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property

import structlog

from tradestack.app.dialect_connector import DialectConnector, ReadyUserStream, feed_settings
from tradestack.app.venue_connector import (
    BalancesHandler,
    BookHandler,
    Credentials,
    FeedHooks,
    FeedTuning,
    OrderWritten,
    ReportHandler,
    TradeHandler,
)
from tradestack.domain.instruments import Instrument
from tradestack.security.key_permissions import KeyPolicy
from tradestack.venues.kraken.auth import KrakenSigner
from tradestack.venues.kraken.client_ids import OrderDirectory
from tradestack.venues.kraken.feed import KrakenFeedSettings, KrakenMarketFeed
from tradestack.venues.kraken.rest_gateway import KrakenRestGateway
from tradestack.venues.kraken.session import PRIVATE_URL
from tradestack.venues.kraken.trading import KrakenTrading
from tradestack.venues.kraken.user_stream import KrakenUserStream

log = structlog.get_logger("tradestack.kraken")

NAME = "kraken"


class KrakenConnector(DialectConnector[KrakenSigner, KrakenRestGateway]):
    name = NAME
    pushes_balances = True  # the `balances` channel pushes every change

    def _sign_with(self, credentials: Credentials) -> KrakenSigner:
        return KrakenSigner(credentials.api_key.reveal(), credentials.api_secret)

    def _gateway(self, on_order_written: OrderWritten | None) -> KrakenRestGateway:
        # cl_ord_id is our client id unchanged (venues/kraken/client_ids.py): no mapping back
        return KrakenRestGateway(
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
        # Kraken's spot API reports no key permissions: a signed read proves the key works, and the
        # operator is told what cannot be checked (docs/venues/kraken.md, "Key permissions").
        await self.gateway.balance()
        log.warning(
            "Kraken does not report a key's permissions: make sure it may query funds, query and "
            "create/cancel orders and use WebSockets only (no withdrawal or funding), with an IP allowlist",
            require_ip_whitelist=policy.require_ip_whitelist,
        )

    def trading(self, instruments: Mapping[str, Instrument]) -> KrakenTrading:
        return KrakenTrading(self.gateway, instruments, self.directory)

    def market_feed(
        self,
        instruments: Mapping[str, Instrument],
        on_book: BookHandler,
        on_trade: TradeHandler,
        tuning: FeedTuning,
        observer: FeedHooks,
    ) -> KrakenMarketFeed:
        settings = feed_settings(KrakenFeedSettings, tuning)
        return KrakenMarketFeed(
            self.endpoints.ws_url, instruments, self.clock, on_book, on_trade, settings, observer
        )

    def user_stream(
        self,
        instruments: Mapping[str, Instrument],
        on_report: ReportHandler,
        on_balances: BalancesHandler,
        on_reconnected: Callable[[], None],
        on_malformed: Callable[[str], None],
    ) -> ReadyUserStream[KrakenUserStream]:
        stream = KrakenUserStream(
            self.endpoints.private_ws_url or PRIVATE_URL,
            self.gateway.websocket_token,
            instruments,
            self.clock,
            on_report,
            on_reconnected,
            on_malformed,
            on_balances,
            directory=self.directory,
        )
        return ReadyUserStream(
            stream,
            "Kraken private stream: not subscribed",
            "check the key (it needs the WebSocket permission) and the secret",
        )
