"""Binance spot REST handlers (api.binance.com /api/v3/...) over the simulated venue.

Every /api/ response carries X-MBX-USED-WEIGHT-1M; order responses carry X-MBX-ORDER-COUNT-10S and
-1D. Errors are {"code": -XXXX, "msg": "..."} with Binance's HTTP status. SIGNED endpoints (TRADE,
USER_DATA) check, in order: X-MBX-APIKEY (-2014 / -2015), timestamp and recvWindow (-1021, -1131), the
HMAC-SHA256 signature over query string + body (-1022). USER_STREAM endpoints need only the key.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web

from tradestack.domain.events import Side
from tradestack.domain.instruments import NotRepresentable, parse_fixed, scale_of
from tradestack.ports import Clock
from tradestack.venues.simulated import auth, errors
from tradestack.venues.simulated.accounts import ASSET_SCALE, OrderView
from tradestack.venues.simulated.config import SimConfig
from tradestack.venues.simulated.errors import BinanceError
from tradestack.venues.simulated.faults import OrderFaultInjector
from tradestack.venues.simulated.params import Params
from tradestack.venues.simulated.streams import StreamHub
from tradestack.venues.simulated.user_stream import ListenKeys
from tradestack.venues.simulated.venue import NewOrder, SimVenue
from tradestack.venues.simulated.weights import RateLimiter, request_weight
from tradestack.venues.simulated.wire import ZERO, Json, Wire

_NUMBER = re.compile(errors.NUMBER_RANGE)
_CLIENT_ID = re.compile(errors.CLIENT_ID_RANGE)
_ID_ALPHABET = string.ascii_letters + string.digits
_ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET")
_TIME_IN_FORCE = ("GTC", "IOC", "FOK")
_RESPONSE_TYPES = ("ACK", "RESULT", "FULL")
_NOT_SUPPORTED = ("stopPrice", "trailingDelta", "icebergQty", "pegPriceType", "pegOffsetValue")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(body), status=status, content_type="application/json")


def error_response(error: BinanceError) -> web.Response:
    response = json_response({"code": error.code, "msg": error.msg}, error.status)
    response.headers.update(error.headers)
    return response


class RestApi:
    def __init__(
        self,
        config: SimConfig,
        clock: Clock,
        venue: SimVenue,
        wire: Wire,
        keys: auth.ApiKeys,
        listen_keys: ListenKeys,
        hub: StreamHub,
    ) -> None:
        self.config = config
        self.clock = clock
        self.venue = venue
        self.wire = wire
        self.keys = keys
        self.listen_keys = listen_keys
        self.hub = hub
        self.limiter = RateLimiter(
            config.weight_limit_per_minute, config.orders_per_10s, config.orders_per_day
        )
        self._ids = random.Random(config.id_seed)
        faults = config.order_faults
        self.faults = OrderFaultInjector(faults) if faults is not None and faults.active else None

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v3/ping", self.ping),
            web.get("/api/v3/time", self.time),
            web.get("/api/v3/exchangeInfo", self.exchange_info),
            web.get("/api/v3/depth", self.depth),
            web.post("/api/v3/order", self.new_order),
            web.post("/api/v3/order/test", self.test_order),
            web.delete("/api/v3/order", self.cancel_order),
            web.get("/api/v3/order", self.query_order),
            web.get("/api/v3/openOrders", self.open_orders),
            web.delete("/api/v3/openOrders", self.cancel_open_orders),
            web.get("/api/v3/account", self.account),
            web.get("/api/v3/myTrades", self.my_trades),
            web.post("/api/v3/userDataStream", self.create_listen_key),
            web.put("/api/v3/userDataStream", self.keepalive_listen_key),
            web.delete("/api/v3/userDataStream", self.close_listen_key),
        ]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Weight accounting and Binance error bodies for every /api/ request."""
        if not request.path.startswith("/api/"):
            return await handler(request)
        now = self.now_ms()
        ip = request.remote or "unknown"
        weight = request_weight(request.method, request.path, request.rel_url.query)
        try:
            used = self.limiter.add_weight(ip, weight, now)
        except BinanceError as error:
            return error_response(error)
        try:
            response = await handler(request)
        except BinanceError as error:
            response = error_response(error)
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(used)
        return response

    # ---- parameters and security -------------------------------------------------------------------------

    async def params(self, request: web.Request) -> Params:
        body = await request.read()
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError:
            raise errors.illegal_characters("body", "ASCII, percent-encoded") from None
        return Params.parse(request.rel_url.raw_query_string, text)

    async def signed(self, request: web.Request, trade: bool = False) -> Params:
        params = await self.params(request)
        secret = self.keys.secret_for(request.headers.get("X-MBX-APIKEY"), request.remote, trade)
        timestamp = params.required_integer("timestamp")
        recv_window = params.integer("recvWindow", auth.DEFAULT_RECV_WINDOW_MS)
        assert recv_window is not None
        auth.check_timing(timestamp, recv_window, self.now_ms())
        payload, signature = auth.split_signature(params.query, params.body)
        if not signature:
            raise errors.mandatory("signature")
        if not auth.signature_matches(secret, payload, signature):
            raise errors.bad_signature()
        return params

    def symbol(self, params: Params, name: str = "symbol") -> str:
        symbol = params.required(name)
        if symbol not in self.venue.instruments:
            raise errors.invalid_symbol()
        return symbol

    def new_id(self) -> str:
        return "".join(self._ids.choice(_ID_ALPHABET) for _ in range(22))

    # ---- general and market data ---------------------------------------------------------------------------

    async def ping(self, request: web.Request) -> web.Response:
        return json_response({})

    async def time(self, request: web.Request) -> web.Response:
        return json_response({"serverTime": self.now_ms()})

    async def exchange_info(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        symbols = list(self.venue.instruments)
        one = params.optional("symbol")
        many = params.optional("symbols")
        if one is not None:
            symbols = [one]
        elif many is not None:
            try:
                symbols = json.loads(many)
            except ValueError:
                raise errors.invalid_parameter("symbols") from None
            if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
                raise errors.invalid_parameter("symbols")
        if any(symbol not in self.venue.instruments for symbol in symbols):
            raise errors.invalid_symbol()
        config = self.config
        return json_response(
            {
                "timezone": "UTC",
                "serverTime": self.now_ms(),
                "rateLimits": [
                    _rate_limit("REQUEST_WEIGHT", "MINUTE", 1, config.weight_limit_per_minute),
                    _rate_limit("ORDERS", "SECOND", 10, config.orders_per_10s),
                    _rate_limit("ORDERS", "DAY", 1, config.orders_per_day),
                ],
                "exchangeFilters": [],
                "symbols": [self._symbol_info(symbol) for symbol in symbols],
            }
        )

    def _symbol_info(self, symbol: str) -> Json:
        instrument = self.venue.instruments[symbol]
        rules = self.venue.rules[symbol]
        wire = self.wire
        min_notional = instrument.min_notional * 10 ** (ASSET_SCALE - instrument.notional_scale)
        return {
            "symbol": symbol,
            "status": "TRADING",
            "baseAsset": instrument.base,
            "baseAssetPrecision": ASSET_SCALE,
            "quoteAsset": instrument.quote,
            "quotePrecision": ASSET_SCALE,
            "quoteAssetPrecision": ASSET_SCALE,
            "baseCommissionPrecision": ASSET_SCALE,
            "quoteCommissionPrecision": ASSET_SCALE,
            "orderTypes": list(_ORDER_TYPES),
            "icebergAllowed": False,
            "ocoAllowed": False,
            "otoAllowed": False,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": False,
            "amendAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": wire.price(symbol, rules.min_price),
                    "maxPrice": wire.price(symbol, rules.max_price),
                    "tickSize": wire.price(symbol, instrument.tick),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": wire.qty(symbol, instrument.min_size),
                    "maxQty": wire.qty(symbol, rules.max_qty),
                    "stepSize": wire.qty(symbol, instrument.lot),
                },
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": ZERO,
                    "maxQty": wire.qty(symbol, rules.max_qty),
                    "stepSize": ZERO,
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": wire.asset(min_notional),
                    "applyMinToMarket": True,
                    "maxNotional": "9000000.00000000",
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": self.config.max_open_orders_per_symbol},
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "NONE",
            "allowedSelfTradePreventionModes": ["NONE"],
        }

    async def depth(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        symbol = self.symbol(params)
        limit = params.integer("limit", 100)
        assert limit is not None
        if limit <= 0:
            raise errors.invalid_parameter("limit")
        limit = min(limit, 5000)
        engine = self.venue.engines[symbol]
        return json_response(
            {
                "lastUpdateId": engine.update_id,
                "bids": self.wire.levels(symbol, engine.bids(limit)),
                "asks": self.wire.levels(symbol, engine.asks(limit)),
            }
        )

    # ---- trading -----------------------------------------------------------------------------------------

    async def new_order(self, request: web.Request) -> web.Response:
        fault = self.faults.draw("order") if self.faults is not None else None
        if fault is not None and self.faults is not None:
            await self.faults.before(fault)
        response = await self._new_order(request)
        if fault is not None and self.faults is not None:
            return await self.faults.after(request, fault, response)
        return response

    async def _new_order(self, request: web.Request) -> web.Response:
        params = await self.signed(request, trade=True)
        order, response_type = self._new_order_request(params)
        now = self.now_ms()
        ten_seconds, day = self.limiter.add_order(now)
        counts = {"X-MBX-ORDER-COUNT-10S": str(ten_seconds), "X-MBX-ORDER-COUNT-1D": str(day)}
        try:
            placed = self.venue.place(order)
        except BinanceError as error:
            error.headers.update(counts)
            raise
        if response_type == "ACK":
            body = self.wire.order_ack(placed.order, placed.transact_time_ms)
        elif response_type == "RESULT":
            body = self.wire.order_result(placed.order, placed.transact_time_ms)
        else:
            body = self.wire.order_full(placed.order, placed.transact_time_ms, placed.fills)
        response = json_response(body)
        response.headers.update(counts)
        return response

    async def test_order(self, request: web.Request) -> web.Response:
        params = await self.signed(request, trade=True)
        self._new_order_request(params)
        return json_response({})

    def _new_order_request(self, params: Params) -> tuple[NewOrder, str]:
        symbol = self.symbol(params)
        instrument = self.venue.instruments[symbol]
        side_text = params.required("side")
        if side_text not in ("BUY", "SELL"):
            raise errors.invalid_side()
        order_type = params.required("type")
        if order_type not in _ORDER_TYPES:
            raise errors.invalid_order_type()
        for name in _NOT_SUPPORTED:
            if params.optional(name) is not None:
                raise errors.not_required(name)
        time_in_force = params.optional("timeInForce")
        price: int | None = None
        quantity: int | None = None
        quote_order_qty: int | None = None
        if order_type == "LIMIT":
            if time_in_force is None:
                raise errors.mandatory("timeInForce")
            if time_in_force not in _TIME_IN_FORCE:
                raise errors.invalid_time_in_force()
        elif time_in_force is not None:
            raise errors.not_required("timeInForce")
        if order_type == "MARKET":
            if params.optional("price") is not None:
                raise errors.not_required("price")
            has_quantity = params.optional("quantity") is not None
            has_quote = params.optional("quoteOrderQty") is not None
            if has_quantity and has_quote:
                raise errors.not_required("quoteOrderQty")
            if not has_quantity and not has_quote:
                raise errors.one_of_mandatory("quantity", "quoteOrderQty")
            if has_quantity:
                quantity = _decimal(params, "quantity", instrument.size_scale, "LOT_SIZE")
            else:
                quote_order_qty = _decimal(params, "quoteOrderQty", ASSET_SCALE, "NOTIONAL")
        else:
            if params.optional("quoteOrderQty") is not None:
                raise errors.not_required("quoteOrderQty")
            price = _decimal(params, "price", instrument.price_scale, "PRICE_FILTER")
            quantity = _decimal(params, "quantity", instrument.size_scale, "LOT_SIZE")
        client_order_id = params.optional("newClientOrderId")
        if client_order_id is None:
            client_order_id = self.new_id()
        elif not _CLIENT_ID.match(client_order_id):
            raise errors.illegal_characters("newClientOrderId", errors.CLIENT_ID_RANGE)
        response_type = params.optional("newOrderRespType")
        if response_type is None:
            response_type = "FULL" if order_type in ("LIMIT", "MARKET") else "ACK"
        elif response_type not in _RESPONSE_TYPES:
            raise errors.invalid_parameter("newOrderRespType")
        stp = params.optional("selfTradePreventionMode")
        if stp is not None and stp != "NONE":
            raise errors.invalid_parameter("selfTradePreventionMode")
        order = NewOrder(
            symbol=symbol,
            side=Side(side_text),
            order_type=order_type,
            time_in_force=time_in_force or "GTC",
            client_order_id=client_order_id,
            quantity=quantity,
            price=price,
            quote_order_qty=quote_order_qty,
        )
        return order, response_type

    async def cancel_order(self, request: web.Request) -> web.Response:
        params = await self.signed(request, trade=True)
        symbol = self.symbol(params)
        order_id, client_order_id = _order_reference(params)
        cancel_id = params.optional("newClientOrderId") or self.new_id()
        fault = self.faults.draw("cancel") if self.faults is not None else None
        if fault == "fill_on_cancel":
            OrderFaultInjector.fill_now(self.venue, symbol, client_order_id, order_id)
        order = self.venue.cancel(symbol, order_id, client_order_id, cancel_id)
        response = json_response(self.wire.canceled(order, cancel_id, order.update_time_ms))
        if fault is not None and self.faults is not None:
            return await self.faults.after(request, fault, response)
        return response

    async def query_order(self, request: web.Request) -> web.Response:
        params = await self.signed(request)
        symbol = self.symbol(params)
        order_id, client_order_id = _order_reference(params)
        order = self.venue.find(symbol, order_id, client_order_id)
        if order is None:
            raise errors.no_such_order()
        return json_response(self.wire.order_query(order))

    async def open_orders(self, request: web.Request) -> web.Response:
        params = await self.signed(request)
        symbol = self.symbol(params) if params.optional("symbol") is not None else None
        return json_response([self.wire.order_query(order) for order in self.venue.open_orders(symbol)])

    async def cancel_open_orders(self, request: web.Request) -> web.Response:
        params = await self.signed(request, trade=True)
        symbol = self.symbol(params)
        cancel_id = self.new_id()
        orders: list[OrderView] = self.venue.cancel_all(symbol, cancel_id)
        return json_response([self.wire.canceled(order, cancel_id, order.update_time_ms) for order in orders])

    # ---- account -----------------------------------------------------------------------------------------

    async def account(self, request: web.Request) -> web.Response:
        params = await self.signed(request)
        omit_zero = params.boolean("omitZeroBalances", False)
        venue, wire = self.venue, self.wire
        balances = [
            {"asset": b.asset, "free": wire.asset(b.free), "locked": wire.asset(b.locked)}
            for b in venue.balances.snapshot().values()
            if not (omit_zero and b.free == 0 and b.locked == 0)
        ]
        return json_response(
            {
                "makerCommission": venue.maker_rate // 10**4,  # in bps, as Binance's integers
                "takerCommission": venue.taker_rate // 10**4,
                "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {
                    "maker": wire.asset(venue.maker_rate),
                    "taker": wire.asset(venue.taker_rate),
                    "buyer": ZERO,
                    "seller": ZERO,
                },
                "canTrade": True,
                "canWithdraw": True,
                "canDeposit": True,
                "brokered": False,
                "requireSelfTradePrevention": False,
                "preventSor": False,
                "updateTime": venue.balances.update_time_ms,
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": venue.account_id,
            }
        )

    async def my_trades(self, request: web.Request) -> web.Response:
        params = await self.signed(request)
        symbol = self.symbol(params)
        order_id = params.integer("orderId")
        start = params.integer("startTime")
        end = params.integer("endTime")
        from_id = params.integer("fromId")
        limit = params.integer("limit", 500)
        assert limit is not None
        if not 1 <= limit <= 1000:
            raise errors.invalid_parameter("limit")
        if from_id is not None and (start is not None or end is not None):
            raise errors.BinanceError(-1128, "Combination of optional parameters invalid.")
        trades = self.venue.trades(symbol)
        if order_id is not None:
            trades = [t for t in trades if t.order_id == order_id]
        if from_id is not None:
            trades = [t for t in trades if t.trade_id >= from_id][:limit]
        elif start is not None or end is not None:
            low, high = start or 0, end if end is not None else 2**63
            trades = [t for t in trades if low <= t.time_ms <= high][:limit]
        else:
            trades = trades[-limit:]
        return json_response([self.wire.my_trade(trade) for trade in trades])

    # ---- user data stream --------------------------------------------------------------------------------

    async def create_listen_key(self, request: web.Request) -> web.Response:
        self.keys.secret_for(request.headers.get("X-MBX-APIKEY"), request.remote)
        await self.params(request)
        return json_response({"listenKey": self.listen_keys.create()})

    async def keepalive_listen_key(self, request: web.Request) -> web.Response:
        self.keys.secret_for(request.headers.get("X-MBX-APIKEY"), request.remote)
        params = await self.params(request)
        self.listen_keys.keepalive(params.required("listenKey"))
        return json_response({})

    async def close_listen_key(self, request: web.Request) -> web.Response:
        self.keys.secret_for(request.headers.get("X-MBX-APIKEY"), request.remote)
        params = await self.params(request)
        key = params.required("listenKey")
        self.listen_keys.close(key)
        self.hub.end_listen_key(key)
        return json_response({})


def _decimal(params: Params, name: str, scale: int, filter_name: str) -> int:
    text = params.required(name)
    if not _NUMBER.match(text):
        raise errors.illegal_characters(name, errors.NUMBER_RANGE)
    if scale_of(text) > ASSET_SCALE:
        raise errors.bad_precision()
    try:
        return parse_fixed(text, scale)
    except NotRepresentable:
        raise errors.filter_failure(filter_name) from None


def _order_reference(params: Params) -> tuple[int | None, str | None]:
    order_id = params.integer("orderId")
    client_order_id = params.optional("origClientOrderId")
    if order_id is None and client_order_id is None:
        raise errors.one_of_mandatory("origClientOrderId", "orderId")
    return order_id, client_order_id


def _rate_limit(kind: str, interval: str, number: int, limit: int) -> Json:
    return {"rateLimitType": kind, "interval": interval, "intervalNum": number, "limit": limit}
