"""OKX v5 REST handlers (www.okx.com /api/v5/...) over the shared simulated venue core.

Private endpoints check the four OK-ACCESS-* headers (50103-50113, HTTP 401) before anything else,
then the endpoint's rate limit (50011, HTTP 429). Bodies are `{"code", "msg", "data": [...]}` with
string codes; order operations report each order's outcome in `sCode`/`sMsg`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from tradestack.domain.events import Side
from tradestack.domain.instruments import NotRepresentable, parse_fixed
from tradestack.ports import Clock
from tradestack.venues.simulated.accounts import AccountTrade, OrderView
from tradestack.venues.simulated.errors import BinanceError
from tradestack.venues.simulated.venue import NewOrder, SimVenue
from tradestack.venues.simulated_okx import errors
from tradestack.venues.simulated_okx.auth import ApiKey, OkxKeys
from tradestack.venues.simulated_okx.errors import OkxError, OrderRejected
from tradestack.venues.simulated_okx.limits import EndpointLimits
from tradestack.venues.simulated_okx.wire import Json, OkxWire

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CLIENT_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_ORDER_TYPES = {"limit": ("LIMIT", "GTC"), "ioc": ("LIMIT", "IOC"), "fok": ("LIMIT", "FOK")}
MAX_BATCH = 20
PAGE_LIMIT = 100


def respond(body: Json, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(body), status=status, content_type="application/json")


def ok(data: list[Any]) -> web.Response:
    return respond({"code": "0", "msg": "", "data": data})


class OkxRestApi:
    def __init__(
        self,
        clock: Clock,
        venue: SimVenue,
        wire: OkxWire,
        keys: OkxKeys,
        limits: EndpointLimits,
        client_ids: dict[str, str],
    ) -> None:
        self.clock = clock
        self.venue = venue
        self.wire = wire
        self.keys = keys
        self.limits = limits
        self._client_ids = client_ids  # internal venue-core id -> "" for orders sent without clOrdId
        self._anonymous = 0
        self._bill_ids: dict[tuple[str, int, int], int] = {}
        self._fills_by_order: dict[tuple[str, int], list[AccountTrade]] = {}
        self._seen_trades = 0
        self.requests = 0

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v5/public/time", self.time),
            web.get("/api/v5/public/instruments", self.instruments),
            web.get("/api/v5/market/books", self.books),
            web.post("/api/v5/trade/order", self.place_order),
            web.post("/api/v5/trade/cancel-order", self.cancel_order),
            web.post("/api/v5/trade/cancel-batch-orders", self.cancel_batch),
            web.get("/api/v5/trade/order", self.get_order),
            web.get("/api/v5/trade/orders-pending", self.orders_pending),
            web.get("/api/v5/trade/fills", self.fills),
            web.get("/api/v5/account/balance", self.balance),
            web.get("/api/v5/account/config", self.account_config),
        ]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/v5/"):
            return await handler(request)
        self.requests += 1
        try:
            return await handler(request)
        except OkxError as error:
            return respond({"code": error.code, "msg": error.msg, "data": []}, error.status)

    # ---- security and limits -------------------------------------------------------------------------

    async def signed(self, request: web.Request) -> tuple[ApiKey, bytes]:
        body = await request.read()
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise errors.parameter_error("body") from None
        headers = request.headers
        key = self.keys.check_rest(
            headers.get("OK-ACCESS-KEY"),
            headers.get("OK-ACCESS-SIGN"),
            headers.get("OK-ACCESS-TIMESTAMP"),
            headers.get("OK-ACCESS-PASSPHRASE"),
            request.method,
            request.raw_path,
            text,
            self.now_ms(),
        )
        return key, body

    def count(self, request: web.Request, key: str, cost: int = 1) -> None:
        self.limits.count(f"{request.method} {request.path}", key, self.now_ms(), cost)

    @staticmethod
    def _json_object(body: bytes) -> dict[str, Any]:
        try:
            value = msgspec.json.decode(body)
        except msgspec.DecodeError:
            raise errors.parameter_error("body") from None
        if not isinstance(value, dict):
            raise errors.parameter_error("body")
        return value

    # ---- public --------------------------------------------------------------------------------------

    async def time(self, request: web.Request) -> web.StreamResponse:
        self.count(request, request.remote or "")
        return ok([{"ts": str(self.now_ms())}])

    async def instruments(self, request: web.Request) -> web.StreamResponse:
        inst_type = request.query.get("instType", "")
        if not inst_type:
            raise errors.empty_parameter("instType")
        self.count(request, f"{request.remote}:{inst_type}")
        if inst_type != "SPOT":
            return ok([])
        wanted = request.query.get("instId")
        return ok(
            [
                self.wire.instrument(instrument)
                for symbol, instrument in self.venue.instruments.items()
                if wanted is None or wanted == symbol
            ]
        )

    async def books(self, request: web.Request) -> web.StreamResponse:
        self.count(request, request.remote or "")
        symbol = request.query.get("instId", "")
        if not symbol:
            raise errors.empty_parameter("instId")
        if symbol not in self.venue.instruments:
            raise errors.instrument_missing()
        depth_text = request.query.get("sz", "1")
        if not depth_text.isdigit() or not 1 <= int(depth_text) <= 400:
            raise errors.parameter_error("sz")
        depth = int(depth_text)
        engine = self.venue.engines[symbol]
        return ok(
            [
                {
                    "asks": self.wire.levels(symbol, engine.asks(depth)),
                    "bids": self.wire.levels(symbol, engine.bids(depth)),
                    "ts": str(self.now_ms()),
                }
            ]
        )

    # ---- orders --------------------------------------------------------------------------------------

    async def place_order(self, request: web.Request) -> web.StreamResponse:
        key, body = await self.signed(request)
        order = self._json_object(body)
        symbol = order.get("instId")
        if not isinstance(symbol, str) or not symbol:
            raise errors.empty_parameter("instId")
        self.count(request, f"{key.uid}:{symbol}")
        in_time = self.clock.now_ns() // 1000
        client_id = order.get("clOrdId") or ""
        try:
            placed = self._place(order, symbol, client_id)
        except OrderRejected as rejected:
            entry = self._order_entry("", client_id if isinstance(client_id, str) else "", rejected)
            return self._answer([entry], in_time)
        entry = self._order_entry(str(placed.order_id), self.wire.client_id(placed.client_order_id), None)
        return self._answer([entry], in_time)

    def _place(self, order: dict[str, Any], symbol: str, client_id: object) -> OrderView:
        instrument = self.venue.instruments.get(symbol)
        if instrument is None:
            raise errors.s_instrument()
        if order.get("tdMode") != "cash":
            raise errors.s_parameter("tdMode")
        side_word = order.get("side")
        if side_word not in ("buy", "sell"):
            raise errors.s_parameter("side")
        side = Side.BUY if side_word == "buy" else Side.SELL
        if not isinstance(client_id, str) or (client_id and not CLIENT_ID.fullmatch(client_id)):
            raise errors.s_parameter("clOrdId")
        ord_type = order.get("ordType")
        size = self._decimal(order.get("sz"), instrument.size_scale, "sz")
        if ord_type == "market":
            if order.get("tgtCcy", "base_ccy") != "base_ccy":
                raise errors.s_parameter("tgtCcy")  # sizing a market buy in quote is not simulated
            kind, time_in_force, price = "MARKET", "GTC", None
        elif isinstance(ord_type, str) and ord_type in _ORDER_TYPES:
            kind, time_in_force = _ORDER_TYPES[ord_type]
            price = self._decimal(order.get("px"), instrument.price_scale, "px")
        else:
            raise errors.s_parameter("ordType")
        internal = client_id
        if not client_id:
            self._anonymous += 1
            internal = f"_{self._anonymous}"  # never a valid clOrdId: no clash with the client's ids
            self._client_ids[internal] = ""
        try:
            placed = self.venue.place(NewOrder(symbol, side, kind, time_in_force, internal, size, price))
        except BinanceError as error:
            raise errors.from_venue(error, instrument.quote, instrument.base, side is Side.BUY) from None
        return placed.order

    @staticmethod
    def _decimal(value: object, scale: int, name: str) -> int:
        if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
            raise errors.s_parameter(name)
        try:
            return parse_fixed(value, scale)
        except NotRepresentable:
            raise (errors.s_lot_size() if name == "sz" else errors.s_parameter(name)) from None

    async def cancel_order(self, request: web.Request) -> web.StreamResponse:
        key, body = await self.signed(request)
        order = self._json_object(body)
        symbol = order.get("instId")
        if not isinstance(symbol, str) or not symbol:
            raise errors.empty_parameter("instId")
        self.count(request, f"{key.uid}:{symbol}")
        in_time = self.clock.now_ns() // 1000
        return self._answer([self._cancel_one(symbol, order)], in_time)

    async def cancel_batch(self, request: web.Request) -> web.StreamResponse:
        key, body = await self.signed(request)
        try:
            orders = msgspec.json.decode(body)
        except msgspec.DecodeError:
            raise errors.parameter_error("body") from None
        if not isinstance(orders, list) or not orders or not all(isinstance(o, dict) for o in orders):
            raise errors.parameter_error("body")
        if len(orders) > MAX_BATCH:
            raise OkxError("51010", f"Batch orders exceed the limit of {MAX_BATCH}.", 200)
        per_symbol: dict[str, int] = {}
        for order in orders:
            symbol = order.get("instId")
            if not isinstance(symbol, str) or not symbol:
                raise errors.empty_parameter("instId")
            per_symbol[symbol] = per_symbol.get(symbol, 0) + 1
        for symbol, cost in per_symbol.items():
            self.count(request, f"{key.uid}:{symbol}", cost)
        in_time = self.clock.now_ns() // 1000
        return self._answer([self._cancel_one(order["instId"], order) for order in orders], in_time)

    def _cancel_one(self, symbol: str, order: dict[str, Any]) -> Json:
        client_id = order.get("clOrdId") or ""
        order_id = order.get("ordId") or ""
        if not isinstance(client_id, str) or not isinstance(order_id, str):
            return self._order_entry("", "", errors.s_parameter("ordId"))
        if not client_id and not order_id:
            return self._order_entry(
                "", "", errors.OrderRejected("50014", "Parameter ordId can not be empty.")
            )
        if symbol not in self.venue.instruments:
            return self._order_entry(order_id, client_id, errors.s_instrument())
        if order_id and not order_id.isdigit():
            return self._order_entry(order_id, client_id, errors.s_parameter("ordId"))
        try:
            view = self.venue.cancel(
                symbol, int(order_id) if order_id else None, client_id or None, "okx-cancel"
            )
        except BinanceError:
            return self._order_entry(order_id, client_id, errors.s_cancel_failed())
        return self._order_entry(str(view.order_id), self.wire.client_id(view.client_order_id), None)

    def _order_entry(self, order_id: str, client_id: str, rejected: OrderRejected | None) -> Json:
        return {
            "clOrdId": client_id,
            "ordId": order_id,
            "tag": "",
            "ts": str(self.now_ms()),
            "sCode": "0" if rejected is None else rejected.code,
            "sMsg": "Order placed" if rejected is None else rejected.msg,
            "subCode": "",
        }

    def _answer(self, entries: list[Json], in_time_us: int) -> web.Response:
        failed = sum(1 for entry in entries if entry["sCode"] != "0")
        if failed == 0:
            code, msg = "0", ""
        elif failed == len(entries):
            code, msg = "1", "All operations failed"
        else:
            code, msg = "2", "Bulk operation partially succeeded"
        body = {
            "code": code,
            "msg": msg,
            "data": entries,
            "inTime": str(in_time_us),
            "outTime": str(self.clock.now_ns() // 1000),
        }
        return respond(body)

    # ---- queries -------------------------------------------------------------------------------------

    async def get_order(self, request: web.Request) -> web.StreamResponse:
        key, _ = await self.signed(request)
        query = request.query
        symbol = query.get("instId", "")
        if not symbol:
            raise errors.empty_parameter("instId")
        self.count(request, f"{key.uid}:{symbol}")
        if symbol not in self.venue.instruments:
            raise errors.instrument_missing()
        order_id, client_id = query.get("ordId", ""), query.get("clOrdId", "")
        if not order_id and not client_id:
            raise errors.empty_parameter("ordId")
        if order_id and not order_id.isdigit():
            raise errors.order_missing()
        view = self.venue.find(symbol, int(order_id) if order_id else None, client_id or None)
        if view is None:
            raise errors.order_missing()
        return ok([self.wire.order(view, self.fills_of(symbol, view.order_id))])

    async def orders_pending(self, request: web.Request) -> web.StreamResponse:
        key, _ = await self.signed(request)
        self.count(request, key.uid)
        query = request.query
        symbol = query.get("instId") or None
        if symbol is not None and symbol not in self.venue.instruments:
            raise errors.instrument_missing()
        if query.get("instType", "SPOT") not in ("SPOT", ""):
            return ok([])
        limit, after, before = self._paging(query)
        views = sorted(self.venue.open_orders(symbol), key=lambda v: v.order_id, reverse=True)
        views = [
            v
            for v in views
            if (after is None or v.order_id < after) and (before is None or v.order_id > before)
        ]
        return ok([self.wire.order(v, self.fills_of(v.symbol, v.order_id)) for v in views[:limit]])

    async def fills(self, request: web.Request) -> web.StreamResponse:
        key, _ = await self.signed(request)
        self.count(request, key.uid)
        query = request.query
        symbol = query.get("instId") or None
        order_id = query.get("ordId") or None
        limit, after, before = self._paging(query)
        self._index_trades()
        rows = []
        for trade in reversed(self.venue.trades(symbol)):  # newest first, as OKX pages them
            bill_id = self._bill_ids[(trade.symbol, trade.trade_id, trade.order_id)]
            if after is not None and bill_id >= after:
                continue
            if before is not None and bill_id <= before:
                continue
            if order_id is not None and str(trade.order_id) != order_id:
                continue
            view = self.venue.find(trade.symbol, trade.order_id, None)
            rows.append(self.wire.fill(trade, view.client_order_id if view else "", bill_id))
            if len(rows) >= limit:
                break
        return ok(rows)

    @staticmethod
    def _paging(query: Any) -> tuple[int, int | None, int | None]:
        limit_text = query.get("limit", str(PAGE_LIMIT))
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= PAGE_LIMIT:
            raise errors.parameter_error("limit")
        after_text, before_text = query.get("after", ""), query.get("before", "")
        for name, text in (("after", after_text), ("before", before_text)):
            if text and not text.isdigit():
                raise errors.parameter_error(name)
        return (
            int(limit_text),
            int(after_text) if after_text else None,
            int(before_text) if before_text else None,
        )

    def _index_trades(self) -> None:
        trades = self.venue.trades()
        for trade in trades[self._seen_trades :]:
            self._bill_ids[(trade.symbol, trade.trade_id, trade.order_id)] = len(self._bill_ids) + 1
            self._fills_by_order.setdefault((trade.symbol, trade.order_id), []).append(trade)
        self._seen_trades = len(trades)

    def fills_of(self, symbol: str, order_id: int) -> list[AccountTrade]:
        """An order's trades, oldest first."""
        self._index_trades()
        return list(self._fills_by_order.get((symbol, order_id), ()))

    async def balance(self, request: web.Request) -> web.StreamResponse:
        key, _ = await self.signed(request)
        self.count(request, key.uid)
        wanted = request.query.get("ccy")
        currencies = set(wanted.split(",")) if wanted else None
        now = self.now_ms()
        details = [
            self.wire.balance_detail(balance, now)
            for asset, balance in self.venue.balances.snapshot().items()
            if currencies is None or asset in currencies
        ]
        return ok(
            [
                {
                    "adjEq": "",
                    "details": details,
                    "imr": "",
                    "isoEq": "",
                    "mgnRatio": "",
                    "mmr": "",
                    "notionalUsd": "",
                    "ordFroz": "",
                    "totalEq": "",
                    "uTime": str(now),
                    "upl": "",
                }
            ]
        )

    async def account_config(self, request: web.Request) -> web.StreamResponse:
        key, _ = await self.signed(request)
        self.count(request, key.uid)
        return ok(
            [
                {
                    "uid": key.uid,
                    "mainUid": key.uid,
                    "acctLv": "1",
                    "posMode": "net_mode",
                    "autoLoan": False,
                    "greeksType": "PA",
                    "level": "Lv1",
                    "levelTmp": "",
                    "ctIsoMode": "automatic",
                    "mgnIsoMode": "automatic",
                    "spotOffsetType": "",
                    "roleType": "0",
                    "traderInsts": [],
                    "spotRoleType": "0",
                    "spotTraderInsts": [],
                    "opAuth": "0",
                    "kycLv": "2",
                    "label": "",
                    "ip": ",".join(key.ip),
                    "perm": key.perm,
                }
            ]
        )
