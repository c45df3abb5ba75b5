"""Bybit v5 REST client (spot) for order entry and account queries, signed, on one aiohttp session.

Failure semantics (venues/_shared/errors.py), as Bybit answers `{"retCode", "retMsg", "result", "time"}`:
- retCode 0                                   -> the typed `result`
- retCode 10006 (too many visits), 10018 (IP limit), HTTP 429
                                              -> RateLimited (the endpoint's window is blocked)
- HTTP 403 ("access too frequent": the IP is banned; Bybit asks to stop for at least 10 minutes)
                                              -> RateLimited, and every request is held back 10 min
- retCode 10000 (server timeout), 10016 (server error), HTTP 5xx, a timeout or a dropped
  connection after the request was written, an undecodable 2xx
                                              -> OutcomeUnknown: query by orderLinkId, never resend
- any other retCode (110001 order does not exist, 110072 duplicate orderLinkId, 10003 invalid key,
  10004 bad signature, 10002 outside the recv window...)
                                              -> VenueRejected(retCode, retMsg)
- no connection could be made                 -> NotSent
Nothing is retried here. The payload (the query string for GET, the JSON body for POST) is signed
exactly as it is sent (auth.py). Every answer's X-Bapi-Limit headers feed the rate limits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, TypeVar, Unpack

import msgspec
import structlog

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.errors import OutcomeUnknown, RateLimited, VenueRejected
from tradestack.venues._shared.signed_rest import SessionTuning, SignedRestGateway, decode_answer
from tradestack.venues.bybit.auth import BybitSigner, query_string
from tradestack.venues.bybit.parse import instruments_from_rest
from tradestack.venues.bybit.rate_limits import WINDOW_NS, BybitRateLimits

log = structlog.get_logger(__name__)

REST_URL: Final = "https://api.bybit.com"
UNKNOWN_OUTCOME_CODES: Final = frozenset({10000, 10016})
RATE_LIMITED_CODES: Final = frozenset({10006, 10018})
ORDER_DOES_NOT_EXIST: Final = 110001
PAGE: Final = 50
IP_BAN_S: Final = 600.0
SPOT: Final = "spot"

# --- wire types: Bybit's documented field names; unknown fields ignored -----------------------------


class Envelope(msgspec.Struct, frozen=True):
    retCode: int
    retMsg: str = ""
    result: msgspec.Raw = msgspec.Raw(b"{}")
    time: int = 0


class OrderAck(msgspec.Struct, frozen=True):
    """The result of POST /v5/order/create and /v5/order/cancel."""

    orderId: str
    orderLinkId: str = ""


class OrderIds(msgspec.Struct, frozen=True):
    items: list[OrderAck] = msgspec.field(name="list", default_factory=list)


class BybitOrder(msgspec.Struct, frozen=True):
    """An entry of GET /v5/order/realtime and /v5/order/history (the fields we read)."""

    symbol: str
    orderId: str
    side: str
    orderStatus: str
    price: str
    qty: str
    cumExecQty: str
    createdTime: str
    updatedTime: str
    orderLinkId: str = ""
    orderType: str = ""
    timeInForce: str = ""
    avgPrice: str = ""
    cumExecFee: str = ""
    rejectReason: str = ""


class OrderPage(msgspec.Struct, frozen=True):
    items: list[BybitOrder] = msgspec.field(name="list", default_factory=list)
    nextPageCursor: str = ""


class Execution(msgspec.Struct, frozen=True):
    """An entry of GET /v5/execution/list (newest first)."""

    symbol: str
    orderId: str
    side: str
    execId: str
    execPrice: str
    execQty: str
    execFee: str
    execTime: str
    orderLinkId: str = ""
    feeCurrency: str = ""
    execType: str = "Trade"
    isMaker: bool = False


class ExecutionPage(msgspec.Struct, frozen=True):
    items: list[Execution] = msgspec.field(name="list", default_factory=list)
    nextPageCursor: str = ""


class WalletCoin(msgspec.Struct, frozen=True):
    coin: str
    walletBalance: str = "0"
    locked: str = "0"


class WalletAccount(msgspec.Struct, frozen=True):
    accountType: str
    coin: list[WalletCoin] = msgspec.field(default_factory=list)


class Wallet(msgspec.Struct, frozen=True):
    items: list[WalletAccount] = msgspec.field(name="list", default_factory=list)


class ApiKeyInfo(msgspec.Struct, frozen=True):
    """GET /v5/user/query-api: the calling key (the fields the key check reads)."""

    readOnly: int = 0
    permissions: dict[str, list[str]] = msgspec.field(default_factory=dict)
    ips: list[str] = msgspec.field(default_factory=list)
    userID: int = 0


class ServerTime(msgspec.Struct, frozen=True):
    timeSecond: str
    timeNano: str


@dataclass(frozen=True, slots=True)
class BybitKeyRestrictions:
    """The calling key's permissions as security/key_permissions.py reads them."""

    read_only: bool
    permissions: Mapping[str, frozenset[str]]
    ips: tuple[str, ...]

    def _has(self, group: str, name: str) -> bool:
        return name in self.permissions.get(group, frozenset())

    @property
    def can_withdraw(self) -> bool:
        return self._has("Wallet", "Withdraw")

    @property
    def can_trade(self) -> bool:
        return not self.read_only and self._has("Spot", "SpotTrade")

    @property
    def can_transfer(self) -> bool:
        return self._has("Wallet", "AccountTransfer") or self._has("Wallet", "SubMemberTransfer")

    @property
    def ip_restricted(self) -> bool:
        return bool(self.ips) and "*" not in self.ips


T = TypeVar("T")


_ENVELOPE = msgspec.json.Decoder(Envelope)
_ACK = msgspec.json.Decoder(OrderAck)
_IDS = msgspec.json.Decoder(OrderIds)
_ORDERS = msgspec.json.Decoder(OrderPage)
_EXECUTIONS = msgspec.json.Decoder(ExecutionPage)
_WALLET = msgspec.json.Decoder(Wallet)
_KEY = msgspec.json.Decoder(ApiKeyInfo)
_TIME = msgspec.json.Decoder(ServerTime)
_encode = msgspec.json.Encoder().encode


class BybitRestGateway(SignedRestGateway[BybitSigner, BybitRateLimits]):
    """Signed Bybit v5 REST.

    >>> gateway = BybitRestGateway(BybitSigner(key, secret), clock=SystemClock())
    >>> async with gateway:
    ...     await gateway.sync_time()
    ...     ack = await gateway.place_order("BTCUSDT", Side.BUY, "0.001", "50000", "c1")
    """

    def __init__(
        self,
        signer: BybitSigner,
        *,
        clock: Clock,
        base_url: str = REST_URL,
        limits: BybitRateLimits | None = None,
        on_order_written: Callable[[str, int], None] | None = None,
        **tuning: Unpack[SessionTuning],
    ) -> None:
        """`on_order_written(order_link_id, monotonic_ns)`: when an order's request was written (the end
        point of tick-to-order latency)."""
        limits = limits if limits is not None else BybitRateLimits()
        super().__init__(signer, limits, clock, base_url, on_order_written, **tuning)
        self._banned_until_ns = 0  # venue time; after an HTTP 403 every request waits

    # --- time ----------------------------------------------------------------------------------------

    async def server_time(self) -> int:
        """GET /v5/market/time: the venue's time in nanoseconds. Bybit refuses a request stamped
        outside [server - recv_window, server + 1 s) (10002): sync_time() measures the offset."""
        answer = await self._request("GET", "/v5/market/time", [], _TIME, signed=False)
        return int(answer.timeNano)

    # --- public --------------------------------------------------------------------------------------

    async def instruments(self) -> dict[str, Instrument]:
        """GET /v5/market/instruments-info (spot) -> {symbol: Instrument} (tickSize, basePrecision)."""
        body = await self._raw("GET", "/v5/market/instruments-info", [("category", SPOT)], "", signed=False)
        return instruments_from_rest(body)

    # --- orders --------------------------------------------------------------------------------------

    async def place_order(
        self,
        symbol: str,
        side: Side,
        size_text: str,
        price_text: str,
        order_link_id: str,
        time_in_force: str = "GTC",
    ) -> OrderAck:
        """POST /v5/order/create: a spot limit order. Never retried: on OutcomeUnknown, query."""
        body = {
            "category": SPOT,
            "symbol": symbol,
            "side": "Buy" if side is Side.BUY else "Sell",
            "orderType": "Limit",
            "qty": size_text,
            "price": price_text,
            "timeInForce": time_in_force,
            "orderLinkId": order_link_id,
        }
        return await self._request("POST", "/v5/order/create", body, _ACK, order_link_id=order_link_id)

    async def cancel_order(
        self, symbol: str, order_link_id: str | None = None, order_id: str | None = None
    ) -> OrderAck:
        """POST /v5/order/cancel by orderLinkId (or orderId); 110001: not open, or unknown."""
        body = {"category": SPOT, "symbol": symbol}
        if order_id is not None:
            body["orderId"] = order_id
        if order_link_id is not None:
            body["orderLinkId"] = order_link_id
        return await self._request("POST", "/v5/order/cancel", body, _ACK)

    async def cancel_all(self, symbol: str) -> list[OrderAck]:
        """POST /v5/order/cancel-all: every open order of the symbol, in one request."""
        body = {"category": SPOT, "symbol": symbol}
        return (await self._request("POST", "/v5/order/cancel-all", body, _IDS)).items

    async def open_orders(self, symbol: str, cursor: str = "") -> OrderPage:
        """GET /v5/order/realtime: one page of open orders, newest first."""
        params = [("category", SPOT), ("symbol", symbol), ("limit", str(PAGE))]
        if cursor:
            params.append(("cursor", cursor))
        return await self._request("GET", "/v5/order/realtime", params, _ORDERS)

    async def order(
        self, symbol: str, order_link_id: str | None = None, order_id: str | None = None
    ) -> BybitOrder | None:
        """One order by orderLinkId or orderId: open ones in /realtime, closed ones in /history.
        None when neither knows it."""
        params = [("category", SPOT), ("symbol", symbol)]
        if order_id is not None:
            params.append(("orderId", order_id))
        if order_link_id is not None:
            params.append(("orderLinkId", order_link_id))
        for path in ("/v5/order/realtime", "/v5/order/history"):
            page = await self._request("GET", path, params, _ORDERS)
            if page.items:
                return page.items[0]
        return None

    async def executions(self, symbol: str, start_ms: int | None, cursor: str = "") -> ExecutionPage:
        """GET /v5/execution/list: one page (newest first) of our trades from `start_ms` on (a 7-day
        range from it; the last 7 days without it)."""
        params = [("category", SPOT), ("symbol", symbol)]
        if start_ms is not None:
            params.append(("startTime", str(start_ms)))
        params.append(("limit", "100"))
        if cursor:
            params.append(("cursor", cursor))
        return await self._request("GET", "/v5/execution/list", params, _EXECUTIONS)

    async def wallet(self) -> WalletAccount:
        """GET /v5/account/wallet-balance?accountType=UNIFIED."""
        wallet = await self._request(
            "GET", "/v5/account/wallet-balance", [("accountType", "UNIFIED")], _WALLET
        )
        if not wallet.items:
            raise VenueRejected(0, "no UNIFIED account in wallet-balance", 200)
        return wallet.items[0]

    async def key_info(self) -> ApiKeyInfo:
        return await self._request("GET", "/v5/user/query-api", [], _KEY)

    async def key_restrictions(self) -> BybitKeyRestrictions:
        """GET /v5/user/query-api: what the calling key may do, and its IP whitelist."""
        info = await self.key_info()
        groups = {group: frozenset(names) for group, names in info.permissions.items()}
        return BybitKeyRestrictions(bool(info.readOnly), groups, tuple(info.ips))

    # --- internals -----------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | dict[str, str],
        decoder: msgspec.json.Decoder[T],
        *,
        signed: bool = True,
        order_link_id: str | None = None,
    ) -> T:
        """GET with `query` pairs, or POST with `query` as the JSON body; `result` decoded."""
        if isinstance(query, list):
            raw = await self._raw(method, path, query, "", signed=signed)
        else:
            body = _encode(query).decode()
            raw = await self._raw(method, path, [], body, signed=signed, order_link_id=order_link_id)
        try:
            return decoder.decode(_ENVELOPE.decode(raw).result)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise OutcomeUnknown(f"{method} {path}: undecodable result {raw[:200]!r}") from exc

    async def _raw(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: str,
        *,
        signed: bool = True,
        order_link_id: str | None = None,
    ) -> bytes:
        session = self._started()
        endpoint = f"{method} {path}"
        now = self.venue_time_ns()
        if now < self._banned_until_ns:
            raise RateLimited((self._banned_until_ns - now) / 1_000_000_000, None)
        limiter = self.limits.limiter(endpoint)
        if limiter is not None:
            verdict = limiter.acquire(1, now)
            if not verdict.allowed:
                raise RateLimited(verdict.wait_seconds, None)
        text = query_string(query)
        headers = {"Content-Type": "application/json"} if method != "GET" else {}
        if signed:
            headers.update(self._signer.headers(now // 1_000_000, text if method == "GET" else body))
        payload, status, answer_headers = await self._exchange(
            session, method, path, text, body, headers, order_link_id
        )
        self.limits.observe(endpoint, answer_headers, self.venue_time_ns())
        if status == 403:
            self._banned_until_ns = self.venue_time_ns() + int(IP_BAN_S * 1_000_000_000)
            log.error("bybit_rest.ip_banned", endpoint=endpoint, retry_after=IP_BAN_S)
            raise RateLimited(IP_BAN_S, status)
        if status == 429:
            self._rate_limited(endpoint, status)
        envelope = decode_answer(_ENVELOPE, endpoint, payload, status)
        code = envelope.retCode
        if code == 0:
            return payload
        if code in RATE_LIMITED_CODES:
            self._rate_limited(endpoint, status)
        if code in UNKNOWN_OUTCOME_CODES:
            raise OutcomeUnknown(f"{endpoint}: {code} {envelope.retMsg}", status)
        raise VenueRejected(code, envelope.retMsg, status)

    def _rate_limited(self, endpoint: str, status: int) -> None:
        now = self.venue_time_ns()
        report = self.limits.reported.get(endpoint)
        wait_ns = report.reset_ns - now if report is not None and report.reset_ns > now else WINDOW_NS
        wait_s = min(wait_ns, WINDOW_NS) / 1_000_000_000
        limiter = self.limits.limiter(endpoint)
        if limiter is not None:
            limiter.block(wait_s, now, reason=f"HTTP {status} 10006")
        log.warning("bybit_rest.rate_limited", endpoint=endpoint, status=status, retry_after=wait_s)
        raise RateLimited(wait_s, status)
