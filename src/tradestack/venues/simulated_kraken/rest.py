"""Kraken spot REST handlers (api.kraken.com /0/public/..., /0/private/...) over the shared core.

Private calls are POSTs with a form body carrying `nonce`; `API-Key` and `API-Sign` are checked first
(EAPI:Invalid key / Invalid signature / Invalid nonce), then the call counters (limits.py). Every
answer is `{"error": [...], "result": {...}}`, failures with an empty result.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from aiohttp import web

from tradestack.domain.events import Side
from tradestack.domain.instruments import NotRepresentable, parse_fixed
from tradestack.domain.matching import OrderStatus
from tradestack.ports import Clock
from tradestack.venues.simulated.accounts import AccountTrade, OrderView
from tradestack.venues.simulated.errors import BinanceError
from tradestack.venues.simulated.venue import NewOrder, SimVenue
from tradestack.venues.simulated_kraken import errors
from tradestack.venues.simulated_kraken.auth import ApiKey, KrakenKeys
from tradestack.venues.simulated_kraken.errors import KrakenError
from tradestack.venues.simulated_kraken.limits import CallCounters
from tradestack.venues.simulated_kraken.wire import KrakenWire, altname, kraken_id, rest_asset, seconds

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_CL_ORD_ID = re.compile(
    r"[.A-Za-z0-9:/_-]{1,18}|[0-9a-fA-F]{32}|"
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
PAGE = 50
_STATUS = {
    OrderStatus.NEW: "open",
    OrderStatus.PARTIALLY_FILLED: "open",
    OrderStatus.FILLED: "closed",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "canceled",
    OrderStatus.REJECTED: "canceled",
}


def answer(result: Any = None, error: str | None = None, status: int = 200) -> web.Response:
    body = {"error": [error] if error else [], "result": {} if result is None else result}
    return web.Response(body=msgspec.json.encode(body), status=status, content_type="application/json")


class KrakenRestApi:
    def __init__(
        self, clock: Clock, venue: SimVenue, wire: KrakenWire, keys: KrakenKeys, counters: CallCounters
    ) -> None:
        self.clock = clock
        self.venue = venue
        self.wire = wire
        self.keys = keys
        self.counters = counters
        self.txids: dict[tuple[str, int], str] = {}
        self.orders_by_txid: dict[str, tuple[str, int]] = {}
        self.trade_ids: dict[tuple[str, int, int], str] = {}
        self._fills_by_order: dict[tuple[str, int], list[AccountTrade]] = {}
        self._seen_trades = 0
        self._anonymous = 0
        self.requests = 0

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def routes(self) -> list[web.RouteDef]:
        private = {
            "AddOrder": self.add_order,
            "CancelOrder": self.cancel_order,
            "CancelAll": self.cancel_all,
            "QueryOrders": self.query_orders,
            "OpenOrders": self.open_orders,
            "TradesHistory": self.trades_history,
            "Balance": self.balance,
            "BalanceEx": self.balance_ex,
            "GetWebSocketsToken": self.websocket_token,
        }
        routes = [
            web.post(f"/0/private/{name}", self._private(name, handler)) for name, handler in private.items()
        ]
        for method in (web.get, web.post):
            routes.append(method("/0/public/Time", self.time))
            routes.append(method("/0/public/AssetPairs", self.asset_pairs))
        return routes

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/0/"):
            return await handler(request)
        self.requests += 1
        try:
            return await handler(request)
        except KrakenError as error:
            return answer(error=error.error, status=error.status)

    def _private(
        self, endpoint: str, handler: Callable[[ApiKey, dict[str, str]], Any]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            body = (await request.read()).decode(errors="replace")
            form = dict(parse_qsl(body, keep_blank_values=True))
            key = self.keys.check(
                request.headers.get("API-Key"),
                request.headers.get("API-Sign"),
                request.path,
                body,
                form.get("nonce", ""),
            )
            if endpoint not in ("AddOrder", "CancelOrder"):
                self.counters.rest(key.api_key, endpoint, self.now_ms())
            return answer(handler(key, form))

        return handle

    # ---- public --------------------------------------------------------------------------------------

    async def time(self, request: web.Request) -> web.StreamResponse:
        now = self.now_ms()
        return answer({"unixtime": now // 1000, "rfc1123": ""})

    async def asset_pairs(self, request: web.Request) -> web.StreamResponse:
        wanted = request.query.get("pair")
        pairs = {}
        for symbol, instrument in self.venue.instruments.items():
            if wanted is None or self.wire.symbols.get(wanted) == symbol:
                pairs[altname(symbol)] = self.wire.asset_pair(instrument)
        if wanted is not None and not pairs:
            raise KrakenError("EQuery:Unknown asset pair")
        return answer(pairs)

    # ---- orders --------------------------------------------------------------------------------------

    def _symbol(self, form: dict[str, str]) -> str:
        symbol = self.wire.symbols.get(form.get("pair", ""))
        if symbol is None:
            raise KrakenError("EQuery:Unknown asset pair")
        return symbol

    def add_order(self, key: ApiKey, form: dict[str, str]) -> Any:
        symbol = self._symbol(form)
        self.counters.trading(key.api_key, symbol, self.now_ms())
        instrument = self.venue.instruments[symbol]
        side_word = form.get("type")
        if side_word not in ("buy", "sell"):
            raise errors.invalid_arguments("type")
        side = Side.BUY if side_word == "buy" else Side.SELL
        client_id = form.get("cl_ord_id", "")
        if client_id and _CL_ORD_ID.fullmatch(client_id) is None:
            raise errors.invalid_arguments("cl_ord_id")
        flags = set(filter(None, form.get("oflags", "").split(",")))
        size = self._decimal(form.get("volume"), instrument.size_scale, "volume")
        ord_type = form.get("ordertype")
        if ord_type == "market":
            kind, price = "MARKET", None
        elif ord_type == "limit":
            kind, price = ("LIMIT_MAKER" if "post" in flags else "LIMIT"), None
            price = self._decimal(form.get("price"), instrument.price_scale, "price")
        else:
            raise errors.invalid_arguments("ordertype")
        internal = client_id
        if not client_id:
            self._anonymous += 1
            internal = f"_{self._anonymous}"  # never a valid cl_ord_id: no clash with the client's
        time_in_force = form.get("timeinforce", "GTC")
        if time_in_force not in ("GTC", "IOC"):
            raise errors.invalid_arguments("timeinforce")
        try:
            placed = self.venue.place(NewOrder(symbol, side, kind, time_in_force, internal, size, price))
        except BinanceError as error:
            raise errors.from_venue(error) from None
        view = placed.order
        txid = self.txid(view)
        description = f"{side_word} {self.wire.size(symbol, size)} {altname(symbol)} @ {ord_type}"
        if price is not None:
            description += f" {self.wire.price(symbol, price)}"
        return {"descr": {"order": description}, "txid": [txid]}

    @staticmethod
    def _decimal(value: str | None, scale: int, name: str) -> int:
        if value is None or not _DECIMAL.fullmatch(value):
            raise errors.invalid_arguments(name)
        try:
            return parse_fixed(value, scale)
        except NotRepresentable:
            if name == "price":
                raise KrakenError(
                    f"EOrder:Invalid price:price can only be specified up to {scale} decimals."
                ) from None
            raise errors.invalid_arguments(name) from None

    def cancel_order(self, key: ApiKey, form: dict[str, str]) -> Any:
        view = self._find(form.get("txid"), form.get("cl_ord_id"), open_only=True)
        if view is None:
            raise KrakenError("EOrder:Unknown order")
        now = self.now_ms()
        self.counters.trading(key.api_key, view.symbol, now, cancel_age_ms=now - view.time_ms)
        try:
            self.venue.cancel(view.symbol, view.order_id, None, "kraken-cancel")
        except BinanceError as error:
            raise errors.from_venue(error) from None
        return {"count": 1, "pending": False}

    def cancel_all(self, key: ApiKey, form: dict[str, str]) -> Any:
        count = 0
        for symbol in self.venue.instruments:
            if self.venue.open_orders(symbol):
                count += len(self.venue.cancel_all(symbol, "kraken-cancel-all"))
        return {"count": count}

    def _find(self, txid: str | None, client_id: str | None, open_only: bool = False) -> OrderView | None:
        view = None
        if txid:
            found = self.orders_by_txid.get(txid)
            if found is not None:
                view = self.venue.find(found[0], found[1], None)
        elif client_id:
            view = self.venue.order_by_client_id(client_id)
        if view is not None and open_only and not view.is_open:
            return None
        return view

    # ---- queries -------------------------------------------------------------------------------------

    def query_orders(self, key: ApiKey, form: dict[str, str]) -> Any:
        txids = [txid for txid in form.get("txid", "").split(",") if txid]
        client_id = form.get("cl_ord_id")
        if not txids and not client_id:
            raise errors.invalid_arguments("txid")
        if len(txids) > 50:
            raise errors.invalid_arguments("txid")
        result = {}
        for txid in txids:
            view = self._find(txid, None)
            if view is None:
                raise KrakenError("EOrder:Invalid order")
            result[txid] = self.order(view)
        if client_id:
            view = self._find(None, client_id)
            if view is not None:
                result[self.txid(view)] = self.order(view)
        return result

    def open_orders(self, key: ApiKey, form: dict[str, str]) -> Any:
        client_id = form.get("cl_ord_id")
        views = sorted(self.venue.open_orders(), key=lambda view: (view.time_ms, view.order_id))
        return {
            "open": {
                self.txid(view): self.order(view)
                for view in views
                if client_id is None or view.client_order_id == client_id
            }
        }

    def trades_history(self, key: ApiKey, form: dict[str, str]) -> Any:
        start, end, ofs = form.get("start", ""), form.get("end", ""), form.get("ofs", "0")
        for name, text in (("start", start), ("end", end), ("ofs", ofs)):
            if text and not _DECIMAL.fullmatch(text):
                raise errors.invalid_arguments(name)
        self._index_trades()
        rows = []
        for trade in reversed(self.venue.trades()):  # newest first
            when = trade.time_ms / 1000
            if start and when <= float(start):  # exclusive, as Kraken documents
                continue
            if end and when > float(end):
                continue
            rows.append(trade)
        offset = int(float(ofs or "0"))
        page = rows[offset : offset + PAGE]
        return {"trades": {self.trade_id(trade): self.trade(trade) for trade in page}, "count": len(rows)}

    def balance(self, key: ApiKey, form: dict[str, str]) -> Any:
        return {
            rest_asset(asset): self.wire.asset(entry.free + entry.locked)
            for asset, entry in self.venue.balances.snapshot().items()
        }

    def balance_ex(self, key: ApiKey, form: dict[str, str]) -> Any:
        return {
            rest_asset(asset): {
                "balance": self.wire.asset(entry.free + entry.locked),
                "hold_trade": self.wire.asset(entry.locked),
            }
            for asset, entry in self.venue.balances.snapshot().items()
        }

    def websocket_token(self, key: ApiKey, form: dict[str, str]) -> Any:
        return {"token": self.keys.issue_token(key, self.now_ms()), "expires": 900}

    # ---- shapes --------------------------------------------------------------------------------------

    def txid(self, view: OrderView) -> str:
        found = self.txids.get((view.symbol, view.order_id))
        if found is None:
            found = kraken_id("O", self.venue.account_id, view.symbol, view.order_id)
            self.txids[(view.symbol, view.order_id)] = found
            self.orders_by_txid[found] = (view.symbol, view.order_id)
        return found

    def trade_id(self, trade: AccountTrade) -> str:
        key = (trade.symbol, trade.trade_id, trade.order_id)
        found = self.trade_ids.get(key)
        if found is None:
            found = kraken_id("T", self.venue.account_id, *key)
            self.trade_ids[key] = found
        return found

    def client_id(self, view: OrderView) -> str | None:
        return None if view.client_order_id.startswith("_") else view.client_order_id

    def order(self, view: OrderView) -> dict[str, Any]:
        symbol, wire = view.symbol, self.wire
        fills = self.fills_of(symbol, view.order_id)
        fee = sum(trade.commission for trade in fills)
        average = (
            view.cumulative_quote * 10 ** self.venue.instruments[symbol].size_scale // view.executed
            if view.executed
            else 0
        )
        entry: dict[str, Any] = {
            "refid": None,
            "userref": 0,
            "status": _STATUS.get(view.status, "canceled"),
            "opentm": seconds(view.time_ms),
            "starttm": 0,
            "expiretm": 0,
            "descr": {
                "pair": altname(symbol),
                "type": "buy" if view.side is Side.BUY else "sell",
                "ordertype": "market" if view.order_type == "MARKET" else "limit",
                "price": wire.price(symbol, view.price),
                "price2": "0",
                "leverage": "none",
                "order": "",
                "close": "",
            },
            "vol": wire.size(symbol, view.quantity),
            "vol_exec": wire.size(symbol, view.executed),
            "cost": wire.asset(view.cumulative_quote),
            "fee": wire.asset(fee),
            "price": wire.asset(average) if view.executed else "0",
            "stopprice": "0",
            "limitprice": "0",
            "misc": "",
            "oflags": "fciq,post" if view.order_type == "LIMIT_MAKER" else "fciq",
        }
        client_id = self.client_id(view)
        if client_id is not None:
            entry["cl_ord_id"] = client_id
        if not view.is_open:
            entry["closetm"] = seconds(view.update_time_ms)
            entry["reason"] = None
        return entry

    def trade(self, trade: AccountTrade) -> dict[str, Any]:
        symbol, wire = trade.symbol, self.wire
        view = self.venue.find(symbol, trade.order_id, None)
        return {
            "ordertxid": self.txid(view) if view is not None else "",
            "postxid": kraken_id("P", trade.symbol, trade.trade_id),
            "pair": altname(symbol),
            "time": seconds(trade.time_ms),
            "type": "buy" if trade.is_buyer else "sell",
            "ordertype": "limit",
            "price": wire.price(symbol, trade.price),
            "cost": wire.asset(trade.quote_quantity),
            "fee": wire.asset(trade.commission),
            "vol": wire.size(symbol, trade.quantity),
            "margin": "0",
            "leverage": "0",
            "misc": "",
            "trade_id": trade.trade_id,
            "maker": trade.is_maker,
        }

    def _index_trades(self) -> None:
        trades = self.venue.trades()
        for trade in trades[self._seen_trades :]:
            self._fills_by_order.setdefault((trade.symbol, trade.order_id), []).append(trade)
        self._seen_trades = len(trades)

    def fills_of(self, symbol: str, order_id: int) -> list[AccountTrade]:
        self._index_trades()
        return list(self._fills_by_order.get((symbol, order_id), ()))
