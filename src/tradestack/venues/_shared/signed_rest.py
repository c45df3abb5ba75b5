"""SignedRestGateway: the shell the OKX, Bybit, Coinbase and Kraken REST gateways share.

    class XxxRestGateway(SignedRestGateway[XxxSigner, XxxRateLimits]):
        server_time_unit_ns = 1_000_000  # server_time() in milliseconds

        def __init__(self, signer: XxxSigner, *, clock: Clock, base_url: str = REST_URL,
                     limits: XxxRateLimits | None = None, **tuning: Unpack[SessionTuning]) -> None:
            limits = limits if limits is not None else XxxRateLimits()
            super().__init__(signer, limits, clock, base_url, **tuning)

        async def server_time(self) -> int: ...

One order-entry session (written.py: never re-sent by aiohttp, its trace marks what was written), the
key it signs with, rotated in place, the venue's clock offset, and the one send that tells a request
that never left (NotSent) from one the venue may have acted on (OutcomeUnknown). A subclass keeps its
dialect: how a request is signed and built, how answers and errors map, and its rate limits.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Generic, Protocol, Self, TypedDict, TypeVar

import aiohttp
import msgspec
from yarl import URL

from tradestack.ports import Clock
from tradestack.venues._shared.errors import NotSent, OutcomeUnknown, VenueRejected
from tradestack.venues._shared.written import HeadersSent, Written, mark_written, order_entry_session


class KeyedSigner(Protocol):
    @property
    def api_key(self) -> str: ...


class UsageCounted(Protocol):
    """A venue's rate limits, as far as the shell reads them."""

    def usage_ratio(self, now_ns: int) -> float: ...


class SessionTuning(TypedDict, total=False):
    """The session keyword arguments every gateway takes alike (defaults: SignedRestGateway)."""

    timeout_s: float
    connect_timeout_s: float
    keepalive_timeout_s: float


SignerT = TypeVar("SignerT", bound=KeyedSigner)
LimitsT = TypeVar("LimitsT", bound=UsageCounted)
E = TypeVar("E")


class SignedRestGateway(ABC, Generic[SignerT, LimitsT]):
    # what one unit of `server_time()` is, in nanoseconds
    server_time_unit_ns = 1

    def __init__(
        self,
        signer: SignerT,
        limits: LimitsT,
        clock: Clock,
        base_url: str,
        on_order_written: Callable[[str, int], None] | None = None,
        *,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 3.0,
        keepalive_timeout_s: float = 30.0,
    ) -> None:
        """`on_order_written(venue client id, monotonic_ns)`: when a new order's request was written
        (the end point of tick-to-order latency)."""
        self._signer = signer
        self._clock = clock
        self._on_order_written = on_order_written
        self._base_url = base_url.rstrip("/")
        self.limits = limits
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=connect_timeout_s)
        self._keepalive_timeout_s = keepalive_timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._offset_ns = 0

    def set_signer(self, signer: SignerT) -> None:
        """Sign with another key from the next request on (a key rotation)."""
        self._signer = signer

    @property
    def api_key_fingerprint(self) -> str:
        return hashlib.sha256(self._signer.api_key.encode()).hexdigest()[:12]

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._session is None:
            self._session = order_entry_session(
                self._timeout, self._keepalive_timeout_s, self._headers_sent()
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- time and usage ------------------------------------------------------------------------------

    def venue_time_ns(self) -> int:
        return self._clock.now_ns() + self._offset_ns

    @abstractmethod
    async def server_time(self) -> int:
        """The venue's clock, in `server_time_unit_ns`."""

    async def sync_time(self) -> int:
        """Measure the server-time offset (midpoint of the round trip); returns it in nanoseconds.
        Signed requests are stamped in venue time: venues refuse a stamp too far from their clock."""
        before = self._clock.now_ns()
        server_ns = await self.server_time() * self.server_time_unit_ns
        after = self._clock.now_ns()
        self._offset_ns = server_ns - (before + after) // 2
        return self._offset_ns

    def usage_ratio(self) -> float:
        """The fullest of the venue's rate-limit budgets, as we count them."""
        return self.limits.usage_ratio(self.venue_time_ns())

    # --- sending -------------------------------------------------------------------------------------

    def _headers_sent(self) -> HeadersSent:
        """The session's headers-sent trace: marks a request's `Written`, times a new order's."""
        return mark_written(self._clock, self._on_order_written)

    def _started(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("gateway not started")
        return self._session

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        query: str,
        body: str,
        headers: Mapping[str, str],
        order: str | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        """Send the request once (`query` already encoded, as signed) -> body, status and headers.
        `order`: the venue client id of the order a new-order request places (tick-to-order)."""
        endpoint = f"{method} {path}"
        url = URL(f"{self._base_url}{path}?{query}" if query else f"{self._base_url}{path}", encoded=True)
        sent = Written(order)
        try:
            async with session.request(
                method, url, data=body.encode() if body else None, headers=headers, trace_request_ctx=sent
            ) as response:
                return await response.read(), response.status, response.headers
        except aiohttp.ClientConnectorError as exc:
            raise NotSent(f"{endpoint}: cannot connect: {exc}") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if not sent:
                raise NotSent(f"{endpoint}: failed before sending: {exc!r}") from exc
            raise OutcomeUnknown(f"{endpoint}: no response after sending: {exc!r}") from exc


def decode_answer(decoder: msgspec.json.Decoder[E], endpoint: str, payload: bytes, status: int) -> E:
    """A venue's answer envelope. A 5xx or an undecodable 2xx may have been acted on (OutcomeUnknown);
    any other undecodable answer is a refusal."""
    if status >= 500:
        raise OutcomeUnknown(f"{endpoint}: server error {payload[:200]!r}", status)
    try:
        return decoder.decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        if 200 <= status < 300:
            raise OutcomeUnknown(f"{endpoint}: undecodable response {payload[:200]!r}", status) from exc
        raise VenueRejected(0, payload[:200].decode(errors="replace"), status) from None
