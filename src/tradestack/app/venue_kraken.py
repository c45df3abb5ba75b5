"""Kraken (spot) as a `VenueConnector`: REST signed with API-Sign and strictly increasing nonces, the
WebSocket v2 `book` feed checked by CRC32, and the ws-auth `executions` and `balances` channels opened
with a fresh token on every connection. One `OrderDirectory` maps our client ids and Kraken's txids."""

from __future__ import annotations

import asyncio
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
from tradestack.venues._shared.ws_session import WsSession
from tradestack.venues.kraken.auth import KrakenSigner
from tradestack.venues.kraken.client_ids import OrderDirectory
from tradestack.venues.kraken.feed import KrakenFeedSettings, KrakenMarketFeed
from tradestack.venues.kraken.rest_gateway import KrakenRestGateway
from tradestack.venues.kraken.session import PRIVATE_URL
from tradestack.venues.kraken.trading import KrakenTrading
from tradestack.venues.kraken.user_stream import KrakenUserStream

log = structlog.get_logger("tradestack.kraken")

NAME = "kraken"


class _SubscribedUserStream:
    """Started means subscribed to `executions`: the runtime reconciles right after, and an order
    update that arrived before the subscription would be missed."""

    def __init__(self, stream: KrakenUserStream, timeout_s: float = 15.0) -> None:
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
                f"Kraken private stream: not subscribed within {self.timeout_s:.0f} s "
                f"({self.stream.last_error or 'no answer'}): check the key (it needs the WebSocket "
                "permission) and the secret"
            ) from None

    async def stop(self) -> None:
        await self.stream.stop()


class KrakenConnector:
    name = NAME
    pushes_balances = True  # the `balances` channel pushes every change

    def __init__(
        self,
        endpoints: Endpoints,
        credentials: Credentials,
        clock: Clock,
        on_order_written: OrderWritten | None = None,  # the gateway does not time writes yet
    ) -> None:
        self.endpoints = endpoints
        self.clock = clock
        self.gateway = KrakenRestGateway(_signer(credentials), clock=clock, base_url=endpoints.rest_url)
        self.directory = OrderDirectory()

    async def start(self) -> None:
        await self.gateway.start()
        await self.gateway.sync_time()

    async def check_key(self, policy: KeyPolicy) -> None:
        # Kraken's spot API reports no key permissions: a signed read proves the key works, and the
        # operator is told what cannot be checked (docs/venues/kraken.md, "Key permissions").
        await self.gateway.balance()
        log.warning(
            "Kraken does not report a key's permissions: make sure it may query funds, query and "
            "create/cancel orders and use WebSockets only (no withdrawal or funding), with an IP allowlist",
            require_ip_whitelist=policy.require_ip_whitelist,
        )

    async def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        listed = await self.gateway.instruments()
        return {symbol: inst for symbol, inst in listed.items() if symbol in symbols}

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
        settings = KrakenFeedSettings(
            staleness_s=tuning.staleness_s,
            ping_idle_s=tuning.ping_idle_s,
            pong_timeout_s=tuning.pong_timeout_s,
            backoff_initial_s=tuning.backoff_initial_s,
            backoff_max_s=tuning.backoff_max_s,
        )
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
    ) -> _SubscribedUserStream:
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
        return _SubscribedUserStream(stream)

    def use_credentials(self, credentials: Credentials) -> None:
        self.gateway.set_signer(_signer(credentials))

    @property
    def api_key_fingerprint(self) -> str:
        return self.gateway.api_key_fingerprint

    def usage_ratio(self) -> float:
        return self.gateway.usage_ratio()

    async def close(self) -> None:
        await self.gateway.close()


def _signer(credentials: Credentials) -> KrakenSigner:
    return KrakenSigner(credentials.api_key.reveal(), credentials.api_secret)
