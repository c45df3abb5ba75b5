"""DialectConnector: the shell the OKX, Bybit, Kraken and Coinbase connectors share.

    class XxxConnector(DialectConnector[XxxSigner, XxxRestGateway]):
        name = NAME
        pushes_balances = False

        def _sign_with(self, credentials: Credentials) -> XxxSigner: ...

        def _gateway(self, on_order_written: OrderWritten | None) -> XxxRestGateway: ...

One signed REST gateway (venues/_shared/signed_rest.py): started with the venue's clock synced, its
listing cut to the configured symbols, the key rotated in place, its usage and its close. A subclass
keeps its venue: the key check, order entry, the market feed (its settings from `feed_settings`) and
the private stream (in a `ReadyUserStream` where the venue says when it is subscribed).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from tradestack.app.venue_connector import Credentials, Endpoints, FeedTuning, OrderWritten
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.ws_session import WsSession

SignerT = TypeVar("SignerT")
SignerT_contra = TypeVar("SignerT_contra", contravariant=True)
SettingsT_co = TypeVar("SettingsT_co", covariant=True)


class DialectGateway(Protocol[SignerT_contra]):
    """What the shell needs of a venue's REST gateway."""

    async def start(self) -> None: ...

    async def sync_time(self) -> int: ...

    async def instruments(self) -> dict[str, Instrument]: ...

    def set_signer(self, signer: SignerT_contra) -> None: ...

    @property
    def api_key_fingerprint(self) -> str: ...

    def usage_ratio(self) -> float: ...

    async def close(self) -> None: ...


class PrivateStream(Protocol):
    """A venue's private stream that tells when it is logged in and subscribed."""

    @property
    def session(self) -> WsSession: ...

    @property
    def last_error(self) -> str: ...

    async def start(self) -> None: ...

    async def wait_ready(self) -> None: ...

    async def stop(self) -> None: ...


class FeedSettingsType(Protocol[SettingsT_co]):
    """A venue's feed settings class, as far as the config tunes it."""

    def __call__(
        self,
        *,
        staleness_s: float | None,
        ping_idle_s: float,
        pong_timeout_s: float,
        backoff_initial_s: float,
        backoff_max_s: float,
    ) -> SettingsT_co: ...


GatewayT = TypeVar("GatewayT", bound=DialectGateway[Any])
StreamT = TypeVar("StreamT", bound=PrivateStream)
SettingsT = TypeVar("SettingsT")


class DialectConnector(ABC, Generic[SignerT, GatewayT]):
    name: str
    pushes_balances: bool

    def __init__(
        self,
        endpoints: Endpoints,
        credentials: Credentials,
        clock: Clock,
        on_order_written: OrderWritten | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.clock = clock
        self._signer = self._sign_with(credentials)
        self.gateway = self._gateway(on_order_written)

    @abstractmethod
    def _sign_with(self, credentials: Credentials) -> SignerT:
        """The venue's signer for this key; ValueError for a key it cannot sign with."""

    @abstractmethod
    def _gateway(self, on_order_written: OrderWritten | None) -> GatewayT:
        """The venue's REST gateway on `endpoints.rest_url`, signing with `_signer`; where it times
        order writes, it tells `on_order_written` our client id."""

    async def start(self) -> None:
        await self.gateway.start()
        await self.gateway.sync_time()

    async def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        listed = await self.gateway.instruments()
        return {symbol: inst for symbol, inst in listed.items() if symbol in symbols}

    def use_credentials(self, credentials: Credentials) -> None:
        self._signer = self._sign_with(credentials)
        self.gateway.set_signer(self._signer)

    @property
    def api_key_fingerprint(self) -> str:
        return self.gateway.api_key_fingerprint

    def usage_ratio(self) -> float:
        return self.gateway.usage_ratio()

    async def close(self) -> None:
        await self.gateway.close()


def feed_settings(settings: FeedSettingsType[SettingsT], tuning: FeedTuning) -> SettingsT:
    """The config's feed tuning in a venue's settings type; the rest keeps the venue's defaults."""
    return settings(
        staleness_s=tuning.staleness_s,
        ping_idle_s=tuning.ping_idle_s,
        pong_timeout_s=tuning.pong_timeout_s,
        backoff_initial_s=tuning.backoff_initial_s,
        backoff_max_s=tuning.backoff_max_s,
    )


def ours_written(on_order_written: OrderWritten | None, ours: Callable[[str], str]) -> OrderWritten | None:
    """`on_order_written` for a gateway that reports the venue's client id (OKX's clOrdId, Coinbase's
    client_oid): told ours."""
    if on_order_written is None:
        return None
    hook = on_order_written

    def written(venue_id: str, sent_ns: int) -> None:
        hook(ours(venue_id), sent_ns)

    return written


class ReadyUserStream(Generic[StreamT]):
    """Started means logged in and subscribed: the runtime reconciles right after, and an order
    update that arrived before the subscription would be missed."""

    def __init__(self, stream: StreamT, not_ready: str, advice: str, timeout_s: float = 15.0) -> None:
        """The error when it is not ready in time: "{not_ready} within 15 s (why): {advice}"."""
        self.stream = stream
        self.not_ready = not_ready
        self.advice = advice
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
                f"{self.not_ready} within {self.timeout_s:.0f} s "
                f"({self.stream.last_error or 'no answer'}): {self.advice}"
            ) from None

    async def stop(self) -> None:
        await self.stream.stop()
