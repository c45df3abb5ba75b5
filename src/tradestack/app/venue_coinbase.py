"""Coinbase Exchange as a `VenueConnector`: HMAC-signed REST with the passphrase, the ws-feed
`level2_batch` book checked through `matches` trade ids and per-product heartbeats, and the
authenticated `user` channel. One `OrderDirectory` maps our client ids and Coinbase's UUIDs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import structlog

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
from tradestack.security.key_permissions import KeyPolicy
from tradestack.venues.coinbase.auth import CoinbaseExchangeSigner
from tradestack.venues.coinbase.client_ids import OrderDirectory, from_coinbase
from tradestack.venues.coinbase.feed import CoinbaseFeedSettings, CoinbaseMarketFeed
from tradestack.venues.coinbase.rest_gateway import CoinbaseRestGateway
from tradestack.venues.coinbase.trading import CoinbaseTrading
from tradestack.venues.coinbase.user_stream import CoinbaseUserStream

log = structlog.get_logger("tradestack.coinbase")

NAME = "coinbase"


class CoinbaseConnector:
    name = NAME
    pushes_balances = False  # no balance channel on the ws-feed: balances over REST

    def __init__(
        self,
        endpoints: Endpoints,
        credentials: Credentials,
        clock: Clock,
        on_order_written: OrderWritten | None = None,
    ) -> None:
        if credentials.passphrase is None:
            raise ValueError(
                "a Coinbase Exchange key needs its passphrase (coinbase/passphrase in the store)"
            )
        self.endpoints = endpoints
        self.clock = clock
        self._signer = _signer(credentials)
        written = None
        if on_order_written is not None:
            hook = on_order_written

            def written(client_oid: str, sent_ns: int) -> None:  # the UUID back to our client id
                hook(from_coinbase(client_oid), sent_ns)

        self.gateway = CoinbaseRestGateway(
            self._signer, clock=clock, base_url=endpoints.rest_url, on_order_written=written
        )
        self.directory = OrderDirectory()

    async def start(self) -> None:
        await self.gateway.start()
        await self.gateway.sync_time()

    async def check_key(self, policy: KeyPolicy) -> None:
        # Coinbase Exchange reports no key permissions: a signed read proves the key works, and the
        # operator is told what cannot be checked (docs/venues/coinbase.md, "Key permissions").
        await self.gateway.accounts()
        log.warning(
            "Coinbase Exchange does not report a key's permissions: make sure it has view and trade "
            "only (no transfer) and an IP allowlist",
            require_ip_whitelist=policy.require_ip_whitelist,
        )

    async def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        listed = await self.gateway.instruments()
        return {symbol: inst for symbol, inst in listed.items() if symbol in symbols}

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
        settings = CoinbaseFeedSettings(
            staleness_s=tuning.staleness_s,
            ping_idle_s=tuning.ping_idle_s,
            pong_timeout_s=tuning.pong_timeout_s,
            backoff_initial_s=tuning.backoff_initial_s,
            backoff_max_s=tuning.backoff_max_s,
        )
        return CoinbaseMarketFeed(
            self.endpoints.ws_url,
            instruments,
            self.clock,
            on_book,
            on_trade,
            settings,
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


def _signer(credentials: Credentials) -> CoinbaseExchangeSigner:
    assert credentials.passphrase is not None
    return CoinbaseExchangeSigner(
        credentials.api_key.reveal(), credentials.api_secret, credentials.passphrase
    )
