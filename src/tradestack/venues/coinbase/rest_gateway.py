"""Coinbase Exchange REST client for order entry and account queries, signed, on one aiohttp session.

Failure semantics (venues/_shared/errors.py), as Coinbase Exchange answers (bodies are the resource
itself on success, `{"message": "..."}` on failure; there are no error codes, so VenueRejected.code
is the HTTP status):
- 2xx                                   -> the typed resource
- POST /orders 2xx with status "rejected" (post only) -> VenueRejected(0, reject_reason)
- 400 (insufficient funds, bad parameters, order already done), 401 (invalid signature, key,
  passphrase), 403, 404 (NotFound)      -> VenueRejected(status, message)
- 429                                   -> RateLimited (our bucket for that budget is emptied)
- 5xx, a timeout or a dropped connection after the request was written, an undecodable 2xx
                                        -> OutcomeUnknown: query by client_oid, never resend
- no connection could be made           -> NotSent
Nothing is retried here. The request path (with its query string) and the body are signed exactly as
they are sent (auth.py). Numbers stay Coinbase's exact decimal strings; GET /time's `epoch` (a JSON
number) is read from its raw text, exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar, Unpack
from urllib.parse import quote, urlencode

import msgspec
import structlog

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, parse_fixed
from tradestack.ports import Clock
from tradestack.venues._shared.errors import OutcomeUnknown, RateLimited, VenueRejected
from tradestack.venues._shared.signed_rest import SessionTuning, SignedRestGateway
from tradestack.venues.coinbase.auth import CoinbaseExchangeSigner, exchange_timestamp
from tradestack.venues.coinbase.parse import CoinbaseParseError, products_from_rest
from tradestack.venues.coinbase.rate_limits import CoinbaseRateLimits, bucket_of

log = structlog.get_logger(__name__)

REST_URL: Final = "https://api.exchange.coinbase.com"
PAGE: Final = 100
NOT_FOUND: Final = 404


# --- wire types: Coinbase's documented field names; unknown fields ignored --------------------------


class ErrorBody(msgspec.Struct, frozen=True):
    message: str = ""


class CoinbaseOrder(msgspec.Struct, frozen=True):
    """POST /orders, GET /orders/{id}, GET /orders/client:{client_oid}, GET /orders (the fields we read)."""

    id: str
    product_id: str
    side: str
    status: str  # pending | open | active | done | rejected
    created_at: str
    type: str = "limit"
    price: str = ""
    size: str = ""
    filled_size: str = "0"
    fill_fees: str = "0"
    executed_value: str = "0"
    time_in_force: str = "GTC"
    post_only: bool = False
    done_reason: str = ""  # filled | canceled (when done)
    done_at: str = ""
    reject_reason: str = ""
    client_oid: str = ""
    settled: bool = False


class CoinbaseFill(msgspec.Struct, frozen=True):
    """GET /fills (newest first)."""

    trade_id: int
    product_id: str
    order_id: str
    price: str
    size: str
    fee: str
    side: str
    created_at: str
    liquidity: str = ""  # M (maker) | T (taker)
    settled: bool = True


class CoinbaseAccount(msgspec.Struct, frozen=True):
    """GET /accounts: one per currency of the profile."""

    id: str
    currency: str
    balance: str
    available: str
    hold: str
    profile_id: str = ""
    trading_enabled: bool = True


class ServerTime(msgspec.Struct, frozen=True):
    iso: str
    epoch: msgspec.Raw


class RestBook(msgspec.Struct, frozen=True):
    """GET /products/{id}/book?level=2: [price, size, num_orders] levels and the full-feed sequence."""

    bids: list[tuple[str, str, int]]
    asks: list[tuple[str, str, int]]
    sequence: int
    time: str = ""


T = TypeVar("T")

_ERROR = msgspec.json.Decoder(ErrorBody)
_ORDER = msgspec.json.Decoder(CoinbaseOrder)
_ORDERS = msgspec.json.Decoder(list[CoinbaseOrder])
_FILLS = msgspec.json.Decoder(list[CoinbaseFill])
_ACCOUNTS = msgspec.json.Decoder(list[CoinbaseAccount])
_TIME = msgspec.json.Decoder(ServerTime)
_BOOK = msgspec.json.Decoder(RestBook)
_ID = msgspec.json.Decoder(str)
_IDS = msgspec.json.Decoder(list[str])
_encode = msgspec.json.Encoder().encode


class CoinbaseRestGateway(SignedRestGateway[CoinbaseExchangeSigner, CoinbaseRateLimits]):
    """Signed Coinbase Exchange REST.

    >>> gateway = CoinbaseRestGateway(CoinbaseExchangeSigner(key, secret, passphrase), clock=SystemClock())
    >>> async with gateway:
    ...     await gateway.sync_time()
    ...     order = await gateway.place_order("BTC-USD", Side.BUY, "0.001", "50000.00", client_oid)
    """

    def __init__(
        self,
        signer: CoinbaseExchangeSigner,
        *,
        clock: Clock,
        base_url: str = REST_URL,
        limits: CoinbaseRateLimits | None = None,
        on_order_written: Callable[[str, int], None] | None = None,
        **tuning: Unpack[SessionTuning],
    ) -> None:
        """`on_order_written(client_oid, monotonic_ns)`: when an order's request was written."""
        limits = limits if limits is not None else CoinbaseRateLimits()
        super().__init__(signer, limits, clock, base_url, on_order_written, **tuning)
        self.requests = 0

    @property
    def signer(self) -> CoinbaseExchangeSigner:
        return self._signer

    # --- time ----------------------------------------------------------------------------------------

    async def server_time(self) -> int:
        """GET /time: the venue's time in nanoseconds (from `epoch`, seconds with decimals). Coinbase
        refuses a request whose timestamp is more than 30 s away from its clock: see sync_time()."""
        raw = await self._raw("GET", "/time", [], "", signed=False)
        try:
            epoch = bytes(_TIME.decode(raw).epoch).decode()
            return parse_fixed(epoch, 9)
        except (msgspec.DecodeError, ValueError) as exc:
            raise OutcomeUnknown(f"GET /time: undecodable {raw[:200]!r}") from exc

    # --- public --------------------------------------------------------------------------------------

    async def instruments(self) -> dict[str, Instrument]:
        """GET /products -> {product id: Instrument} (quote_increment, base_increment)."""
        body = await self._raw("GET", "/products", [], "", signed=False)
        try:
            return products_from_rest(body)
        except CoinbaseParseError as exc:
            raise OutcomeUnknown(f"GET /products: {exc}") from exc

    async def book(self, product_id: str) -> RestBook:
        """GET /products/{id}/book?level=2: aggregated levels and the product's sequence."""
        path = f"/products/{quote(product_id, safe='')}/book"
        return await self._request("GET", path, [("level", "2")], "", _BOOK, signed=False)

    # --- orders --------------------------------------------------------------------------------------

    async def place_order(
        self,
        product_id: str,
        side: Side,
        size_text: str,
        price_text: str,
        client_oid: str,
        *,
        time_in_force: str = "GTC",
        post_only: bool = False,
    ) -> CoinbaseOrder:
        """POST /orders, a limit order. Never retried: on OutcomeUnknown, query by client_oid."""
        body = {
            "client_oid": client_oid,
            "product_id": product_id,
            "side": "buy" if side is Side.BUY else "sell",
            "type": "limit",
            "price": price_text,
            "size": size_text,
            "time_in_force": time_in_force,
            "post_only": post_only,
        }
        order = await self._request("POST", "/orders", [], _encode(body).decode(), _ORDER, order=client_oid)
        if order.status == "rejected":
            raise VenueRejected(0, f"rejected: {order.reject_reason}", 200)
        return order

    async def cancel_order(
        self, product_id: str, *, client_oid: str | None = None, order_id: str | None = None
    ) -> str:
        """DELETE /orders/{id} or /orders/client:{client_oid}; returns the canceled order's id.
        404 NotFound: unknown (or long gone); 400 "Order already done"."""
        return await self._request(
            "DELETE", _order_path(client_oid, order_id), [("product_id", product_id)], "", _ID
        )

    async def cancel_all(self, product_id: str) -> list[str]:
        """DELETE /orders?product_id=: every open order of the product; the canceled ids."""
        return await self._request("DELETE", "/orders", [("product_id", product_id)], "", _IDS)

    async def order(self, *, client_oid: str | None = None, order_id: str | None = None) -> CoinbaseOrder:
        """GET /orders/{id} or /orders/client:{client_oid} (404 NotFound: does not exist)."""
        return await self._request("GET", _order_path(client_oid, order_id), [], "", _ORDER)

    async def orders(
        self, product_id: str | None, status: str = "open", after: str | None = None
    ) -> tuple[list[CoinbaseOrder], str | None]:
        """GET /orders: one page (newest first) and the `CB-AFTER` cursor of the next (older) one."""
        params = [("status", status)]
        if product_id is not None:
            params.append(("product_id", product_id))
        params.append(("limit", str(PAGE)))
        if after is not None:
            params.append(("after", after))
        return await self._page("/orders", params, _ORDERS)

    async def fills(self, product_id: str, after: str | None = None) -> tuple[list[CoinbaseFill], str | None]:
        """GET /fills?product_id=: one page (newest first) and the cursor of the next (older) one."""
        params = [("product_id", product_id), ("limit", str(PAGE))]
        if after is not None:
            params.append(("after", after))
        return await self._page("/fills", params, _FILLS)

    async def accounts(self) -> list[CoinbaseAccount]:
        """GET /accounts: balance (total), available and hold per currency."""
        return await self._request("GET", "/accounts", [], "", _ACCOUNTS)

    # --- internals -----------------------------------------------------------------------------------

    async def _page(
        self, path: str, params: list[tuple[str, str]], decoder: msgspec.json.Decoder[list[T]]
    ) -> tuple[list[T], str | None]:
        headers: dict[str, str] = {}
        raw = await self._raw("GET", path, params, "", response_headers=headers)
        try:
            rows = decoder.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise OutcomeUnknown(f"GET {path}: undecodable {raw[:200]!r}") from exc
        return rows, headers.get("CB-AFTER") or None

    async def _request(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: str,
        decoder: msgspec.json.Decoder[T],
        *,
        signed: bool = True,
        order: str | None = None,
    ) -> T:
        raw = await self._raw(method, path, query, body, signed=signed, order=order)
        try:
            return decoder.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise OutcomeUnknown(f"{method} {path}: undecodable {raw[:200]!r}") from exc

    async def _raw(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: str,
        *,
        signed: bool = True,
        response_headers: dict[str, str] | None = None,
        order: str | None = None,
    ) -> bytes:
        session = self._started()
        endpoint = f"{method} {path}"
        bucket = bucket_of(method, path, signed)
        now = self.venue_time_ns()
        wait_ns = self.limits.take(bucket, now)
        if wait_ns:
            raise RateLimited(wait_ns / 1_000_000_000, None)
        query_text = urlencode(query)
        headers = {"Content-Type": "application/json"} if body else {}
        if signed:
            request_path = f"{path}?{query_text}" if query_text else path
            headers.update(self._signer.headers(exchange_timestamp(now), method, request_path, body))
        self.requests += 1
        payload, status, answer_headers = await self._exchange(
            session, method, path, query_text, body, headers, order
        )
        if response_headers is not None:
            response_headers.update((k, v) for k, v in answer_headers.items() if k.startswith("CB-"))
        if 200 <= status < 300:
            return payload
        if status == 429:
            wait_s = self.limits.refused(bucket, self.venue_time_ns())
            log.warning("coinbase_rest.rate_limited", endpoint=endpoint, retry_after=wait_s)
            raise RateLimited(wait_s, status)
        if status >= 500:
            raise OutcomeUnknown(f"{endpoint}: server error {payload[:200]!r}", status)
        try:
            message = _ERROR.decode(payload).message
        except (msgspec.DecodeError, UnicodeDecodeError):
            message = payload[:200].decode(errors="replace")
        raise VenueRejected(status, message, status)


def _order_path(client_oid: str | None, order_id: str | None) -> str:
    if order_id is not None:
        return f"/orders/{quote(order_id, safe='')}"
    if client_oid is None:
        raise ValueError("an order id or a client_oid is needed")
    return f"/orders/client:{quote(client_oid, safe='')}"
