"""OKX v5 REST client for order entry and account queries, signed, on one aiohttp session.

Failure semantics (venues/_shared/errors.py), as OKX answers:
- `{"code": "0", "data": [...]}`                      -> the typed entries
- an order operation with `sCode` != "0" on its entry -> VenueRejected(sCode, sMsg)  (code "1"/"2")
- any other `code` != "0" (51603 order does not exist, 50113 bad signature, 50102 expired...)
                                                      -> VenueRejected(code, msg)
- HTTP 429 or code 50011                              -> RateLimited (the budget's window is blocked)
- HTTP 5xx, codes 50001/50004/50013/50026, a timeout or a dropped connection after the request was
  written, an undecodable 2xx                         -> OutcomeUnknown: query by clOrdId, never resend
- no connection could be made                         -> NotSent
Nothing is retried here. The request path (with its query string) and the body are signed exactly as
they are sent (auth.py). Numbers stay OKX's exact decimal strings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar, Unpack
from urllib.parse import urlencode

import msgspec
import structlog

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument
from tradestack.ports import Clock
from tradestack.venues._shared.errors import OutcomeUnknown, RateLimited, VenueRejected
from tradestack.venues._shared.signed_rest import SessionTuning, SignedRestGateway, decode_answer
from tradestack.venues.okx.auth import OkxSigner, rest_timestamp
from tradestack.venues.okx.parse import instruments_from_rest
from tradestack.venues.okx.rate_limits import WINDOW_NS, OkxRateLimits

log = structlog.get_logger(__name__)

REST_URL: Final = "https://www.okx.com"
# "Service temporarily unavailable", "API endpoint request timeout (does not mean that the request
# was successful or failed, please check the request result)", "System is busy", "System error".
UNKNOWN_OUTCOME_CODES: Final = frozenset({"50001", "50004", "50013", "50026"})
RATE_LIMITED_CODES: Final = frozenset({"50011", "50061"})
ORDER_DOES_NOT_EXIST: Final = 51603
MAX_BATCH: Final = 20
PAGE: Final = 100


# --- wire types: OKX's documented field names; unknown fields ignored -------------------------------


class Envelope(msgspec.Struct, frozen=True):
    code: str
    msg: str = ""
    data: msgspec.Raw = msgspec.Raw(b"[]")


class OrderAck(msgspec.Struct, frozen=True):
    """An entry of POST /api/v5/trade/order, cancel-order, cancel-batch-orders."""

    ordId: str
    clOrdId: str
    sCode: str
    sMsg: str = ""
    ts: str = ""
    tag: str = ""
    subCode: str = ""


class OkxOrder(msgspec.Struct, frozen=True):
    """GET /api/v5/trade/order and each entry of orders-pending (the fields we read)."""

    instId: str
    ordId: str
    clOrdId: str
    px: str
    sz: str
    ordType: str
    side: str
    state: str
    accFillSz: str
    cTime: str
    uTime: str
    avgPx: str = ""
    fillPx: str = ""
    fillSz: str = ""
    tradeId: str = ""
    fee: str = ""
    feeCcy: str = ""
    tdMode: str = ""


class OkxFill(msgspec.Struct, frozen=True):
    """GET /api/v5/trade/fills (newest first)."""

    instId: str
    tradeId: str
    ordId: str
    clOrdId: str
    billId: str
    fillPx: str
    fillSz: str
    side: str
    fee: str
    feeCcy: str
    ts: str
    execType: str = ""


class BalanceDetail(msgspec.Struct, frozen=True):
    ccy: str
    cashBal: str = "0"
    availBal: str = "0"
    frozenBal: str = "0"
    eq: str = ""


class AccountBalance(msgspec.Struct, frozen=True):
    details: list[BalanceDetail]
    uTime: str = ""


class AccountConfig(msgspec.Struct, frozen=True):
    uid: str
    mainUid: str = ""
    acctLv: str = ""
    perm: str = ""  # the calling key's permissions: "read_only,trade,withdraw"
    ip: str = ""  # the calling key's IP whitelist, comma-separated; "" = any address


@dataclass(frozen=True, slots=True)
class OkxKeyRestrictions:
    """The calling key's permissions as security/key_permissions.py reads them."""

    perm: frozenset[str]
    ip: str

    @property
    def can_withdraw(self) -> bool:
        return "withdraw" in self.perm

    @property
    def can_trade(self) -> bool:
        return "trade" in self.perm

    @property
    def can_transfer(self) -> bool:
        return "withdraw" in self.perm  # OKX grants funding transfers with the withdraw permission

    @property
    def ip_restricted(self) -> bool:
        return bool(self.ip.strip())


class ServerTime(msgspec.Struct, frozen=True):
    ts: str


class RestBook(msgspec.Struct, frozen=True):
    asks: list[list[str]]
    bids: list[list[str]]
    ts: str


T = TypeVar("T")

_ENVELOPE = msgspec.json.Decoder(Envelope)
_ACKS = msgspec.json.Decoder(list[OrderAck])
_ORDERS = msgspec.json.Decoder(list[OkxOrder])
_FILLS = msgspec.json.Decoder(list[OkxFill])
_BALANCES = msgspec.json.Decoder(list[AccountBalance])
_TIME = msgspec.json.Decoder(list[ServerTime])
_CONFIG = msgspec.json.Decoder(list[AccountConfig])
_BOOKS = msgspec.json.Decoder(list[RestBook])
_encode = msgspec.json.Encoder().encode


class OkxRestGateway(SignedRestGateway[OkxSigner, OkxRateLimits]):
    """Signed OKX v5 REST.

    >>> gateway = OkxRestGateway(OkxSigner(key, secret, passphrase), clock=SystemClock())
    >>> async with gateway:
    ...     await gateway.sync_time()
    ...     ack = await gateway.place_order("BTC-USDT", Side.BUY, "limit", "0.001", "50000", "c1")
    """

    server_time_unit_ns = 1_000_000  # milliseconds

    def __init__(
        self,
        signer: OkxSigner,
        *,
        clock: Clock,
        base_url: str = REST_URL,
        limits: OkxRateLimits | None = None,
        on_order_written: Callable[[str, int], None] | None = None,
        **tuning: Unpack[SessionTuning],
    ) -> None:
        """`on_order_written(clOrdId, monotonic_ns)`: when an order's request was written (tick-to-order)."""
        limits = limits if limits is not None else OkxRateLimits()
        super().__init__(signer, limits, clock, base_url, on_order_written, **tuning)

    # --- time ----------------------------------------------------------------------------------------

    async def server_time(self) -> int:
        """GET /api/v5/public/time: the venue's time in milliseconds. OKX refuses a request whose
        timestamp is more than 30 s away from its clock (50102): sync_time() measures the offset."""
        rows = await self._request("GET", "/api/v5/public/time", [], "", _TIME, signed=False)
        return int(rows[0].ts)

    # --- public --------------------------------------------------------------------------------------

    async def instruments(self, inst_type: str = "SPOT") -> dict[str, Instrument]:
        """GET /api/v5/public/instruments -> {instId: Instrument} (tickSz, lotSz, minSz)."""
        body = await self._raw(
            "GET", "/api/v5/public/instruments", [("instType", inst_type)], "", "", signed=False
        )
        return instruments_from_rest(body)

    async def books(self, inst_id: str, depth: int = 400) -> RestBook:
        params = [("instId", inst_id), ("sz", str(depth))]
        return (await self._request("GET", "/api/v5/market/books", params, "", _BOOKS, signed=False))[0]

    # --- orders --------------------------------------------------------------------------------------

    async def place_order(
        self,
        inst_id: str,
        side: Side,
        ord_type: str,
        size_text: str,
        price_text: str | None,
        client_order_id: str,
    ) -> OrderAck:
        """POST /api/v5/trade/order (spot, tdMode cash). Never retried: on OutcomeUnknown, query."""
        order = {"instId": inst_id, "tdMode": "cash", "clOrdId": client_order_id}
        order["side"] = "buy" if side is Side.BUY else "sell"
        order["ordType"] = ord_type
        if price_text is not None:
            order["px"] = price_text
        order["sz"] = size_text
        acks = await self._request(
            "POST", "/api/v5/trade/order", order, inst_id, _ACKS, order=client_order_id
        )
        return _single(acks, "POST /api/v5/trade/order")

    async def cancel_order(
        self, inst_id: str, client_order_id: str | None = None, order_id: str | None = None
    ) -> OrderAck:
        """POST /api/v5/trade/cancel-order by clOrdId (or ordId); 51400: not open (or unknown)."""
        body = {"instId": inst_id}
        if order_id is not None:
            body["ordId"] = order_id
        if client_order_id is not None:
            body["clOrdId"] = client_order_id
        acks = await self._request("POST", "/api/v5/trade/cancel-order", body, inst_id, _ACKS)
        return _single(acks, "POST /api/v5/trade/cancel-order")

    async def cancel_batch(self, inst_id: str, order_ids: Sequence[str]) -> list[OrderAck]:
        """POST /api/v5/trade/cancel-batch-orders: at most 20 orders of one instrument. Each entry says
        its own outcome (`sCode`); a partial failure is not an exception."""
        if len(order_ids) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} orders per batch")
        body = [{"instId": inst_id, "ordId": order_id} for order_id in order_ids]
        return await self._request(
            "POST", "/api/v5/trade/cancel-batch-orders", body, inst_id, _ACKS, cost=len(body)
        )

    async def order(
        self, inst_id: str, client_order_id: str | None = None, order_id: str | None = None
    ) -> OkxOrder:
        """GET /api/v5/trade/order by clOrdId or ordId (51603: the order does not exist)."""
        params = [("instId", inst_id)]
        if order_id is not None:
            params.append(("ordId", order_id))
        if client_order_id is not None:
            params.append(("clOrdId", client_order_id))
        return (await self._request("GET", "/api/v5/trade/order", params, inst_id, _ORDERS))[0]

    async def orders_pending(self, inst_id: str | None = None, after: str | None = None) -> list[OkxOrder]:
        """GET /api/v5/trade/orders-pending: one page (100) of open spot orders, newest first."""
        params = [("instType", "SPOT")]
        if inst_id is not None:
            params.append(("instId", inst_id))
        if after is not None:
            params.append(("after", after))
        params.append(("limit", str(PAGE)))
        return await self._request("GET", "/api/v5/trade/orders-pending", params, "", _ORDERS)

    async def fills(self, inst_id: str | None = None, after: str | None = None) -> list[OkxFill]:
        """GET /api/v5/trade/fills: a page (100) of the last 3 days' fills, newest first, older than
        the billId `after`."""
        params = [("instType", "SPOT")]
        if inst_id is not None:
            params.append(("instId", inst_id))
        if after is not None:
            params.append(("after", after))
        params.append(("limit", str(PAGE)))
        return await self._request("GET", "/api/v5/trade/fills", params, "", _FILLS)

    async def balance(self) -> AccountBalance:
        return (await self._request("GET", "/api/v5/account/balance", [], "", _BALANCES))[0]

    async def account_uid(self) -> str:
        """GET /api/v5/account/config: the account's uid."""
        return (await self._request("GET", "/api/v5/account/config", [], "", _CONFIG))[0].uid

    async def key_restrictions(self) -> OkxKeyRestrictions:
        """GET /api/v5/account/config: what the calling key may do, and its IP whitelist."""
        config = (await self._request("GET", "/api/v5/account/config", [], "", _CONFIG))[0]
        perm = frozenset(part.strip() for part in config.perm.split(",") if part.strip())
        return OkxKeyRestrictions(perm, config.ip)

    # --- internals -----------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | object,
        instrument: str,
        decoder: msgspec.json.Decoder[list[T]],
        *,
        signed: bool = True,
        cost: int = 1,
        order: str | None = None,
    ) -> list[T]:
        """GET with `query` pairs, or POST with `query` as the JSON body; the `data` entries decoded."""
        if method == "GET":
            assert isinstance(query, list)
            raw = await self._raw(method, path, query, "", instrument, signed=signed, cost=cost)
        else:
            body = _encode(query).decode()
            raw = await self._raw(method, path, [], body, instrument, signed=signed, cost=cost, order=order)
        try:
            return decoder.decode(_ENVELOPE.decode(raw).data)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise OutcomeUnknown(f"{method} {path}: undecodable data {raw[:200]!r}") from exc

    async def _raw(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: str,
        instrument: str,
        *,
        signed: bool = True,
        cost: int = 1,
        order: str | None = None,
    ) -> bytes:
        session = self._started()
        endpoint = f"{method} {path}"
        now = self.venue_time_ns()
        limiter = self.limits.limiter(endpoint, instrument)
        if limiter is not None:
            verdict = limiter.acquire(cost, now)
            if not verdict.allowed:
                raise RateLimited(verdict.wait_seconds, None)
        query_text = urlencode(query)
        headers = {"Content-Type": "application/json"} if method != "GET" else {}
        if signed:
            request_path = f"{path}?{query_text}" if query_text else path
            headers.update(self._signer.headers(rest_timestamp(now), method, request_path, body))
        payload, status, _ = await self._exchange(session, method, path, query_text, body, headers, order)
        if status == 429:
            self._rate_limited(endpoint, instrument, status)
        envelope = decode_answer(_ENVELOPE, endpoint, payload, status)
        code = envelope.code
        if code in RATE_LIMITED_CODES:
            self._rate_limited(endpoint, instrument, status)
        if code in UNKNOWN_OUTCOME_CODES:
            raise OutcomeUnknown(f"{endpoint}: {code} {envelope.msg}", status)
        if code not in ("0", "1", "2") or (code != "0" and envelope.data == b"[]"):
            raise VenueRejected(_code(code), envelope.msg, status)
        return payload

    def _rate_limited(self, endpoint: str, instrument: str, status: int) -> None:
        now = self.venue_time_ns()
        wait_s = (WINDOW_NS - now % WINDOW_NS) / 1_000_000_000
        limiter = self.limits.limiter(endpoint, instrument)
        if limiter is not None:
            limiter.block(wait_s, now, reason=f"HTTP {status} 50011")
        log.warning("okx_rest.rate_limited", endpoint=endpoint, status=status, retry_after=wait_s)
        raise RateLimited(wait_s, status)


def _code(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _single(acks: list[OrderAck], endpoint: str) -> OrderAck:
    if len(acks) != 1:
        raise OutcomeUnknown(f"{endpoint}: {len(acks)} entries for one order")
    ack = acks[0]
    if ack.sCode in UNKNOWN_OUTCOME_CODES:
        raise OutcomeUnknown(f"{endpoint}: {ack.sCode} {ack.sMsg}")
    if ack.sCode in RATE_LIMITED_CODES:
        raise RateLimited(None, None)
    if ack.sCode != "0":
        raise VenueRejected(_code(ack.sCode), ack.sMsg, 200)
    return ack
