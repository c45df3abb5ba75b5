"""Binance spot REST client for order entry and account queries, on one persistent aiohttp session.

Failure semantics (see venues/_shared/errors.py) are the point of this module:
- 2xx                              -> the typed result
- 4xx with {"code", "msg"}         -> VenueRejected(code, msg, status)   (not executed)
- 429 / 418                        -> RateLimited(Retry-After)            (not executed; limiter blocked)
- 5xx, codes -1006/-1007, a timeout or a dropped connection after the request was written, or an
  undecodable 2xx                  -> OutcomeUnknown: query by client order id, never resend blindly
- no connection could be made      -> NotSent
Nothing is retried here: not by us, and not by aiohttp (its one automatic retry of idempotent
methods on a reused connection is switched off, since DELETE cancels order state).

Two transports, one set of rules (signing, limiter accounting, error mapping, timing):
- `new_order`, `cancel_order` and every query: aiohttp, awaited.
- `new_order_now`, `cancel_order_now`: the order-entry fast path on a small pool of warm HTTP/1.1
  connections (venues/_shared/http1.py). The request is signed and WRITTEN before the call returns;
  the returned future carries the answer. When no warm connection is idle they raise NotSent at once,
  before anything is counted or written, so the caller may send the same request by `new_order`.

Every parameter, signed or not, travels in the query string in the order given, so the signed
payload is exactly the bytes on the wire. Numbers stay the exact decimal strings Binance sends.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import Final, Literal, TypeVar
from urllib.parse import urlsplit

import aiohttp
import msgspec
import structlog
from yarl import URL

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.errors import NotSent, OutcomeUnknown, RateLimited, VenueError, VenueRejected
from tradestack.venues._shared.http1 import HeaderBlock, Http1Pool, Response
from tradestack.venues._shared.rate_limit import SECOND_NS, LimitKind, RateLimiter, UsageLimit
from tradestack.venues.binance import urls
from tradestack.venues.binance.auth import HmacSigner, encode_params

log = structlog.get_logger(__name__)

OrderType = Literal[
    "LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"
]
TimeInForce = Literal["GTC", "IOC", "FOK"]
ResponseType = Literal["ACK", "RESULT", "FULL"]

# Binance error codes that mean "sent, but the result is unknown" whatever the HTTP status.
UNKNOWN_OUTCOME_CODES: Final = frozenset({-1006, -1007})  # UNEXPECTED_RESP, TIMEOUT

_MS = 1_000_000
READ_WAIT_MAX_S = 60.0  # the longest a read waits for our own limiter (a minute window turns over)
# listen-key calls (spot's userDataStream, futures' listenKey) wait like reads: the user stream that
# needs them must come back after a restart however busy the minute was
LISTEN_KEY_PATHS = ("/userDataStream", "/listenKey")

# --- wire types: Binance's documented response shapes, camelCase on the wire; unknown fields ignored --


class BinanceErrorBody(msgspec.Struct, frozen=True, rename="camel"):
    code: int
    msg: str


class ServerTime(msgspec.Struct, frozen=True, rename="camel"):
    server_time: int


class OrderFill(msgspec.Struct, frozen=True, rename="camel"):
    price: str
    qty: str
    commission: str
    commission_asset: str
    trade_id: int = -1


class OrderAck(msgspec.Struct, frozen=True, rename="camel"):
    """POST /api/v3/order. ACK carries the first five fields; RESULT adds the order; FULL the fills."""

    symbol: str
    order_id: int
    client_order_id: str
    transact_time: int
    order_list_id: int = -1
    price: str = ""
    orig_qty: str = ""
    executed_qty: str = ""
    cummulative_quote_qty: str = ""  # sic: Binance's spelling
    status: str = ""
    time_in_force: str = ""
    type: str = ""
    side: str = ""
    working_time: int = 0
    self_trade_prevention_mode: str = ""
    fills: list[OrderFill] = []


class Order(msgspec.Struct, frozen=True, rename="camel"):
    """GET /api/v3/order and each entry of GET /api/v3/openOrders."""

    symbol: str
    order_id: int
    client_order_id: str
    price: str
    orig_qty: str
    executed_qty: str
    cummulative_quote_qty: str
    status: str
    time_in_force: str
    type: str
    side: str
    time: int
    update_time: int
    is_working: bool
    order_list_id: int = -1
    stop_price: str = ""
    iceberg_qty: str = ""
    working_time: int = 0
    orig_quote_order_qty: str = ""
    self_trade_prevention_mode: str = ""


class CanceledOrder(msgspec.Struct, frozen=True, rename="camel"):
    """DELETE /api/v3/order, and each entry of DELETE /api/v3/openOrders. An order-list (OCO) entry
    has no order fields of its own: its orders' cancels are in `order_reports`."""

    symbol: str
    orig_client_order_id: str = ""
    order_id: int = -1
    order_list_id: int = -1
    client_order_id: str = ""  # the id of the cancel request itself
    transact_time: int = 0
    price: str = ""
    orig_qty: str = ""
    executed_qty: str = ""
    cummulative_quote_qty: str = ""
    status: str = ""
    time_in_force: str = ""
    type: str = ""
    side: str = ""
    self_trade_prevention_mode: str = ""
    order_reports: list[CanceledOrder] = []


class Balance(msgspec.Struct, frozen=True, rename="camel"):
    asset: str
    free: str
    locked: str


class CommissionRates(msgspec.Struct, frozen=True, rename="camel"):
    maker: str
    taker: str
    buyer: str
    seller: str


class Account(msgspec.Struct, frozen=True, rename="camel"):
    """GET /api/v3/account."""

    can_trade: bool
    update_time: int
    account_type: str
    balances: list[Balance]
    maker_commission: int = 0
    taker_commission: int = 0
    can_withdraw: bool = False
    can_deposit: bool = False
    permissions: list[str] = []
    uid: int = 0
    commission_rates: CommissionRates | None = None


class AccountTrade(msgspec.Struct, frozen=True, rename="camel"):
    """GET /api/v3/myTrades."""

    symbol: str
    id: int
    order_id: int
    price: str
    qty: str
    quote_qty: str
    commission: str
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool
    order_list_id: int = -1
    is_best_match: bool = True


class RateLimitInfo(msgspec.Struct, frozen=True, rename="camel"):
    rate_limit_type: str  # REQUEST_WEIGHT | ORDERS | RAW_REQUESTS
    interval: str  # SECOND | MINUTE | HOUR | DAY
    interval_num: int
    limit: int


class SymbolFilter(msgspec.Struct, frozen=True, rename="camel"):
    """One entry of a symbol's `filters`; only the fields we use are typed, the rest ignored."""

    filter_type: str
    min_price: str = ""
    max_price: str = ""
    tick_size: str = ""
    min_qty: str = ""
    max_qty: str = ""
    step_size: str = ""
    min_notional: str = ""
    max_notional: str = ""


class SymbolInfo(msgspec.Struct, frozen=True, rename="camel"):
    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    base_asset_precision: int = 0
    quote_asset_precision: int = 0
    order_types: list[str] = []
    is_spot_trading_allowed: bool = True
    filters: list[SymbolFilter] = []

    def filter(self, filter_type: str) -> SymbolFilter | None:
        for entry in self.filters:
            if entry.filter_type == filter_type:
                return entry
        return None

    def instrument(self, venue: str = "binance") -> Instrument:
        """The domain instrument: tick from PRICE_FILTER, lot from LOT_SIZE, notional floor from
        NOTIONAL (or the older MIN_NOTIONAL)."""
        price = self.filter("PRICE_FILTER")
        lot = self.filter("LOT_SIZE")
        if price is None or lot is None:
            raise ValueError(f"{self.symbol}: PRICE_FILTER and LOT_SIZE are required")
        notional = self.filter("NOTIONAL") or self.filter("MIN_NOTIONAL")
        return Instrument.from_steps(
            venue=venue,
            symbol=self.symbol,
            base=self.base_asset,
            quote=self.quote_asset,
            tick_size=price.tick_size,
            step_size=lot.step_size,
            min_qty=lot.min_qty or "0",
            min_notional=notional.min_notional if notional is not None and notional.min_notional else "0",
        )


class ExchangeInfo(msgspec.Struct, frozen=True, rename="camel"):
    timezone: str
    server_time: int
    rate_limits: list[RateLimitInfo]
    symbols: list[SymbolInfo]


class Depth(msgspec.Struct, frozen=True, rename="camel"):
    last_update_id: int
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]


class ListenKey(msgspec.Struct, frozen=True, rename="camel"):
    listen_key: str


class _Empty(msgspec.Struct, frozen=True, rename="camel"):
    pass


T = TypeVar("T")

_ERROR = msgspec.json.Decoder(BinanceErrorBody)
_SERVER_TIME = msgspec.json.Decoder(ServerTime)
_ORDER_ACK = msgspec.json.Decoder(OrderAck)
_ORDER = msgspec.json.Decoder(Order)
_ORDERS = msgspec.json.Decoder(list[Order])
_CANCELED = msgspec.json.Decoder(CanceledOrder)
_CANCELED_LIST = msgspec.json.Decoder(list[CanceledOrder])
_ACCOUNT = msgspec.json.Decoder(Account)
_TRADES = msgspec.json.Decoder(list[AccountTrade])
_EXCHANGE_INFO = msgspec.json.Decoder(ExchangeInfo)
_DEPTH = msgspec.json.Decoder(Depth)
_LISTEN_KEY = msgspec.json.Decoder(ListenKey)
_EMPTY = msgspec.json.Decoder(_Empty)

# --- rate limits ------------------------------------------------------------------------------------

_INTERVAL_NS = {
    "SECOND": SECOND_NS,
    "MINUTE": 60 * SECOND_NS,
    "HOUR": 3600 * SECOND_NS,
    "DAY": 86400 * SECOND_NS,
}
_HEADER_PREFIX = {"REQUEST_WEIGHT": "X-MBX-USED-WEIGHT-", "ORDERS": "X-MBX-ORDER-COUNT-"}


def limits_from_exchange_info(rate_limits: Sequence[RateLimitInfo]) -> list[UsageLimit]:
    """exchangeInfo `rateLimits` -> limiter windows, each with the header Binance reports it in."""
    result = []
    for info in rate_limits:
        prefix = _HEADER_PREFIX.get(info.rate_limit_type)
        header = f"{prefix}{info.interval_num}{info.interval[0]}" if prefix else None
        result.append(
            UsageLimit(
                kind=LimitKind(info.rate_limit_type),
                interval_ns=_INTERVAL_NS[info.interval] * info.interval_num,
                limit=info.limit,
                header=header,
            )
        )
    return result


# Binance spot's published defaults; replace them from exchange_info() at startup.
DEFAULT_SPOT_LIMITS: Final = limits_from_exchange_info(
    [
        RateLimitInfo("REQUEST_WEIGHT", "MINUTE", 1, 6000),
        RateLimitInfo("ORDERS", "SECOND", 10, 100),
        RateLimitInfo("ORDERS", "DAY", 1, 200000),
        RateLimitInfo("RAW_REQUESTS", "MINUTE", 5, 61000),
    ]
)


def depth_weight(limit: int) -> int:
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


# --- timing ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RequestTiming:
    """Monotonic times of one request, handed to `on_timing` when it ends (success or not).

    `sent_ns` is the end point of tick-to-order latency; None: nothing was sent. On the fast path
    (`*_now`) it is read right after `transport.write` returned; through aiohttp, when aiohttp hands
    the request head to its writer (just before serializing and writing it: slightly early).
    """

    method: str
    path: str
    client_order_id: str | None
    started_ns: int
    sent_ns: int | None = None
    finished_ns: int = 0
    status: int | None = None


# --- the gateway -------------------------------------------------------------------------------------


class BinanceRestGateway:
    """Order entry and account queries against Binance spot REST.

    >>> gateway = BinanceRestGateway(HmacSigner(key, secret), clock=SystemClock(), base_url=urls.SPOT_REST)
    >>> async with gateway:
    ...     await gateway.sync_time()
    ...     ack = await gateway.new_order("BTCUSDT", Side.BUY, "LIMIT", "0.001", "50000.00", "GTC", "c-1")
    """

    def __init__(
        self,
        signer: HmacSigner,
        *,
        clock: Clock,
        base_url: str = urls.SPOT_REST,
        limiter: RateLimiter | None = None,
        recv_window_ms: int = 5000,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 3.0,
        keepalive_timeout_s: float = 30.0,
        on_timing: Callable[[RequestTiming], None] | None = None,
        order_connections: int = 4,
    ) -> None:
        """`order_connections`: warm connections kept for `*_now` order entry (0: no fast path).
        `timeout_s` bounds every request on either transport; an idle pooled connection is closed
        after `keepalive_timeout_s` (and the fast path reopens it), before a server would."""
        self._signer = signer
        self._clock = clock
        self._base_url = base_url.rstrip("/")
        url = urlsplit(self._base_url)
        self._origin = f"{url.scheme}://{url.netloc}"
        self._base_path = url.path
        self.limiter = limiter if limiter is not None else RateLimiter(DEFAULT_SPOT_LIMITS)
        self._recv_window = str(recv_window_ms)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=connect_timeout_s)
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._keepalive_timeout_s = keepalive_timeout_s
        self._order_connections = order_connections
        # Public so a caller (a benchmark, a metrics layer) can wrap it after construction.
        self.on_timing = on_timing
        self._offset_ns = 0
        self._session: aiohttp.ClientSession | None = None
        self._pool: Http1Pool | None = None
        self.set_signer(signer)

    def set_signer(self, signer: HmacSigner) -> None:
        """Sign with another key from the next request on (a key rotation); nothing in flight changes."""
        self._signer = signer
        self._key_headers = {"X-MBX-APIKEY": signer.api_key}
        # Binance's documented type for POST/PUT/DELETE; aiohttp would label the empty body octet-stream.
        self._key_form_headers = {**self._key_headers, "Content-Type": "application/x-www-form-urlencoded"}
        # the same headers, checked and encoded once for the fast path
        self._key_block = HeaderBlock(self._key_headers)
        self._key_form_block = HeaderBlock(self._key_form_headers)

    @property
    def api_key_fingerprint(self) -> str:
        """Which key is in use, without revealing it: the first 12 hex digits of its SHA-256."""
        return hashlib.sha256(self._signer.api_key.encode()).hexdigest()[:12]

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._session is not None:
            return
        trace = aiohttp.TraceConfig()
        trace.on_request_headers_sent.append(self._mark_sent)
        # aiohttp sets TCP_NODELAY on every connection; keep-alive keeps the TLS session warm.
        connector = aiohttp.TCPConnector(keepalive_timeout=self._keepalive_timeout_s, ttl_dns_cache=300)
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            trace_configs=[trace],
            headers={"User-Agent": "tradestack"},
        )
        # aiohttp resends an idempotent request (GET/PUT/DELETE) once when a reused connection fails;
        # a cancel that reached the venue must not be sent twice. Its own test client does the same.
        session._retry_connection = False
        self._session = session
        if self._order_connections > 0:
            pool = Http1Pool(
                self._origin,
                size=self._order_connections,
                connect_timeout_s=self._connect_timeout_s,
                request_timeout_s=self._timeout_s,
                idle_timeout_s=self._keepalive_timeout_s,
                default_headers={"User-Agent": "tradestack"},
                clock=self._clock.monotonic_ns,
            )
            self._pool = pool
            # Waits for the first connects (each bounded); a venue that is down does not fail start:
            # the pool keeps trying, and until then `*_now` raises NotSent.
            await pool.start()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def fast_path_ready(self) -> bool:
        """Whether `*_now` would write at once (a warm connection is idle)."""
        return self._pool is not None and self._pool.ready

    async def __aenter__(self) -> BinanceRestGateway:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- time --------------------------------------------------------------------------------------

    @property
    def server_time_offset_ns(self) -> int:
        return self._offset_ns

    def venue_time_ns(self) -> int:
        """Our wall clock corrected by the measured server-time offset."""
        return self._clock.now_ns() + self._offset_ns

    async def server_time(self) -> int:
        """GET /api/v3/time: the venue's time in milliseconds."""
        return (await self._request("GET", "/api/v3/time", [], weight=1, decoder=_SERVER_TIME)).server_time

    async def sync_time(self) -> int:
        """Measure the server-time offset (midpoint of the round trip); returns it in nanoseconds."""
        before = self._clock.now_ns()
        server_ms = await self.server_time()
        after = self._clock.now_ns()
        self._offset_ns = server_ms * _MS - (before + after) // 2
        return self._offset_ns

    async def ping(self) -> None:
        """GET /api/v3/ping: also keeps the pooled connection warm between orders."""
        await self._request("GET", "/api/v3/ping", [], weight=1, decoder=_EMPTY)

    # --- orders ------------------------------------------------------------------------------------

    async def new_order(
        self,
        symbol: str,
        side: Side,
        order_type: OrderType,
        quantity_text: str,
        price_text: str | None,
        time_in_force: TimeInForce | None,
        client_order_id: str,
        *,
        response_type: ResponseType = "RESULT",
    ) -> OrderAck:
        """POST /api/v3/order. Never retried: on OutcomeUnknown, resolve with query_order."""
        params = _order_params(
            symbol, side, order_type, quantity_text, price_text, time_in_force, client_order_id, response_type
        )
        return await self._request(
            "POST",
            "/api/v3/order",
            params,
            weight=1,
            orders=1,
            signed=True,
            client_order_id=client_order_id,
            decoder=_ORDER_ACK,
        )

    def new_order_now(
        self,
        symbol: str,
        side: Side,
        order_type: OrderType,
        quantity_text: str,
        price_text: str | None,
        time_in_force: TimeInForce | None,
        client_order_id: str,
        *,
        response_type: ResponseType = "RESULT",
    ) -> asyncio.Future[OrderAck]:
        """POST /api/v3/order, written on a warm connection before this returns.

        Raises synchronously: NotSent (no idle connection: nothing counted, nothing written; sending
        the same order by `new_order` is safe) or RateLimited (our limiter, or a 429 block). The
        future fails as `new_order` would: VenueRejected, RateLimited, OutcomeUnknown."""
        params = _order_params(
            symbol, side, order_type, quantity_text, price_text, time_in_force, client_order_id, response_type
        )
        return self._request_now(
            "POST",
            "/api/v3/order",
            params,
            weight=1,
            orders=1,
            client_order_id=client_order_id,
            decoder=_ORDER_ACK,
        )

    def warm(self, symbol: str = "BTCUSDT") -> None:
        """The fast path's CPU work on a representative order, with nothing counted, written or
        reported: limiter decision (no usage taken), signing, serialization.

        Orders are rare next to market data, so by the time one is placed its code and data have
        left the CPU caches and it runs several times slower than warm (measured on this project's
        machines: signing + serialization ~75 µs cold against ~12 µs warm). Called from an idle timer
        every millisecond or so, this keeps them warm; it costs ~12 µs each time."""
        pool = self._pool
        if pool is None:
            return
        venue_now = self.venue_time_ns()
        self.limiter.decide(1, venue_now, 1)  # rolls windows forward at most, as any request would
        params = _order_params(symbol, Side.BUY, "LIMIT", "0.00100000", "1.00", "GTC", "warm-0", "ACK")
        params += [("recvWindow", self._recv_window), ("timestamp", str(venue_now // _MS))]
        query = self._signer.signed_query(params)
        pool.warm("POST", f"{self._base_path}/api/v3/order?{query}", self._key_form_block)

    def cancel_order_now(self, symbol: str, client_order_id: str) -> asyncio.Future[CanceledOrder]:
        """DELETE /api/v3/order by client order id, written before this returns (see new_order_now)."""
        params = [("symbol", symbol), ("origClientOrderId", client_order_id)]
        return self._request_now(
            "DELETE", "/api/v3/order", params, weight=1, client_order_id=client_order_id, decoder=_CANCELED
        )

    async def cancel_order(self, symbol: str, client_order_id: str) -> CanceledOrder:
        """DELETE /api/v3/order by our client order id."""
        params = [("symbol", symbol), ("origClientOrderId", client_order_id)]
        return await self._request(
            "DELETE",
            "/api/v3/order",
            params,
            weight=1,
            signed=True,
            client_order_id=client_order_id,
            decoder=_CANCELED,
        )

    async def cancel_all(self, symbol: str) -> list[CanceledOrder]:
        """DELETE /api/v3/openOrders: every open order (and order list) on the symbol."""
        return await self._request(
            "DELETE",
            "/api/v3/openOrders",
            [("symbol", symbol)],
            weight=1,
            signed=True,
            decoder=_CANCELED_LIST,
        )

    async def query_order(self, symbol: str, client_order_id: str) -> Order:
        """GET /api/v3/order: how an OutcomeUnknown is resolved (-2013: the order does not exist)."""
        params = [("symbol", symbol), ("origClientOrderId", client_order_id)]
        return await self._request(
            "GET",
            "/api/v3/order",
            params,
            weight=4,
            signed=True,
            client_order_id=client_order_id,
            decoder=_ORDER,
        )

    async def query_order_by_id(self, symbol: str, order_id: int) -> Order:
        """GET /api/v3/order by the venue's order id (orders we did not place, or reconciling)."""
        params = [("symbol", symbol), ("orderId", str(order_id))]
        return await self._request("GET", "/api/v3/order", params, weight=4, signed=True, decoder=_ORDER)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """GET /api/v3/openOrders (weight 6 for one symbol, 80 for all)."""
        params = [("symbol", symbol)] if symbol is not None else []
        weight = 6 if symbol is not None else 80
        return await self._request(
            "GET", "/api/v3/openOrders", params, weight=weight, signed=True, decoder=_ORDERS
        )

    # --- account and market ------------------------------------------------------------------------

    async def account(self, omit_zero_balances: bool = True) -> Account:
        """GET /api/v3/account (weight 20). A balance absent with omit_zero_balances is zero."""
        params = [("omitZeroBalances", "true" if omit_zero_balances else "false")]
        return await self._request("GET", "/api/v3/account", params, weight=20, signed=True, decoder=_ACCOUNT)

    async def my_trades(
        self, symbol: str, from_id: int | None = None, limit: int = 500
    ) -> list[AccountTrade]:
        params = [("symbol", symbol)]
        if from_id is not None:
            params.append(("fromId", str(from_id)))
        params.append(("limit", str(limit)))
        return await self._request("GET", "/api/v3/myTrades", params, weight=20, signed=True, decoder=_TRADES)

    async def exchange_info(self, symbols: Sequence[str] | None = None) -> ExchangeInfo:
        params = []
        if symbols:
            params.append(("symbols", msgspec.json.encode(list(symbols)).decode()))
        return await self._request("GET", "/api/v3/exchangeInfo", params, weight=20, decoder=_EXCHANGE_INFO)

    async def depth(self, symbol: str, limit: int = 100) -> Depth:
        params = [("symbol", symbol), ("limit", str(limit))]
        return await self._request("GET", "/api/v3/depth", params, weight=depth_weight(limit), decoder=_DEPTH)

    # --- user data stream (listen key: API key header, no signature) -------------------------------

    async def create_listen_key(self) -> str:
        result = await self._request(
            "POST", "/api/v3/userDataStream", [], weight=2, api_key=True, decoder=_LISTEN_KEY
        )
        return result.listen_key

    async def keepalive_listen_key(self, listen_key: str) -> None:
        params = [("listenKey", listen_key)]
        await self._request("PUT", "/api/v3/userDataStream", params, weight=2, api_key=True, decoder=_EMPTY)

    async def close_listen_key(self, listen_key: str) -> None:
        params = [("listenKey", listen_key)]
        await self._request(
            "DELETE", "/api/v3/userDataStream", params, weight=2, api_key=True, decoder=_EMPTY
        )

    # --- internals ---------------------------------------------------------------------------------

    async def _mark_sent(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestHeadersSentParams,
    ) -> None:
        timing = context.trace_request_ctx
        if isinstance(timing, RequestTiming):
            timing.sent_ns = self._clock.monotonic_ns()

    async def _request(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]],
        *,
        weight: int,
        decoder: msgspec.json.Decoder[T],
        orders: int = 0,
        signed: bool = False,
        api_key: bool = False,
        client_order_id: str | None = None,
    ) -> T:
        session = self._session
        if session is None:
            raise RuntimeError("gateway not started")
        query, headers = await self._admit(method, path, params, weight, orders, signed, api_key)
        url = URL(f"{self._base_url}{path}?{query}" if query else f"{self._base_url}{path}", encoded=True)
        timing = RequestTiming(method, path, client_order_id, self._clock.monotonic_ns())
        try:
            async with session.request(method, url, headers=headers, trace_request_ctx=timing) as response:
                body = await response.read()
                status = response.status
                timing.status = status
                self.limiter.observe(response.headers, self.venue_time_ns())
                retry_after = response.headers.get("Retry-After")
        except aiohttp.ClientConnectorError as exc:
            raise NotSent(f"{method} {path}: cannot connect: {exc}") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if timing.sent_ns is None:
                raise NotSent(f"{method} {path}: failed before sending: {exc!r}") from exc
            raise OutcomeUnknown(f"{method} {path}: no response after sending: {exc!r}") from exc
        finally:
            timing.finished_ns = self._clock.monotonic_ns()
            self._report(timing)
        return self._outcome(method, path, status, body, retry_after, decoder)

    async def _admit(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]],
        weight: int,
        orders: int,
        signed: bool,
        api_key: bool,
    ) -> tuple[str, Mapping[str, str] | None]:
        """`_prepare`, except that a read held back by our own limiter waits for its window (up to
        READ_WAIT_MAX_S) instead of failing: a restart right after heavy trading finds the minute's
        weight used and must still reconcile. Orders and cancels never wait: a late quote is worse
        than none, and their callers handle RateLimited."""
        waited = 0.0
        while True:
            try:
                return self._prepare(method, params, weight, orders, signed, api_key)
            except RateLimited as limited:
                wait = limited.retry_after_seconds or 1.0
                if (method != "GET" and not path.endswith(LISTEN_KEY_PATHS)) or (
                    waited + wait > READ_WAIT_MAX_S
                ):
                    raise
                log.warning("rate limit window full; waiting before a read", path=path, wait_s=round(wait, 2))
                await asyncio.sleep(wait)
                waited += wait

    def _prepare(
        self,
        method: str,
        params: list[tuple[str, str]],
        weight: int,
        orders: int,
        signed: bool,
        api_key: bool,
    ) -> tuple[str, Mapping[str, str] | None]:
        """Count the request against the limiter (RateLimited when it may not go), then the query
        string (signed with recvWindow and timestamp when `signed`) and the key headers."""
        venue_now = self.venue_time_ns()
        verdict = self.limiter.acquire(weight, venue_now, orders)
        if not verdict.allowed:
            raise RateLimited(verdict.wait_seconds, None)
        if signed:
            params = [*params, ("recvWindow", self._recv_window), ("timestamp", str(venue_now // _MS))]
            query = self._signer.signed_query(params)
        else:
            query = encode_params(params)
        headers = None
        if signed or api_key:
            headers = self._key_headers if method == "GET" else self._key_form_headers
        return query, headers

    def _outcome(
        self,
        method: str,
        path: str,
        status: int,
        body: bytes,
        retry_after: str | None,
        decoder: msgspec.json.Decoder[T],
    ) -> T:
        """A complete response -> the typed result, or the venue error it means."""
        if 200 <= status < 300:
            try:
                return decoder.decode(body)
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # msgspec raises the latter on bad UTF-8
                raise OutcomeUnknown(
                    f"{method} {path}: undecodable response: {body[:200]!r}", status
                ) from exc
        self._raise_for(method, path, status, body, retry_after)
        raise AssertionError("unreachable")  # _raise_for always raises

    def _request_now(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]],
        *,
        weight: int,
        decoder: msgspec.json.Decoder[T],
        client_order_id: str,
        orders: int = 0,
    ) -> asyncio.Future[T]:
        """A signed request written on the pool before returning; see new_order_now."""
        pool = self._pool
        if pool is None or not pool.ready:
            if self._session is None:
                raise RuntimeError("gateway not started")
            # Checked before the limiter, so a caller that falls back to `_request` is counted once.
            now = self._clock.monotonic_ns()
            self._report(RequestTiming(method, path, client_order_id, now, finished_ns=now))
            state = "disabled" if pool is None else f"{pool.open} open, none idle"
            raise NotSent(f"{method} {path}: no warm order-entry connection ({state})")
        started_ns = self._clock.monotonic_ns()
        query, _ = self._prepare(method, params, weight, orders, True, False)
        block = self._key_block if method == "GET" else self._key_form_block  # as _prepare picks
        try:
            response = pool.request_now(method, f"{self._base_path}{path}?{query}", block)
        except NotSent:
            now = self._clock.monotonic_ns()
            self._report(RequestTiming(method, path, client_order_id, started_ns, finished_ns=now))
            raise
        # stamped by the pool right after transport.write returned
        timing = RequestTiming(method, path, client_order_id, started_ns, sent_ns=pool.written_ns)
        result: asyncio.Future[T] = response.get_loop().create_future()
        response.add_done_callback(partial(self._finish_now, method, path, decoder, timing, result))
        return result

    def _finish_now(
        self,
        method: str,
        path: str,
        decoder: msgspec.json.Decoder[T],
        timing: RequestTiming,
        result: asyncio.Future[T],
        response: asyncio.Future[Response],
    ) -> None:
        timing.finished_ns = self._clock.monotonic_ns()
        outcome: T | BaseException
        try:
            if response.cancelled():  # only a caller reaching into the pool could; the request went
                raise OutcomeUnknown(f"{method} {path}: response wait cancelled after sending")
            answer = response.result()  # OutcomeUnknown: timeout, dropped, malformed
            timing.status = answer.status
            self.limiter.observe(answer.headers, self.venue_time_ns())
            outcome = self._outcome(
                method, path, answer.status, answer.body, answer.headers.get("Retry-After"), decoder
            )
        except VenueError as error:
            outcome = error
        except Exception as error:  # a bug here must not leave the order waiting forever
            log.exception("binance_rest.fast_path_failed", path=path)
            outcome = OutcomeUnknown(f"{method} {path}: response handling failed: {error!r}")
        finally:
            self._report(timing)
        if result.done():  # the caller stopped waiting
            return
        if isinstance(outcome, BaseException):
            result.set_exception(outcome)
        else:
            result.set_result(outcome)

    def _raise_for(self, method: str, path: str, status: int, body: bytes, retry_after: str | None) -> None:
        if status in (429, 418):
            seconds = _parse_retry_after(retry_after)
            self.limiter.block(seconds, self.venue_time_ns(), reason=f"HTTP {status}")
            log.warning("binance_rest.rate_limited", path=path, status=status, retry_after=seconds)
            raise RateLimited(seconds, status)
        if status >= 500:
            raise OutcomeUnknown(f"{method} {path}: server error {body[:200]!r}", status)
        try:
            error = _ERROR.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError):
            # A 4xx without Binance's error body (a WAF 403, a proxy): refused before execution.
            raise VenueRejected(0, body[:200].decode(errors="replace"), status) from None
        if error.code in UNKNOWN_OUTCOME_CODES:
            raise OutcomeUnknown(f"{method} {path}: {error.code} {error.msg}", status)
        raise VenueRejected(error.code, error.msg, status)

    def _report(self, timing: RequestTiming) -> None:
        if self.on_timing is None:
            return
        try:
            self.on_timing(timing)
        except Exception:  # a metrics hook must never turn an acknowledged order into an error
            log.exception("binance_rest.on_timing_failed", path=timing.path)


def _order_params(
    symbol: str,
    side: Side,
    order_type: OrderType,
    quantity_text: str,
    price_text: str | None,
    time_in_force: TimeInForce | None,
    client_order_id: str,
    response_type: ResponseType,
) -> list[tuple[str, str]]:
    params = [("symbol", symbol), ("side", side.value), ("type", order_type)]
    if time_in_force is not None:
        params.append(("timeInForce", time_in_force))
    params.append(("quantity", quantity_text))
    if price_text is not None:
        params.append(("price", price_text))
    params.append(("newClientOrderId", client_order_id))
    params.append(("newOrderRespType", response_type))
    return params


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the limiter then waits out the weight window
