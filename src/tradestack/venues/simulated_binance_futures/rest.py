"""Binance futures REST over the simulated futures account: USD-M (fapi.binance.com /fapi/...) or
COIN-M (dapi.binance.com /dapi/..., inverse contracts; balance and positionRisk at /dapi/v1).

Signing, timing and key checks are the spot sim's (HMAC-SHA256 over query string + body, X-MBX-APIKEY,
-1021/-1022/-2014/-2015). Futures differences modelled here: one-way positions; timeInForce GTX is
post-only and is refused with -5022 when it would take; a client order id already open is refused
with -4116; DELETE /fapi/v1/allOpenOrders answers code 200 even when nothing was open; order entry
costs no IP weight but counts in X-MBX-ORDER-COUNT-10S and -1M; every /fapi/ (/dapi/) response carries
X-MBX-USED-WEIGHT-1M.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Awaitable, Callable

from aiohttp import web

from tradestack.domain.events import Side
from tradestack.domain.instruments import Instrument, NotRepresentable, format_fixed, parse_fixed
from tradestack.ports import Clock
from tradestack.venues.simulated import auth, errors
from tradestack.venues.simulated.auth import ApiKeys
from tradestack.venues.simulated.errors import BinanceError
from tradestack.venues.simulated.key_admin import restrictions_body
from tradestack.venues.simulated.params import Params
from tradestack.venues.simulated.rest import error_response, json_response
from tradestack.venues.simulated.user_stream import ListenKeys
from tradestack.venues.simulated.venue import NewOrder
from tradestack.venues.simulated_binance_futures.streams import FuturesStreamHub
from tradestack.venues.simulated_binance_futures.venue import FuturesSimVenue, InverseSettlement
from tradestack.venues.simulated_binance_futures.wire import FuturesWire, asset

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_NUMBER = re.compile(errors.NUMBER_RANGE)
_ID_ALPHABET = string.ascii_letters + string.digits
_TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX")
MINUTE_MS = 60_000
TEN_SECONDS_MS = 10_000

# (method, path under /fapi or /dapi) -> request weight (USD-M docs); order entry weighs 0 on the IP limit
_WEIGHTS: dict[tuple[str, str], int] = {
    ("POST", "/v1/order"): 0,
    ("DELETE", "/v1/order"): 1,
    ("GET", "/v1/order"): 1,
    ("DELETE", "/v1/allOpenOrders"): 1,
    ("GET", "/v1/userTrades"): 5,
    ("GET", "/v1/balance"): 5,
    ("GET", "/v2/balance"): 5,
    ("GET", "/v2/account"): 5,
    ("GET", "/v1/positionRisk"): 5,
    ("GET", "/v2/positionRisk"): 5,
    ("GET", "/v3/positionRisk"): 5,
}


def request_weight(method: str, path: str, limit: str | None, symbol: str | None) -> int:
    tail = path[5:]  # without /fapi or /dapi
    if tail == "/v1/depth":
        size = int(limit) if limit and limit.isdigit() else 500
        return 2 if size < 100 else 5 if size < 500 else 10 if size < 1000 else 20
    if tail == "/v1/openOrders":
        return 1 if symbol else 40
    return _WEIGHTS.get((method, tail), 1)


class FuturesLimits:
    """Fixed windows: IP weight per minute, orders per 10 s and per minute (futures publish 2400,
    300 and 1200)."""

    def __init__(
        self, weight_per_minute: int = 2400, orders_per_10s: int = 300, orders_per_minute: int = 1200
    ) -> None:
        self.weight_per_minute = weight_per_minute
        self.orders_per_10s = orders_per_10s
        self.orders_per_minute = orders_per_minute
        self._weight: dict[str, tuple[int, int]] = {}  # ip -> (minute window, used)
        self._ten = (0, 0)  # (window, orders)
        self._minute = (0, 0)

    def add_weight(self, ip: str, weight: int, now_ms: int) -> int:
        window = now_ms // MINUTE_MS
        start, used = self._weight.get(ip, (window, 0))
        used = (used if start == window else 0) + weight
        self._weight[ip] = (window, used)
        if used > self.weight_per_minute:
            retry_after = -(-((window + 1) * MINUTE_MS - now_ms) // 1000)
            error = errors.too_many_requests(self.weight_per_minute, retry_after)
            error.headers["X-MBX-USED-WEIGHT-1M"] = str(used)
            raise error
        return used

    def add_order(self, now_ms: int) -> dict[str, str]:
        ten_window, minute_window = now_ms // TEN_SECONDS_MS, now_ms // MINUTE_MS
        ten = (self._ten[1] if self._ten[0] == ten_window else 0) + 1
        minute = (self._minute[1] if self._minute[0] == minute_window else 0) + 1
        if ten > self.orders_per_10s:
            raise errors.too_many_orders(self.orders_per_10s, "10 SECOND")
        if minute > self.orders_per_minute:
            raise errors.too_many_orders(self.orders_per_minute, "1 MINUTE")
        self._ten, self._minute = (ten_window, ten), (minute_window, minute)
        return {"X-MBX-ORDER-COUNT-10S": str(ten), "X-MBX-ORDER-COUNT-1M": str(minute)}


def gtx_would_take() -> BinanceError:
    return BinanceError(
        -5022,
        "Due to the order could not be executed as maker, the Post Only order will be rejected. "
        "The order will not be recorded in the order history",
    )


def too_small(instrument: Instrument) -> BinanceError:
    floor = format_fixed(instrument.min_notional, instrument.notional_scale).rstrip("0").rstrip(".")
    return BinanceError(
        -4164, f"Order's notional must be no smaller than {floor} (unless you choose reduce only)."
    )


def duplicate_client_id() -> BinanceError:
    return BinanceError(-4116, "ClientOrderId is duplicated.")


class FuturesRestApi:
    def __init__(
        self,
        clock: Clock,
        venue: FuturesSimVenue,
        wire: FuturesWire,
        keys: ApiKeys,
        listen_keys: ListenKeys,
        hub: FuturesStreamHub,
        limits: FuturesLimits,
        id_seed: int = 7,
        prefix: str = "fapi",  # "dapi": COIN-M
    ) -> None:
        self.clock = clock
        self.venue = venue
        self.wire = wire
        self.keys = keys
        self.listen_keys = listen_keys
        self.hub = hub
        self.limits = limits
        self._ids = random.Random(id_seed)
        self.prefix = prefix

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def routes(self) -> list[web.RouteDef]:
        v1 = f"/{self.prefix}/v1"
        account = [  # USD-M moved these to v2 (and v3); COIN-M keeps v1
            web.get("/fapi/v2/balance", self.balance),
            web.get("/fapi/v2/account", self.account),
            web.get("/fapi/v2/positionRisk", self.position_risk),
            web.get("/fapi/v3/positionRisk", self.position_risk),
        ]
        if self.prefix == "dapi":
            account = [
                web.get("/dapi/v1/balance", self.balance),
                web.get("/dapi/v1/account", self.account),
                web.get("/dapi/v1/positionRisk", self.position_risk),
            ]
        return [
            web.get(f"{v1}/ping", self.ping),
            web.get(f"{v1}/time", self.time),
            web.get(f"{v1}/exchangeInfo", self.exchange_info),
            web.get(f"{v1}/depth", self.depth),
            web.post(f"{v1}/order", self.new_order),
            web.delete(f"{v1}/order", self.cancel_order),
            web.get(f"{v1}/order", self.query_order),
            web.get(f"{v1}/openOrders", self.open_orders),
            web.delete(f"{v1}/allOpenOrders", self.cancel_all),
            web.get(f"{v1}/userTrades", self.user_trades),
            *account,
            web.post(f"{v1}/listenKey", self.create_listen_key),
            web.put(f"{v1}/listenKey", self.keepalive_listen_key),
            web.delete(f"{v1}/listenKey", self.close_listen_key),
            web.get("/sapi/v1/account/apiRestrictions", self.api_restrictions),
        ]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith((f"/{self.prefix}/", "/sapi/")):
            return await handler(request)
        query = request.rel_url.query
        weight = request_weight(request.method, request.path, query.get("limit"), query.get("symbol"))
        try:
            used = self.limits.add_weight(request.remote or "unknown", weight, self.now_ms())
        except BinanceError as error:
            return error_response(error)
        try:
            response = await handler(request)
        except BinanceError as error:
            response = error_response(error)
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(used)
        return response

    # ---- parameters and security -------------------------------------------------------------------

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

    def symbol(self, params: Params) -> str:
        symbol = params.required("symbol")
        if symbol not in self.venue.instruments:
            raise errors.invalid_symbol()
        return symbol

    # ---- general and market data -------------------------------------------------------------------

    async def ping(self, request: web.Request) -> web.Response:
        return json_response({})

    async def time(self, request: web.Request) -> web.Response:
        return json_response({"serverTime": self.now_ms()})

    async def exchange_info(self, request: web.Request) -> web.Response:
        limits = self.limits
        return json_response(
            {
                "timezone": "UTC",
                "serverTime": self.now_ms(),
                "futuresType": "COIN_MARGINED" if self.prefix == "dapi" else "U_MARGINED",
                "rateLimits": [
                    _rate_limit("REQUEST_WEIGHT", "MINUTE", 1, limits.weight_per_minute),
                    _rate_limit("ORDERS", "MINUTE", 1, limits.orders_per_minute),
                    _rate_limit("ORDERS", "SECOND", 10, limits.orders_per_10s),
                ],
                "exchangeFilters": [],
                "symbols": [self._symbol_info(symbol) for symbol in self.venue.instruments],
            }
        )

    def _symbol_info(self, symbol: str) -> dict[str, object]:
        instrument = self.venue.instruments[symbol]
        rules = self.venue.rules[symbol]
        settlement = self.venue.settlements[symbol]
        wire = self.wire
        filters: list[dict[str, object]] = [
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
            {"filterType": "MAX_NUM_ORDERS", "limit": self.venue.config.max_open_orders_per_symbol},
        ]
        info: dict[str, object] = {
            "symbol": symbol,
            "pair": symbol.split("_")[0],
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "baseAsset": instrument.base,
            "quoteAsset": instrument.quote,
            "marginAsset": settlement.asset,
            "pricePrecision": instrument.price_scale,
            "quantityPrecision": instrument.size_scale,
            "underlyingType": "COIN",
            "orderTypes": ["LIMIT", "MARKET"],
            "timeInForce": list(_TIME_IN_FORCE),
            "filters": filters,
        }
        if isinstance(settlement, InverseSettlement):
            info["contractSize"] = settlement.contract_size  # USD per contract; no MIN_NOTIONAL
        else:
            notional = format_fixed(instrument.min_notional, instrument.notional_scale)
            filters.insert(2, {"filterType": "MIN_NOTIONAL", "notional": notional})
        return info

    async def depth(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        symbol = self.symbol(params)
        limit = params.integer("limit", 500)
        assert limit is not None
        if limit not in (5, 10, 20, 50, 100, 500, 1000):
            raise errors.invalid_parameter("limit")
        engine = self.venue.engines[symbol]
        now = self.now_ms()
        return json_response(
            {
                "lastUpdateId": engine.update_id,
                "E": now,
                "T": now,
                "bids": self.wire.levels(symbol, engine.bids(limit)),
                "asks": self.wire.levels(symbol, engine.asks(limit)),
            }
        )

    # ---- trading -----------------------------------------------------------------------------------

    async def new_order(self, request: web.Request) -> web.Response:
        params = await self.signed(request, trade=True)
        order = self._new_order_request(params)
        counts = self.limits.add_order(self.now_ms())
        try:
            placed = self.venue.place(order)
        except BinanceError as error:
            if error.code == errors.would_take().code and order.order_type == "LIMIT_MAKER":
                error = gtx_would_take()
            elif error.code == errors.duplicate_order().code and error.msg == errors.duplicate_order().msg:
                error = duplicate_client_id()
            elif error.msg == errors.filter_failure("NOTIONAL").msg:
                error = too_small(self.venue.instruments[order.symbol])
            error.headers.update(counts)
            raise error from None
        response = json_response(self.wire.order(placed.order))
        response.headers.update(counts)
        return response

    def _new_order_request(self, params: Params) -> NewOrder:
        symbol = self.symbol(params)
        instrument = self.venue.instruments[symbol]
        side = params.required("side")
        if side not in ("BUY", "SELL"):
            raise errors.invalid_side()
        order_type = params.required("type")
        if order_type not in ("LIMIT", "MARKET"):
            raise errors.invalid_order_type()
        if params.optional("positionSide") not in (None, "BOTH"):
            raise errors.invalid_parameter("positionSide")  # hedge mode is not modelled
        quantity = _decimal(params, "quantity", instrument.size_scale, "LOT_SIZE")
        price: int | None = None
        time_in_force = params.optional("timeInForce")
        if order_type == "LIMIT":
            if time_in_force is None:
                raise errors.mandatory("timeInForce")
            if time_in_force not in _TIME_IN_FORCE:
                raise errors.invalid_time_in_force()
            price = _decimal(params, "price", instrument.price_scale, "PRICE_FILTER")
        client_order_id = params.optional("newClientOrderId") or self._new_id()
        if not _CLIENT_ID.match(client_order_id):
            raise errors.illegal_characters("newClientOrderId", _CLIENT_ID.pattern)
        post_only = time_in_force == "GTX"
        return NewOrder(
            symbol=symbol,
            side=Side(side),
            order_type="LIMIT_MAKER" if post_only else order_type,
            time_in_force="GTC" if post_only or time_in_force is None else time_in_force,
            client_order_id=client_order_id,
            quantity=quantity,
            price=price,
        )

    async def cancel_order(self, request: web.Request) -> web.Response:
        params = await self.signed(request, trade=True)
        symbol = self.symbol(params)
        order_id, client_order_id = _order_reference(params)
        order = self.venue.cancel(symbol, order_id, client_order_id, self._new_id())
        return json_response(self.wire.order(order))

    async def cancel_all(self, request: web.Request) -> web.Response:
        params = await self.signed(request, trade=True)
        symbol = self.symbol(params)
        try:
            self.venue.cancel_all(symbol, self._new_id())
        except BinanceError as error:
            if error.code != errors.unknown_order().code:  # nothing open: futures still say done
                raise
        return json_response({"code": 200, "msg": "The operation of cancel all open order is done."})

    async def query_order(self, request: web.Request) -> web.Response:
        params = await self.signed(request)
        symbol = self.symbol(params)
        order_id, client_order_id = _order_reference(params)
        order = self.venue.find(symbol, order_id, client_order_id)
        if order is None:
            raise errors.no_such_order()
        return json_response(self.wire.order(order))

    async def open_orders(self, request: web.Request) -> web.Response:
        params = await self.signed(request)
        symbol = self.symbol(params) if params.optional("symbol") is not None else None
        return json_response([self.wire.order(order) for order in self.venue.open_orders(symbol)])

    # ---- account -----------------------------------------------------------------------------------

    async def user_trades(self, request: web.Request) -> web.Response:
        params = await self.signed(request)
        symbol = self.symbol(params)
        from_id = params.integer("fromId")
        order_id = params.integer("orderId")
        limit = params.integer("limit", 500)
        assert limit is not None
        if not 1 <= limit <= 1000:
            raise errors.invalid_parameter("limit")
        trades = self.venue.trades(symbol)
        if order_id is not None:
            trades = [t for t in trades if t.order_id == order_id]
        if from_id is not None:
            trades = [t for t in trades if t.trade_id >= from_id][:limit]
        else:
            trades = trades[-limit:]
        realized = self.venue.realized
        return json_response(
            [self.wire.user_trade(t, realized.get((t.symbol, t.trade_id), 0)) for t in trades]
        )

    async def balance(self, request: web.Request) -> web.Response:
        await self.signed(request)
        now = self.now_ms()
        return json_response(
            [
                {
                    "accountAlias": "SgsR",
                    "asset": b.asset,
                    "balance": asset(b.free + b.locked),
                    "crossWalletBalance": asset(b.free + b.locked),
                    "crossUnPnl": asset(0),
                    "availableBalance": asset(b.free),
                    "maxWithdrawAmount": asset(b.free),
                    "marginAvailable": True,
                    "updateTime": now,
                }
                for b in self.venue.balances.snapshot().values()
            ]
        )

    async def account(self, request: web.Request) -> web.Response:
        await self.signed(request)
        wallets = self.venue.balances.snapshot().values()
        total = sum(b.free + b.locked for b in wallets)
        return json_response(
            {
                "feeTier": 0,
                "canTrade": True,
                "canDeposit": True,
                "canWithdraw": True,
                "updateTime": 0,
                "multiAssetsMargin": False,
                "totalWalletBalance": asset(total),
                "availableBalance": asset(sum(b.free for b in wallets)),
                "assets": [
                    {
                        "asset": b.asset,
                        "walletBalance": asset(b.free + b.locked),
                        "availableBalance": asset(b.free),
                        "updateTime": self.venue.balances.update_time_ms,
                    }
                    for b in wallets
                ],
                "positions": [
                    {
                        "symbol": symbol,
                        "positionAmt": self.wire.qty(symbol, self.venue.settlements[symbol].size),
                        "positionSide": "BOTH",
                        "updateTime": self.venue.position_time_ms[symbol],
                    }
                    for symbol in self.venue.instruments
                ],
            }
        )

    async def position_risk(self, request: web.Request) -> web.Response:
        params = await self.signed(request)
        one = params.optional("symbol") is not None
        symbols = [self.symbol(params)] if one else list(self.venue.settlements)
        venue = self.venue
        answer = []
        for symbol in symbols:
            mark = self._mark(symbol)
            unrealized = venue.settlements[symbol].unrealized(mark) if mark else 0
            answer.append(self.wire.position_risk(venue.position(symbol), mark, venue.leverage, unrealized))
        return json_response(answer)

    def _mark(self, symbol: str) -> int:
        """The mid of the touch, rounded down to a tick (0 when a side is empty)."""
        engine, instrument = self.venue.engines[symbol], self.venue.instruments[symbol]
        bid, ask = engine.best_bid(), engine.best_ask()
        if bid is None or ask is None:
            return 0
        return instrument.round_price_down((bid[0] + ask[0]) // 2)

    async def api_restrictions(self, request: web.Request) -> web.Response:
        await self.signed(request)
        body = restrictions_body(self.keys.permissions[request.headers.get("X-MBX-APIKEY", "")])
        body["enableFutures"] = True  # the futures sim's keys trade futures
        return json_response(body)

    # ---- user data stream (key only, no signature) -------------------------------------------------

    async def create_listen_key(self, request: web.Request) -> web.Response:
        self.keys.secret_for(request.headers.get("X-MBX-APIKEY"), request.remote)
        await self.params(request)
        return json_response({"listenKey": self.listen_keys.create()})

    async def keepalive_listen_key(self, request: web.Request) -> web.Response:
        self.keys.secret_for(request.headers.get("X-MBX-APIKEY"), request.remote)
        params = await self.params(request)
        key = params.optional("listenKey") or next(iter(self.listen_keys.active()), None)
        if key is None:
            raise errors.unknown_listen_key()
        self.listen_keys.keepalive(key)
        return json_response({"listenKey": key})

    async def close_listen_key(self, request: web.Request) -> web.Response:
        self.keys.secret_for(request.headers.get("X-MBX-APIKEY"), request.remote)
        params = await self.params(request)
        named = params.optional("listenKey")  # futures need none: the account has one key
        for key in [named] if named is not None else self.listen_keys.active():
            self.listen_keys.close(key)
            self.hub.end_listen_key(key)
        return json_response({})

    def _new_id(self) -> str:
        return "".join(self._ids.choice(_ID_ALPHABET) for _ in range(22))


def _decimal(params: Params, name: str, scale: int, filter_name: str) -> int:
    text = params.required(name)
    if not _NUMBER.match(text):
        raise errors.illegal_characters(name, errors.NUMBER_RANGE)
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


def _rate_limit(kind: str, interval: str, number: int, limit: int) -> dict[str, object]:
    return {"rateLimitType": kind, "interval": interval, "intervalNum": number, "limit": limit}
