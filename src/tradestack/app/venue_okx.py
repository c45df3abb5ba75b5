"""OKX (v5, spot) as a `VenueConnector`: signed REST with the passphrase, the `books` feed checked by
seqId and CRC32, the private `orders` channel, and the key check through account/config."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tradestack.app.dialect_connector import DialectConnector, ReadyUserStream, feed_settings, ours_written
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
from tradestack.security.key_permissions import KeyPolicy, enforce_key_policy
from tradestack.venues.okx.auth import OkxSigner
from tradestack.venues.okx.client_ids import from_okx
from tradestack.venues.okx.feed import OkxFeedSettings, OkxMarketFeed
from tradestack.venues.okx.rest_gateway import OkxRestGateway
from tradestack.venues.okx.trading import OkxTrading
from tradestack.venues.okx.user_stream import OkxUserStream

NAME = "okx"


class OkxConnector(DialectConnector[OkxSigner, OkxRestGateway]):
    name = NAME
    pushes_balances = False  # the `account` channel is not subscribed: balances over REST

    def _sign_with(self, credentials: Credentials) -> OkxSigner:
        if credentials.passphrase is None:
            raise ValueError("an OKX key needs its passphrase (okx/passphrase in the secret store)")
        return OkxSigner(credentials.api_key.reveal(), credentials.api_secret, credentials.passphrase)

    def _gateway(self, on_order_written: OrderWritten | None) -> OkxRestGateway:
        written = ours_written(on_order_written, from_okx)  # OKX's clOrdId back to our client id
        return OkxRestGateway(
            self._signer, clock=self.clock, base_url=self.endpoints.rest_url, on_order_written=written
        )

    async def check_key(self, policy: KeyPolicy) -> None:
        await enforce_key_policy(self.gateway, policy, NAME)

    def trading(self, instruments: Mapping[str, Instrument]) -> OkxTrading:
        return OkxTrading(self.gateway, instruments)

    def market_feed(
        self,
        instruments: Mapping[str, Instrument],
        on_book: BookHandler,
        on_trade: TradeHandler,
        tuning: FeedTuning,
        observer: FeedHooks,
    ) -> OkxMarketFeed:
        settings = feed_settings(OkxFeedSettings, tuning)
        return OkxMarketFeed(
            self.endpoints.ws_url, instruments, self.clock, on_book, on_trade, settings, observer
        )

    def user_stream(
        self,
        instruments: Mapping[str, Instrument],
        on_report: ReportHandler,
        on_balances: BalancesHandler,  # no `account` channel: balances come over REST
        on_reconnected: Callable[[], None],
        on_malformed: Callable[[str], None],
    ) -> ReadyUserStream[OkxUserStream]:
        stream = OkxUserStream(
            self.endpoints.private_ws_url or self.endpoints.ws_url.replace("/public", "/private"),
            self._signer,
            instruments,
            self.clock,
            on_report,
            on_reconnected,
            on_malformed,
            venue_time_ns=self.gateway.venue_time_ns,
        )
        return ReadyUserStream(
            stream, "OKX private stream: not logged in", "check the key, secret and passphrase"
        )
