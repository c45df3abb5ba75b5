"""Bybit v5 REST handlers (api.bybit.com /v5/..., category=spot) over the shared simulated venue core.

Private endpoints check the X-BAPI-* headers first (10003 invalid key, 10004 bad signature, 10002
outside the recv window, 10010 unmatched IP), then the endpoint's per-UID rate limit (10006).
Bodies are `{"retCode", "retMsg", "result", "retExtInfo", "time"}`; every counted answer carries the
X-Bapi-Limit headers. Order errors: 110072 duplicate orderLinkId, 110001 order does not exist
(cancel of an unknown or closed order), 170131 insufficient balance, 170134/170137 too many decimals.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from tradestack.domain.events import Side
from tradestack.domain.instruments import NotRepresentable, parse_fixed
from tradestack.ports import Clock
from tradestack.venues.simulated.accounts import AccountTrade, OrderView
from tradestack.venues.simulated.errors import BinanceError
from tradestack.venues.simulated.venue import HISTORY_LIMIT, NewOrder, SimVenue
from tradestack.venues.simulated_bybit.auth import ApiKey, BybitError, BybitKeys, EndpointLimits, LimitReached
from tradestack.venues.simulated_bybit.wire import BybitWire, Json

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LINK_ID = re.compile(r"[A-Za-z0-9_-]{1,36}")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_TIME_IN_FORCE = {"GTC": ("LIMIT", "GTC"), "IOC": ("LIMIT", "IOC"), "FOK": ("LIMIT", "FOK")}
RANGE_MS = 7 * 24 * 3600 * 1000
PAGE_MAX = 100


def parameter_error(name: str) -> BybitError:
    return BybitError(10001, f"params error: {name} invalid")


def order_missing() -> BybitError:
    return BybitError(110001, "Order does not exist.")


class AccountIndex:
    """What Bybit writes beside each of our trades, recorded as the venue publishes them (every account
    trade passes the publisher): the order's fee so far, the order's open size right after the trade,
    and a sequence number. Bounded like the core's own history: the oldest are forgotten."""

    def __init__(self, capacity: int = HISTORY_LIMIT) -> None:
        self.capacity = capacity
        self._fees: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._trades: OrderedDict[tuple[str, int, int], tuple[int, int]] = OrderedDict()
        self._seq = 0

    def record(self, trade: AccountTrade, after: OrderView) -> None:
        """`trade` of ours, and its order right after it."""
        order = (trade.symbol, trade.order_id)
        self._fees[order] = self._fees.get(order, 0) + trade.commission
        self._fees.move_to_end(order)
        self._seq += 1
        leaves = after.quantity - after.executed if after.is_open else 0
        self._trades[(trade.symbol, trade.trade_id, trade.order_id)] = (leaves, self._seq)
        while len(self._fees) > self.capacity:
            self._fees.popitem(last=False)
        while len(self._trades) > self.capacity:
            self._trades.popitem(last=False)

    def fee_of(self, symbol: str, order_id: int) -> int:
        return self._fees.get((symbol, order_id), 0)

    def leaves_after(self, trade: AccountTrade) -> int:
        return self._trades.get((trade.symbol, trade.trade_id, trade.order_id), (0, 0))[0]

    def seq_of(self, trade: AccountTrade) -> int:
        return self._trades.get((trade.symbol, trade.trade_id, trade.order_id), (0, 0))[1]


class BybitRestApi:
    def __init__(
        self,
        clock: Clock,
        venue: SimVenue,
        wire: BybitWire,
        keys: BybitKeys,
        limits: EndpointLimits,
        index: AccountIndex,
        client_ids: dict[str, str],
    ) -> None:
        self.clock = clock
        self.venue = venue
        self.wire = wire
        self.keys = keys
        self.limits = limits
        self.index = index
        self._client_ids = client_ids  # internal venue-core id -> "" for orders sent without one
        self._anonymous = 0
        # order ids per symbol, newest last, for history listings (bounded as the core's history is)
        self._orders: dict[str, deque[int]] = {s: deque(maxlen=HISTORY_LIMIT) for s in venue.instruments}
        self.requests = 0
        # faults, for tests: the next request to an endpoint acts, then answers this retCode (10016:
        # server error) or, with None, drops the connection instead of answering
        self.fail_after: dict[str, int | None] = {}
        self.ban_next = False  # the next request is refused HTTP 403, as an IP over its limit is

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v5/market/time", self.time),
            web.get("/v5/market/instruments-info", self.instruments),
            web.post("/v5/order/create", self.create),
            web.post("/v5/order/cancel", self.cancel),
            web.post("/v5/order/cancel-all", self.cancel_all),
            web.get("/v5/order/realtime", self.realtime),
            web.get("/v5/order/history", self.history),
            web.get("/v5/execution/list", self.executions),
            web.get("/v5/account/wallet-balance", self.wallet),
            web.get("/v5/user/query-api", self.query_api),
        ]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/v5/"):
            return await handler(request)
        self.requests += 1
        if self.ban_next:
            self.ban_next = False
            return web.Response(status=403, text="403 Forbidden: access too frequent")
        try:
            response = await handler(request)
        except BybitError as error:
            headers = error.headers if isinstance(error, LimitReached) else {}
            return self.answer(error.code, error.msg, {}, headers, error.status)
        endpoint = f"{request.method} {request.path}"
        if endpoint in self.fail_after:
            code = self.fail_after.pop(endpoint)
            if code is None:
                assert request.transport is not None
                request.transport.abort()  # it acted; the answer is lost
            else:
                return self.answer(code, "Server error.", {}, {})
        return response

    def answer(
        self, code: int, msg: str, result: Json, headers: dict[str, str], status: int = 200
    ) -> web.Response:
        body = {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": self.now_ms()}
        return web.Response(
            body=msgspec.json.encode(body), status=status, content_type="application/json", headers=headers
        )

    def ok(self, result: Json, headers: dict[str, str] | None = None) -> web.Response:
        return self.answer(0, "OK", result, headers or {})

    # ---- security and limits -------------------------------------------------------------------------

    async def signed(self, request: web.Request) -> tuple[ApiKey, dict[str, str], bytes]:
        """The signing key, the rate-limit headers of this request, and the body."""
        body = await request.read()
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise parameter_error("body") from None
        payload = request.raw_path.partition("?")[2] if request.method == "GET" else text
        key = self.keys.check_rest(request.headers, payload, self.now_ms(), request.remote or "")
        headers = self.limits.count(f"{request.method} {request.path}", key.uid, self.now_ms())
        return key, headers, body

    @staticmethod
    def _json_object(body: bytes) -> dict[str, Any]:
        try:
            value = msgspec.json.decode(body)
        except msgspec.DecodeError:
            raise parameter_error("body") from None
        if not isinstance(value, dict):
            raise parameter_error("body")
        return value

    @staticmethod
    def _spot(category: object) -> None:
        if category != "spot":
            raise BybitError(10001, "params error: only category spot is simulated")

    def _symbol(self, symbol: object) -> str:
        if not isinstance(symbol, str) or symbol not in self.venue.instruments:
            raise BybitError(10001, "params error: symbol invalid")
        return symbol

    # ---- public --------------------------------------------------------------------------------------

    async def time(self, request: web.Request) -> web.StreamResponse:
        now_ns = self.clock.now_ns()
        return self.ok({"timeSecond": str(now_ns // 1_000_000_000), "timeNano": str(now_ns)})

    async def instruments(self, request: web.Request) -> web.StreamResponse:
        category = request.query.get("category", "")
        if category != "spot":
            return self.ok({"category": category, "list": []})
        wanted = request.query.get("symbol")
        items = [
            self.wire.instrument(instrument)
            for symbol, instrument in self.venue.instruments.items()
            if wanted is None or wanted == symbol
        ]
        return self.ok({"category": "spot", "list": items, "nextPageCursor": ""})

    # ---- orders --------------------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.StreamResponse:
        _, headers, body = await self.signed(request)
        order = self._json_object(body)
        self._spot(order.get("category"))
        symbol = self._symbol(order.get("symbol"))
        link_id = order.get("orderLinkId") or ""
        if not isinstance(link_id, str) or (link_id and not LINK_ID.fullmatch(link_id)):
            raise parameter_error("orderLinkId")
        if link_id and self.venue.order_by_client_id(link_id) is not None:
            raise BybitError(110072, "OrderLinkedID is duplicate")
        placed = self._place(order, symbol, link_id)
        self._orders[symbol].append(placed.order_id)
        result = {"orderId": str(placed.order_id), "orderLinkId": self.wire.client_id(placed.client_order_id)}
        return self.ok(result, headers)

    def _place(self, order: dict[str, Any], symbol: str, link_id: str) -> OrderView:
        instrument = self.venue.instruments[symbol]
        side_word = order.get("side")
        if side_word not in ("Buy", "Sell"):
            raise parameter_error("side")
        side = Side.BUY if side_word == "Buy" else Side.SELL
        size = self._decimal(order.get("qty"), instrument.size_scale, "qty")
        order_type = order.get("orderType")
        time_in_force = order.get("timeInForce") or "GTC"
        if order_type == "Market":
            kind, tif, price = "MARKET", "GTC", None
            if side is Side.BUY and order.get("marketUnit", "baseCoin") != "baseCoin":
                raise parameter_error("marketUnit")  # a market buy sized in quote is not simulated
        elif order_type == "Limit":
            price = self._decimal(order.get("price"), instrument.price_scale, "price")
            if time_in_force == "PostOnly":
                kind, tif = "LIMIT_MAKER", "GTC"
            elif isinstance(time_in_force, str) and time_in_force in _TIME_IN_FORCE:
                kind, tif = _TIME_IN_FORCE[time_in_force]
            else:
                raise parameter_error("timeInForce")
        else:
            raise parameter_error("orderType")
        internal = link_id
        if not link_id:
            self._anonymous += 1
            internal = f"~{self._anonymous}"  # never a valid orderLinkId: no clash with the client's
            self._client_ids[internal] = ""
        try:
            placed = self.venue.place(NewOrder(symbol, side, kind, tif, internal, size, price))
        except BinanceError as error:
            raise _from_core(error) from None
        return placed.order

    @staticmethod
    def _decimal(value: object, scale: int, name: str) -> int:
        if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
            raise parameter_error(name)
        try:
            return parse_fixed(value, scale)
        except NotRepresentable:
            if name == "qty":
                raise BybitError(170137, "Order quantity has too many decimals.") from None
            raise BybitError(170134, "Order price has too many decimals.") from None

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        _, headers, body = await self.signed(request)
        order = self._json_object(body)
        self._spot(order.get("category"))
        symbol = self._symbol(order.get("symbol"))
        order_id, link_id = order.get("orderId") or "", order.get("orderLinkId") or ""
        if not isinstance(order_id, str) or not isinstance(link_id, str) or not (order_id or link_id):
            raise parameter_error("orderId or orderLinkId")
        if order_id and not order_id.isdigit():
            raise order_missing()
        try:
            view = self.venue.cancel(symbol, int(order_id) if order_id else None, link_id or None, "bybit")
        except BinanceError:
            raise order_missing() from None
        result = {"orderId": str(view.order_id), "orderLinkId": self.wire.client_id(view.client_order_id)}
        return self.ok(result, headers)

    async def cancel_all(self, request: web.Request) -> web.StreamResponse:
        _, headers, body = await self.signed(request)
        order = self._json_object(body)
        self._spot(order.get("category"))
        symbol = self._symbol(order.get("symbol"))
        try:
            views = self.venue.cancel_all(symbol, "bybit-all")
        except BinanceError:
            views = []  # nothing open: Bybit answers an empty list
        items = [
            {"orderId": str(view.order_id), "orderLinkId": self.wire.client_id(view.client_order_id)}
            for view in views
        ]
        return self.ok({"list": items, "success": "1"}, headers)

    # ---- queries -------------------------------------------------------------------------------------

    def _wanted(self, query: Any) -> tuple[str, int | None, str | None] | None:
        """(symbol, orderId, orderLinkId) from the query; None when the orderId cannot exist."""
        self._spot(query.get("category"))
        symbol = self._symbol(query.get("symbol"))
        order_id, link_id = query.get("orderId", ""), query.get("orderLinkId", "")
        if order_id and not order_id.isdigit():
            return None
        return symbol, int(order_id) if order_id else None, link_id or None

    async def realtime(self, request: web.Request) -> web.StreamResponse:
        """Open orders, newest first; by orderId or orderLinkId when given."""
        _, headers, _ = await self.signed(request)
        wanted = self._wanted(request.query)
        views: list[OrderView] = []
        if wanted is not None:
            symbol, order_id, link_id = wanted
            if order_id is not None or link_id is not None:
                found = self.venue.find(symbol, order_id, link_id)
                views = [found] if found is not None and found.is_open else []
            else:
                views = sorted(self.venue.open_orders(symbol), key=lambda v: v.order_id, reverse=True)
        return self._page(request, views, headers)

    async def history(self, request: web.Request) -> web.StreamResponse:
        """Closed orders, newest first; by orderId or orderLinkId when given."""
        _, headers, _ = await self.signed(request)
        wanted = self._wanted(request.query)
        views: list[OrderView] = []
        if wanted is not None:
            symbol, order_id, link_id = wanted
            if order_id is not None or link_id is not None:
                found = self.venue.find(symbol, order_id, link_id)
                views = [found] if found is not None and not found.is_open else []
            else:
                for placed in reversed(self._orders[symbol]):
                    view = self.venue.find(symbol, placed, None)
                    if view is not None and not view.is_open:
                        views.append(view)
        return self._page(request, views, headers)

    def _page(self, request: web.Request, views: list[OrderView], headers: dict[str, str]) -> web.Response:
        limit, offset = self._paging(request.query, default=20, maximum=50)
        chosen = views[offset : offset + limit]
        cursor = str(offset + limit) if offset + limit < len(views) else ""
        items = [self.wire.order(view, self.index.fee_of(view.symbol, view.order_id)) for view in chosen]
        return self.ok({"category": "spot", "list": items, "nextPageCursor": cursor}, headers)

    @staticmethod
    def _paging(query: Any, default: int, maximum: int) -> tuple[int, int]:
        limit_text, cursor = query.get("limit", str(default)), query.get("cursor", "")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= maximum:
            raise parameter_error("limit")
        if cursor and not cursor.isdigit():
            raise parameter_error("cursor")
        return int(limit_text), int(cursor) if cursor else 0

    async def executions(self, request: web.Request) -> web.StreamResponse:
        """Our trades in a 7-day range (from startTime, up to endTime, or the last 7 days), newest first."""
        _, headers, _ = await self.signed(request)
        query = request.query
        self._spot(query.get("category"))
        symbol = query.get("symbol") or None
        if symbol is not None:
            self._symbol(symbol)
        start_text, end_text = query.get("startTime", ""), query.get("endTime", "")
        for name, text in (("startTime", start_text), ("endTime", end_text)):
            if text and not text.isdigit():
                raise parameter_error(name)
        if start_text and end_text:
            start, end = int(start_text), int(end_text)
            if end - start > RANGE_MS:
                raise BybitError(10001, "The time range between startTime and endTime cannot exceed 7 days")
        elif start_text:
            start, end = int(start_text), int(start_text) + RANGE_MS
        elif end_text:
            start, end = int(end_text) - RANGE_MS, int(end_text)
        else:
            end = self.now_ms()
            start = end - RANGE_MS
        limit, offset = self._paging(query, default=50, maximum=PAGE_MAX)
        trades = [t for t in reversed(self.venue.trades(symbol)) if start <= t.time_ms <= end]
        rows = []
        for trade in trades[offset : offset + limit]:
            view = self.venue.find(trade.symbol, trade.order_id, None)
            assert view is not None
            rows.append(
                self.wire.execution(trade, view, self.index.leaves_after(trade), self.index.seq_of(trade))
            )
        cursor = str(offset + limit) if offset + limit < len(trades) else ""
        return self.ok({"category": "spot", "list": rows, "nextPageCursor": cursor}, headers)

    async def wallet(self, request: web.Request) -> web.StreamResponse:
        _, headers, _ = await self.signed(request)
        if request.query.get("accountType") != "UNIFIED":
            raise BybitError(10001, "accountType only support UNIFIED.")
        wanted = request.query.get("coin")
        coins = set(wanted.split(",")) if wanted else None
        balances = [
            balance
            for asset, balance in self.venue.balances.snapshot().items()
            if coins is None or asset in coins
        ]
        return self.ok({"list": [self.wire.account(balances)]}, headers)

    async def query_api(self, request: web.Request) -> web.StreamResponse:
        key, headers, _ = await self.signed(request)
        groups = ("ContractTrade", "Spot", "Wallet", "Options", "Derivatives", "Exchange", "Earn", "NFT")
        permissions = {group: list(key.permissions.get(group, [])) for group in groups}
        for group, names in key.permissions.items():
            permissions.setdefault(group, list(names))
        result = {
            "id": "13770661",
            "note": "tradestack-sim",
            "apiKey": key.api_key,
            "readOnly": 1 if key.read_only else 0,
            "secret": "",
            "permissions": permissions,
            "ips": list(key.ips),
            "type": 1,
            "deadlineDay": 83,
            "expiredAt": "",
            "createdAt": "2024-01-01T00:00:00Z",
            "unified": 0,
            "uta": 1,
            "userID": key.uid,
            "inviterID": 0,
            "vipLevel": "No VIP",
            "mktMakerLevel": "0",
            "affiliateID": 0,
            "rsaPublicKey": "",
            "isMaster": True,
            "parentUid": "0",
            "kycLevel": "LEVEL_DEFAULT",
            "kycRegion": "",
        }
        return self.ok(result, headers)


def _from_core(error: BinanceError) -> BybitError:
    """The shared venue core speaks Binance codes: say the same thing the way Bybit does."""
    msg = error.msg
    if error.code == -2010 and "Duplicate" in msg:
        return BybitError(110072, "OrderLinkedID is duplicate")
    if error.code == -2010 and "insufficient" in msg:
        return BybitError(170131, "Insufficient balance.")
    if error.code == -2010:
        return BybitError(170213, msg)  # a post-only order that would take
    if error.code == -1013:
        if msg.endswith("LOT_SIZE"):
            return BybitError(170136, "Order quantity exceeded lower limit.")
        if msg.endswith("NOTIONAL"):
            return BybitError(170140, "Order value exceeded lower limit.")
        return BybitError(170134, "Order price has too many decimals.")
    return BybitError(10001, msg)
