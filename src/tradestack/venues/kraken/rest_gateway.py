"""Kraken spot REST (api.kraken.com/0/...): signed private calls with strictly increasing nonces.

Failure semantics (venues/_shared/errors.py), as Kraken answers `{"error": [...], "result": {...}}`:
- an empty `error` list                                    -> the typed `result`
- `EAPI:Rate limit exceeded`, `EOrder:Rate limit exceeded`,
  `EGeneral:Too many requests`, HTTP 429                   -> RateLimited (our counter is filled)
- `EService:Unavailable`, `EService:Busy`, `EService:Deadline elapsed`, `EGeneral:Internal error`,
  HTTP 5xx, a timeout or a dropped connection after the
  request was written, an undecodable 2xx                  -> OutcomeUnknown: query by cl_ord_id
- any other error (`EOrder:Unknown order`, `EAPI:Invalid nonce`, `EAPI:Invalid key`,
  `EAPI:Invalid signature`, `EOrder:Insufficient funds`...) -> VenueRejected(CODES[error], error)
- no connection could be made                              -> NotSent
Nothing is retried here. Our own counters (rate_limits.py) model Kraken's published limits: a query
that would pass them waits for the counter to decay (at most `max_query_wait_s`, else RateLimited);
order entry is never delayed: RateLimited with no HTTP status, nothing sent.

Nonces: Kraken refuses a nonce not larger than the key's last one (`EAPI:Invalid nonce`). Requests
run concurrently on several connections, so the nonce is taken and the request written under one
lock, released once its headers are on the wire: requests leave in nonce order. (A key's optional
"nonce window" at Kraken absorbs reordering on the way; docs/venues/kraken.md.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Final, TypeVar, Unpack

import aiohttp
import msgspec
import structlog

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, parse_fixed, scale_of
from tradestack.domain.positions import ASSET_SCALE
from tradestack.ports import Clock
from tradestack.venues._shared.errors import NotSent, OutcomeUnknown, RateLimited, VenueRejected
from tradestack.venues._shared.signed_rest import SessionTuning, SignedRestGateway, decode_answer
from tradestack.venues._shared.written import HeadersSent
from tradestack.venues.kraken.auth import KrakenSigner, NonceSource, form_body
from tradestack.venues.kraken.rate_limits import TRADING_ENDPOINTS, KrakenRateLimits
from tradestack.venues.kraken.symbols import common_asset, v2_symbol

log = structlog.get_logger(__name__)

REST_URL: Final = "https://api.kraken.com"
PAGE: Final = 50  # TradesHistory answers 50 trades a page, newest first

RATE_LIMITED: Final = frozenset(
    {"EAPI:Rate limit exceeded", "EOrder:Rate limit exceeded", "EGeneral:Too many requests"}
)
UNKNOWN_OUTCOME: Final = frozenset(
    {"EService:Unavailable", "EService:Busy", "EService:Deadline elapsed", "EGeneral:Internal error"}
)
# Kraken's errors are text; VenueRejected carries an int, so each error we act on has a code here
# (0 for the others; the text is always in `msg`).
UNKNOWN_ORDER: Final = 1001
INVALID_ORDER: Final = 1002
INSUFFICIENT_FUNDS: Final = 1003
ORDER_MINIMUM: Final = 1004
POST_ONLY: Final = 1005
INVALID_NONCE: Final = 2001
INVALID_KEY: Final = 2002
INVALID_SIGNATURE: Final = 2003
PERMISSION_DENIED: Final = 2004
INVALID_ARGUMENTS: Final = 3001
UNKNOWN_PAIR: Final = 3002
CODES: Final = {
    "EOrder:Unknown order": UNKNOWN_ORDER,
    "EOrder:Invalid order": INVALID_ORDER,
    "EOrder:Insufficient funds": INSUFFICIENT_FUNDS,
    "EOrder:Order minimum not met": ORDER_MINIMUM,
    "EOrder:Post only order": POST_ONLY,
    "EAPI:Invalid nonce": INVALID_NONCE,
    "EAPI:Invalid key": INVALID_KEY,
    "EAPI:Invalid signature": INVALID_SIGNATURE,
    "EGeneral:Permission denied": PERMISSION_DENIED,
    "EGeneral:Invalid arguments": INVALID_ARGUMENTS,
    "EQuery:Unknown asset pair": UNKNOWN_PAIR,
}


def error_code(error: str) -> int:
    """`EGeneral:Invalid arguments:cl_ord_id` -> INVALID_ARGUMENTS (the detail after the 2nd colon)."""
    head = ":".join(error.split(":", 2)[:2])
    return CODES.get(error, CODES.get(head, 0))


# --- wire types: Kraken's field names; unknown fields ignored ----------------------------------------


class Envelope(msgspec.Struct, frozen=True):
    error: list[str] = []
    result: msgspec.Raw = msgspec.Raw(b"null")


class AssetPair(msgspec.Struct, frozen=True):
    altname: str
    pair_decimals: int
    lot_decimals: int
    wsname: str = ""
    base: str = ""
    quote: str = ""
    tick_size: str = ""
    ordermin: str = ""
    costmin: str = ""
    status: str = "online"


class ServerTime(msgspec.Struct, frozen=True):
    unixtime: int
    rfc1123: str = ""


class AddOrderResult(msgspec.Struct, frozen=True):
    txid: list[str]


class CancelResult(msgspec.Struct, frozen=True):
    count: int
    pending: bool = False


class OrderDescr(msgspec.Struct, frozen=True):
    pair: str
    type: str
    ordertype: str
    price: str = "0"


class KrakenOrder(msgspec.Struct, frozen=True):
    """An order of QueryOrders / OpenOrders (the fields we read)."""

    status: str  # pending | open | closed | canceled | expired
    opentm: msgspec.Raw  # seconds, a JSON number with decimals
    descr: OrderDescr
    vol: str
    vol_exec: str
    cl_ord_id: str | None = None
    userref: int | None = None
    fee: str = "0"
    price: str = "0"  # average fill price


class OpenOrdersResult(msgspec.Struct, frozen=True):
    open: dict[str, KrakenOrder] = {}


class KrakenTrade(msgspec.Struct, frozen=True):
    """A TradesHistory entry, keyed by its trade id ("TCCCTY-WE2O6-P3NB37")."""

    ordertxid: str
    pair: str
    time: msgspec.Raw  # seconds, a JSON number with decimals
    type: str
    price: str
    vol: str
    fee: str
    cost: str = ""
    ordertype: str = ""
    maker: bool = False
    trade_id: int | None = None  # Kraken's per-pair sequence, newer accounts' answers only


class TradesHistoryResult(msgspec.Struct, frozen=True):
    trades: dict[str, KrakenTrade] = {}
    count: int = 0


class WebSocketToken(msgspec.Struct, frozen=True):
    token: str
    expires: int = 900


@dataclass(frozen=True, slots=True)
class PairNames:
    """One pair as Kraken names it: the AssetPairs key and `altname` (REST), and our symbol (v2)."""

    symbol: str
    key: str
    altname: str


@dataclass(slots=True)
class _Written:
    """Set once the request's headers are on the wire (aiohttp trace). `order`: the cl_ord_id a new
    order's request places (for tick-to-order), else None."""

    order: str | None = None
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


T = TypeVar("T")

_ENVELOPE = msgspec.json.Decoder(Envelope)
_PAIRS = msgspec.json.Decoder(dict[str, AssetPair])
_TIME = msgspec.json.Decoder(ServerTime)
_ADD = msgspec.json.Decoder(AddOrderResult)
_CANCEL = msgspec.json.Decoder(CancelResult)
_ORDERS = msgspec.json.Decoder(dict[str, KrakenOrder])
_OPEN = msgspec.json.Decoder(OpenOrdersResult)
_TRADES = msgspec.json.Decoder(TradesHistoryResult)
_BALANCE = msgspec.json.Decoder(dict[str, str])
_TOKEN = msgspec.json.Decoder(WebSocketToken)


def instruments_from_pairs(pairs: dict[str, AssetPair]) -> tuple[dict[str, Instrument], dict[str, PairNames]]:
    """AssetPairs' result -> ({symbol: Instrument}, {symbol: PairNames}); pairs without a WebSocket
    name (dark pools) are left out. Price at pair_decimals (step tick_size), size at lot_decimals."""
    instruments: dict[str, Instrument] = {}
    names: dict[str, PairNames] = {}
    for key, pair in pairs.items():
        if not pair.wsname:
            continue
        symbol = v2_symbol(pair.wsname)
        base, _, quote = symbol.partition("/")
        price_scale, size_scale = pair.pair_decimals, pair.lot_decimals
        tick = parse_fixed(pair.tick_size, price_scale) if pair.tick_size else 1
        if pair.tick_size and scale_of(pair.tick_size) > price_scale:
            raise ValueError(f"{key}: tick_size {pair.tick_size} finer than pair_decimals {price_scale}")
        instruments[symbol] = Instrument(
            venue="kraken",
            symbol=symbol,
            base=base,
            quote=quote,
            price_scale=price_scale,
            size_scale=size_scale,
            tick=tick,
            min_size=parse_fixed(pair.ordermin, size_scale) if pair.ordermin else 0,
        )
        names[symbol] = PairNames(symbol, key, pair.altname)
    return instruments, names


class KrakenRestGateway(SignedRestGateway[KrakenSigner, KrakenRateLimits]):
    """Signed Kraken spot REST.

    >>> gateway = KrakenRestGateway(KrakenSigner(key, secret), clock=SystemClock())
    >>> async with gateway:
    ...     instruments = await gateway.instruments()
    ...     txid = await gateway.add_order("BTC/USDT", Side.BUY, "0.001", "50000", "ts1-1-1")
    """

    server_time_unit_ns = 1_000_000_000  # seconds

    def __init__(
        self,
        signer: KrakenSigner,
        *,
        clock: Clock,
        base_url: str = REST_URL,
        limits: KrakenRateLimits | None = None,
        nonces: NonceSource | None = None,
        max_query_wait_s: float = 10.0,
        on_order_written: Callable[[str, int], None] | None = None,
        **tuning: Unpack[SessionTuning],
    ) -> None:
        """`on_order_written(cl_ord_id, monotonic_ns)`: when a new order's request was written."""
        limits = limits if limits is not None else KrakenRateLimits()
        super().__init__(signer, limits, clock, base_url, on_order_written, **tuning)
        self.max_query_wait_s = max_query_wait_s
        self.nonces = nonces if nonces is not None else NonceSource()
        self._write_lock: asyncio.Lock | None = None
        self.pairs: dict[str, PairNames] = {}  # our symbol -> Kraken's names, from instruments()
        self._symbols: dict[str, str] = {}  # AssetPairs key or altname -> our symbol

    async def start(self) -> None:
        if self._session is None:
            self._write_lock = asyncio.Lock()  # one per session: it belongs to the running loop
        await super().start()

    def _headers_sent(self) -> HeadersSent:
        # a private call waits for its headers under the nonce lock (module docstring): a future, not a mark
        return self._mark_written

    # --- time, usage, names --------------------------------------------------------------------------

    async def server_time(self) -> int:
        """GET /0/public/Time: the venue's time in seconds."""
        return (await self._public("Time", [], _TIME)).unixtime

    async def sync_time(self) -> int:
        """The venue's clock offset in nanoseconds (Kraken's Time has whole seconds: a rough bound)."""
        if abs(await super().sync_time()) <= 1_000_000_000:
            self._offset_ns = 0  # within its resolution: ours
        return self._offset_ns

    def usage_ratio(self) -> float:
        """The fullest of Kraken's call counters as we count them (Kraken reports none back)."""
        return self.limits.usage_ratio(self._clock.monotonic_ns())

    def pair(self, symbol: str) -> str:
        """The REST `pair` of our symbol (its altname); the symbol itself before instruments()."""
        names = self.pairs.get(symbol)
        return names.altname if names is not None else symbol

    def symbol_of(self, pair: str) -> str | None:
        """Our symbol for a REST `pair` (AssetPairs key or altname)."""
        return self._symbols.get(pair)

    # --- public --------------------------------------------------------------------------------------

    async def instruments(self) -> dict[str, Instrument]:
        """GET /0/public/AssetPairs -> {symbol: Instrument}; learns every pair's REST names."""
        pairs = await self._public("AssetPairs", [], _PAIRS)
        instruments, names = instruments_from_pairs(pairs)
        self.pairs = names
        self._symbols = {}
        for entry in names.values():
            self._symbols[entry.key] = entry.symbol
            self._symbols[entry.altname] = entry.symbol
        return instruments

    # --- orders --------------------------------------------------------------------------------------

    async def add_order(
        self,
        symbol: str,
        side: Side,
        volume: str,
        price: str,
        cl_ord_id: str,
        *,
        post_only: bool = False,
    ) -> str:
        """POST /0/private/AddOrder (limit, GTC) -> the txid. Never retried: on OutcomeUnknown, query."""
        params = [
            ("pair", self.pair(symbol)),
            ("type", "buy" if side is Side.BUY else "sell"),
            ("ordertype", "limit"),
            ("price", price),
            ("volume", volume),
            ("cl_ord_id", cl_ord_id),
        ]
        if post_only:
            params.append(("oflags", "post"))
        result = await self._private("AddOrder", params, _ADD, pair=symbol, order=cl_ord_id)
        if len(result.txid) != 1:
            raise OutcomeUnknown(f"AddOrder: {len(result.txid)} txids for one order")
        return result.txid[0]

    async def cancel_order(
        self,
        symbol: str,
        *,
        txid: str | None = None,
        cl_ord_id: str | None = None,
        age_ns: int | None = None,
        wait: bool = False,
    ) -> int:
        """POST /0/private/CancelOrder by txid or cl_ord_id -> how many were canceled.
        `EOrder:Unknown order` when it is not open (or never was). `age_ns` prices the cancel; `wait`:
        wait for the pair's counter rather than refuse (a cancel-all must get through)."""
        if (txid is None) == (cl_ord_id is None):
            raise ValueError("cancel by txid or by cl_ord_id")
        params = [("txid", txid)] if txid is not None else [("cl_ord_id", cl_ord_id or "")]
        result = await self._private(
            "CancelOrder", params, _CANCEL, pair=symbol, cancel_age_ns=age_ns, may_wait=wait
        )
        return result.count

    async def cancel_all(self) -> int:
        """POST /0/private/CancelAll: every open order of the account, all pairs."""
        return (await self._private("CancelAll", [], _CANCEL)).count

    async def query_orders(
        self, *, txids: Sequence[str] = (), cl_ord_id: str | None = None
    ) -> dict[str, KrakenOrder]:
        """POST /0/private/QueryOrders by txids (at most 50) or cl_ord_id -> {txid: order}."""
        params = [("txid", ",".join(txids))] if txids else []
        if cl_ord_id is not None:
            params.append(("cl_ord_id", cl_ord_id))
        return await self._private("QueryOrders", params, _ORDERS)

    async def open_orders(self) -> dict[str, KrakenOrder]:
        """POST /0/private/OpenOrders: every open order of the account -> {txid: order}."""
        return (await self._private("OpenOrders", [], _OPEN)).open

    async def trades_history(self, start_s: int | None = None, ofs: int = 0) -> TradesHistoryResult:
        """POST /0/private/TradesHistory: a page (50) of trades newer than `start_s` (exclusive),
        newest first, skipping `ofs`; `count` is how many match in all."""
        params = [("start", str(start_s))] if start_s is not None else []
        if ofs:
            params.append(("ofs", str(ofs)))
        return await self._private("TradesHistory", params, _TRADES)

    async def balance(self) -> dict[str, int]:
        """POST /0/private/Balance -> total (available + held) per asset, common names, ASSET_SCALE.
        Earn/staking variants ("XBT.F", "ETH.S") are left out."""
        totals: dict[str, int] = {}
        for code, amount in (await self._private("Balance", [], _BALANCE)).items():
            if "." in code:
                continue
            asset = common_asset(code)
            totals[asset] = totals.get(asset, 0) + _amount(amount, ASSET_SCALE)
        return totals

    async def websocket_token(self) -> str:
        """POST /0/private/GetWebSocketsToken: a token to subscribe on ws-auth within 15 minutes."""
        return (await self._private("GetWebSocketsToken", [], _TOKEN)).token

    # --- internals -----------------------------------------------------------------------------------

    async def _mark_written(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestHeadersSentParams,
    ) -> None:
        written = context.trace_request_ctx
        if isinstance(written, _Written) and not written.done.done():
            written.done.set_result(None)
            if written.order is not None and self._on_order_written is not None:
                self._on_order_written(written.order, self._clock.monotonic_ns())

    async def _public(
        self, endpoint: str, query: list[tuple[str, str]], decoder: msgspec.json.Decoder[T]
    ) -> T:
        path = f"/0/public/{endpoint}"
        payload, status = await self._send("GET", path, query, "", {}, None)
        return self._result(endpoint, payload, status, decoder, "")

    async def _private(
        self,
        endpoint: str,
        params: list[tuple[str, str]],
        decoder: msgspec.json.Decoder[T],
        *,
        pair: str = "",
        cancel_age_ns: int | None = None,
        may_wait: bool = False,
        order: str | None = None,
    ) -> T:
        if self._session is None or self._write_lock is None:
            raise RuntimeError("gateway not started")
        await self._pace(endpoint, pair, cancel_age_ns, may_wait)
        path = f"/0/private/{endpoint}"
        written = _Written(order)
        async with self._write_lock:  # nonces leave in order (module docstring)
            nonce = self.nonces.next(self._clock.now_ns())
            body = form_body([("nonce", str(nonce)), *params])
            headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
            headers.update(self._signer.headers(path, nonce, body))
            request = asyncio.ensure_future(self._send("POST", path, [], body, headers, written))
            await asyncio.wait((request, written.done), return_when=asyncio.FIRST_COMPLETED)
        payload, status = await request
        return self._result(endpoint, payload, status, decoder, pair)

    async def _pace(self, endpoint: str, pair: str, cancel_age_ns: int | None, may_wait: bool) -> None:
        """Count the call against our model of Kraken's counters. A query waits (up to
        `max_query_wait_s`) for the counter to decay; order entry is never delayed: RateLimited."""
        while True:
            wait_s = self.limits.acquire(endpoint, pair, self._clock.monotonic_ns(), cancel_age_ns)
            if wait_s <= 0:
                return
            if (endpoint in TRADING_ENDPOINTS and not may_wait) or wait_s > self.max_query_wait_s:
                raise RateLimited(round(wait_s, 3), None)
            await asyncio.sleep(wait_s)

    async def _send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: str,
        headers: dict[str, str],
        written: _Written | None,
    ) -> tuple[bytes, int]:
        session = self._started()
        endpoint = f"{method} {path}"
        url = f"{self._base_url}{path}"
        try:
            async with session.request(
                method,
                url,
                params=query or None,
                data=body.encode() if body else None,
                headers=headers,
                trace_request_ctx=written,
            ) as response:
                return await response.read(), response.status
        except aiohttp.ClientConnectorError as exc:
            raise NotSent(f"{endpoint}: cannot connect: {exc}") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if written is None or not written.done.done():
                if method == "GET":
                    raise OutcomeUnknown(f"{endpoint}: {exc!r}") from exc
                raise NotSent(f"{endpoint}: failed before sending: {exc!r}") from exc
            raise OutcomeUnknown(f"{endpoint}: no response after sending: {exc!r}") from exc

    def _result(
        self, endpoint: str, payload: bytes, status: int, decoder: msgspec.json.Decoder[T], pair: str
    ) -> T:
        if status == 429:
            self._rate_limited(endpoint, pair, "HTTP 429")
        envelope = decode_answer(_ENVELOPE, endpoint, payload, status)
        if envelope.error:
            error = envelope.error[0]
            if error in RATE_LIMITED:
                self._rate_limited(endpoint, pair, error)
            if error in UNKNOWN_OUTCOME:
                raise OutcomeUnknown(f"{endpoint}: {error}", status)
            raise VenueRejected(error_code(error), "; ".join(envelope.error), status)
        try:
            return decoder.decode(envelope.result)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise OutcomeUnknown(f"{endpoint}: undecodable result {payload[:200]!r}") from exc

    def _rate_limited(self, endpoint: str, pair: str, reason: str) -> None:
        now = self._clock.monotonic_ns()
        counter = self.limits.trading(pair) if endpoint in ("AddOrder", "CancelOrder") else self.limits.rest
        counter.fill(now)
        wait_s = counter.maximum * (1 - self.limits.safety_ratio) / counter.decay_per_s
        log.warning(
            "kraken_rest.rate_limited", endpoint=endpoint, reason=reason, retry_after=round(wait_s, 3)
        )
        raise RateLimited(round(wait_s, 3), 429 if reason == "HTTP 429" else 200)


def _amount(text: str, scale: int) -> int:
    """A Kraken amount ("0.0000012345", up to 10 decimals) at `scale`: exact, or rounded toward zero
    past it (a balance is never overstated)."""
    point = text.find(".")
    if point >= 0 and len(text) - point - 1 > scale:
        text = text[: point + 1 + scale]
    return parse_fixed(text, scale)
