"""OKX (v5, spot) as a `VenueConnector`: signed REST with the passphrase, the `books` feed checked by
seqId and CRC32, the private `orders` channel, and the key check through account/config."""

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
from tradestack.venues.okx.auth import OkxSigner
from tradestack.venues.okx.client_ids import from_okx
from tradestack.venues.okx.feed import OkxFeedSettings, OkxMarketFeed
from tradestack.venues.okx.rest_gateway import OkxKeyRestrictions, OkxRestGateway
from tradestack.venues.okx.trading import OkxTrading
from tradestack.venues.okx.user_stream import OkxUserStream

NAME = "okx"


class _KeySource:
    def __init__(self, gateway: OkxRestGateway) -> None:
        self.gateway = gateway

    async def key_restrictions(self) -> OkxKeyRestrictions:
        return await self.gateway.key_restrictions()


class _LoggedInUserStream:
    """Started means logged in and subscribed: the runtime reconciles right after, and an order
    update that arrived before the subscription would be missed."""

    def __init__(self, stream: OkxUserStream, timeout_s: float = 15.0) -> None:
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
                f"OKX private stream: not logged in within {self.timeout_s:.0f} s "
                f"({self.stream.last_error or 'no answer'}): check the key, secret and passphrase"
            ) from None

    async def stop(self) -> None:
        await self.stream.stop()


class OkxConnector:
    name = NAME
    pushes_balances = False  # the `account` channel is not subscribed: balances over REST

    def __init__(
        self,
        endpoints: Endpoints,
        credentials: Credentials,
        clock: Clock,
        on_order_written: OrderWritten | None = None,
    ) -> None:
        if credentials.passphrase is None:
            raise ValueError("an OKX key needs its passphrase (okx/passphrase in the secret store)")
        self.endpoints = endpoints
        self.clock = clock
        self._signer = _signer(credentials)
        written = None
        if on_order_written is not None:
            hook = on_order_written

            def written(cl_ord_id: str, sent_ns: int) -> None:  # OKX's clOrdId back to our client id
                hook(from_okx(cl_ord_id), sent_ns)

        self.gateway = OkxRestGateway(
            self._signer, clock=clock, base_url=endpoints.rest_url, on_order_written=written
        )

    async def start(self) -> None:
        await self.gateway.start()
        await self.gateway.sync_time()

    async def check_key(self, policy: KeyPolicy) -> None:
        await enforce_key_policy(_KeySource(self.gateway), policy, NAME)

    async def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        listed = await self.gateway.instruments()
        return {symbol: inst for symbol, inst in listed.items() if symbol in symbols}

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
        settings = OkxFeedSettings(
            staleness_s=tuning.staleness_s,
            ping_idle_s=tuning.ping_idle_s,
            pong_timeout_s=tuning.pong_timeout_s,
            backoff_initial_s=tuning.backoff_initial_s,
            backoff_max_s=tuning.backoff_max_s,
        )
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
    ) -> _LoggedInUserStream:
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
        return _LoggedInUserStream(stream)

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


def _signer(credentials: Credentials) -> OkxSigner:
    assert credentials.passphrase is not None
    return OkxSigner(credentials.api_key.reveal(), credentials.api_secret, credentials.passphrase)
