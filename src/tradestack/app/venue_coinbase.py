"""Coinbase Exchange as a `VenueConnector`: HMAC-signed REST with the passphrase, the ws-feed
`level2_batch` book checked through `matches` trade ids and per-product heartbeats, and the
authenticated `user` channel. One `OrderDirectory` maps our client ids and Coinbase's UUIDs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property

import structlog

from tradestack.app.dialect_connector import DialectConnector, feed_settings, ours_written
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
from tradestack.venues.coinbase.auth import CoinbaseExchangeSigner
from tradestack.venues.coinbase.client_ids import OrderDirectory, from_coinbase
from tradestack.venues.coinbase.feed import CoinbaseFeedSettings, CoinbaseMarketFeed
from tradestack.venues.coinbase.rest_gateway import CoinbaseRestGateway
from tradestack.venues.coinbase.trading import CoinbaseTrading
from tradestack.venues.coinbase.user_stream import CoinbaseUserStream

log = structlog.get_logger("tradestack.coinbase")

NAME = "coinbase"


class CoinbaseConnector(DialectConnector[CoinbaseExchangeSigner, CoinbaseRestGateway]):
    name = NAME
    pushes_balances = False  # no balance channel on the ws-feed: balances over REST

    def _sign_with(self, credentials: Credentials) -> CoinbaseExchangeSigner:
        if credentials.passphrase is None:
            raise ValueError(
                "a Coinbase Exchange key needs its passphrase (coinbase/passphrase in the store)"
            )
        return CoinbaseExchangeSigner(
            credentials.api_key.reveal(), credentials.api_secret, credentials.passphrase
        )

    def _gateway(self, on_order_written: OrderWritten | None) -> CoinbaseRestGateway:
        written = ours_written(on_order_written, from_coinbase)  # the UUID back to our client id
        return CoinbaseRestGateway(
            self._signer, clock=self.clock, base_url=self.endpoints.rest_url, on_order_written=written
        )

    @cached_property
    def directory(self) -> OrderDirectory:
        """Shared by order entry and the private stream."""
        return OrderDirectory()

    async def check_key(self, policy: KeyPolicy) -> None:
        # Coinbase Exchange reports no key permissions: a signed read proves the key works, and the
        # operator is told what cannot be checked (docs/venues/coinbase.md, "Key permissions").
        await self.gateway.accounts()
        log.warning(
            "Coinbase Exchange does not report a key's permissions: make sure it has view and trade "
            "only (no transfer) and an IP allowlist",
            require_ip_whitelist=policy.require_ip_whitelist,
        )

    def trading(self, instruments: Mapping[str, Instrument]) -> CoinbaseTrading:
        return CoinbaseTrading(self.gateway, instruments, self.directory)

    def market_feed(
        self,
        instruments: Mapping[str, Instrument],
        on_book: BookHandler,
        on_trade: TradeHandler,
        tuning: FeedTuning,
        observer: FeedHooks,
    ) -> CoinbaseMarketFeed:
        return CoinbaseMarketFeed(
            self.endpoints.ws_url,
            instruments,
            self.clock,
            on_book,
            on_trade,
            feed_settings(CoinbaseFeedSettings, tuning),
            observer,
            venue_time_ns=self.gateway.venue_time_ns,
        )

    def user_stream(
        self,
        instruments: Mapping[str, Instrument],
        on_report: ReportHandler,
        on_balances: BalancesHandler,
        on_reconnected: Callable[[], None],
        on_malformed: Callable[[str], None],
    ) -> CoinbaseUserStream:
        return CoinbaseUserStream(
            self.endpoints.private_ws_url or self.endpoints.ws_url,
            self._signer,
            instruments,
            self.clock,
            on_report,
            on_reconnected,
            on_malformed,
            directory=self.directory,
            venue_time_ns=self.gateway.venue_time_ns,
        )
