"""Coinbase Exchange REST handlers (api.exchange.coinbase.com) over the shared simulated venue core.

Private endpoints check the four CB-ACCESS-* headers (400 missing/expired, 401 key, passphrase,
signature) before anything else, then the profile's token bucket (429); public ones the IP's bucket.
Success bodies are the resource itself; failures `{"message": "..."}`. Lists page newest first with
`limit` and the `after` cursor, the next cursor in the `CB-AFTER` header.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from tradestack.domain.events import Side
from tradestack.domain.instruments import NotRepresentable, format_fixed, parse_fixed
from tradestack.ports import Clock
from tradestack.venues.simulated.accounts import AccountTrade, OrderView
from tradestack.venues.simulated.errors import BinanceError
from tradestack.venues.simulated.venue import NewOrder, SimVenue
from tradestack.venues.simulated_coinbase import errors
from tradestack.venues.simulated_coinbase.auth import ApiKey, CoinbaseKeys, new_uuid
from tradestack.venues.simulated_coinbase.errors import CoinbaseError
from tradestack.venues.simulated_coinbase.limits import TokenBuckets
from tradestack.venues.simulated_coinbase.wire import CoinbaseWire, Json, iso_ms

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_TIME_IN_FORCE = ("GTC", "IOC", "FOK")
PAGE_LIMIT = 1000
DEFAULT_PAGE = 100
_PATHS = ("/time", "/products", "/orders", "/fills", "/accounts")


def respond(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(body), status=status, content_type="application/json", headers=headers
    )


class CoinbaseRestApi:
    def __init__(
        self, clock: Clock, venue: SimVenue, wire: CoinbaseWire, keys: CoinbaseKeys, limits: TokenBuckets
    ):
        self.clock = clock
        self.venue = venue
        self.wire = wire
        self.keys = keys
        self.limits = limits
        self._anonymous = 0
        self._placed: dict[str, int] = {}  # order id -> placement number (the /orders cursor)
        self._fills_by_order: dict[tuple[str, int], list[AccountTrade]] = {}
        self._seen_trades = 0
        self.requests = 0
        self._next_id: str | None = None
        self.sequence_of: Callable[[str], int] = lambda symbol: 0  # the stream hub's, set by the server

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/time", self.time),
            web.get("/products", self.products),
            web.get("/products/{product_id}/book", self.book),
            web.post("/orders", self.place_order),
            web.delete("/orders", self.cancel_all),
            web.delete("/orders/{ref}", self.cancel_order),
            web.get("/orders", self.list_orders),
            web.get("/orders/{ref}", self.get_order),
            web.get("/fills", self.fills),
            web.get("/accounts", self.accounts),
        ]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(_PATHS):
            return await handler(request)
        self.requests += 1
        try:
            return await handler(request)
        except CoinbaseError as error:
            return respond({"message": error.message}, error.status)

    # ---- security and limits -------------------------------------------------------------------------

    async def signed(self, request: web.Request, budget: str = "private") -> tuple[ApiKey, bytes]:
        body = await request.read()
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise errors.bad_request("Invalid request body") from None
        headers = request.headers
        key = self.keys.check(
            headers.get("CB-ACCESS-KEY"),
            headers.get("CB-ACCESS-SIGN"),
            headers.get("CB-ACCESS-TIMESTAMP"),
            headers.get("CB-ACCESS-PASSPHRASE"),
            f"{request.method.upper()}{request.raw_path}{text}",
            self.clock.now_ns(),
        )
        self.limits.take(budget, key.profile_id, self.clock.monotonic_ns())
        return key, body

    def public(self, request: web.Request) -> None:
        self.limits.take("public", request.remote or "", self.clock.monotonic_ns())

    # ---- public --------------------------------------------------------------------------------------

    async def time(self, request: web.Request) -> web.StreamResponse:
        self.public(request)
        now_ms = self.clock.now_ns() // 1_000_000
        epoch = format_fixed(now_ms, 3)  # a JSON number, written exactly
        body = f'{{"iso":"{iso_ms(now_ms)}","epoch":{epoch}}}'.encode()
        return web.Response(body=body, content_type="application/json")

    async def products(self, request: web.Request) -> web.StreamResponse:
        self.public(request)
        return respond([self.wire.product(instrument) for instrument in self.venue.instruments.values()])

    async def book(self, request: web.Request) -> web.StreamResponse:
        self.public(request)
        symbol = request.match_info["product_id"]
        if symbol not in self.venue.instruments:
            raise errors.not_found()
        if request.query.get("level", "1") != "2":
            raise errors.bad_request("only level=2 is simulated")
        engine = self.venue.engines[symbol]
        wire = self.wire
        return respond(
            {
                "bids": [[*level, 1] for level in wire.levels(symbol, engine.bids())],
                "asks": [[*level, 1] for level in wire.levels(symbol, engine.asks())],
                "sequence": self.sequence_of(symbol),
                "auction_mode": False,
                "auction": None,
                "time": iso_ms(self.clock.now_ns() // 1_000_000),
            }
        )

    # ---- orders --------------------------------------------------------------------------------------

    async def place_order(self, request: web.Request) -> web.StreamResponse:
        _, body = await self.signed(request)
        order = _json_object(body)
        symbol = order.get("product_id")
        instrument = self.venue.instruments.get(symbol) if isinstance(symbol, str) else None
        if instrument is None or not isinstance(symbol, str):
            raise errors.bad_request("Invalid product_id")
        side_word = order.get("side")
        if side_word not in ("buy", "sell"):
            raise errors.bad_request("Invalid side")
        if order.get("type", "limit") != "limit":
            raise errors.bad_request("Invalid order type: only limit orders are simulated")
        client_oid = order.get("client_oid") or ""
        if not isinstance(client_oid, str) or (client_oid and not _is_uuid(client_oid)):
            raise errors.bad_request("Invalid client_oid")
        time_in_force = order.get("time_in_force", "GTC")
        if time_in_force not in _TIME_IN_FORCE:
            raise errors.bad_request("Invalid time_in_force")
        post_only = order.get("post_only", False)
        if not isinstance(post_only, bool) or (post_only and time_in_force != "GTC"):
            raise errors.bad_request("Invalid post_only")
        price = _decimal(order.get("price"), instrument.price_scale, "price")
        size = _decimal(order.get("size"), instrument.size_scale, "size")
        internal = client_oid.lower()
        if not internal:
            self._anonymous += 1
            internal = f"_{self._anonymous}"  # never a UUID: no clash with client_oids
            self.wire.client_oids[internal] = ""
        kind = "LIMIT_MAKER" if post_only else "LIMIT"
        side = Side.BUY if side_word == "buy" else Side.SELL
        order_id = new_uuid()
        self._next_id = order_id
        try:
            placed = self.venue.place(NewOrder(symbol, side, kind, time_in_force, internal, size, price))
        except BinanceError as error:
            if error.code == -2010 and "immediately match" in error.msg:
                return respond(self._rejected(order_id, order, "post only"))
            min_size = self.wire.size(symbol, instrument.min_size or instrument.lot)
            raise errors.from_venue(error, min_size) from None
        return respond(self.wire.order(placed.order, (), pending=True))

    def assign_id(self, view: OrderView) -> str:
        """Called by the stream hub on the NEW event (before any message of the order is written)."""
        key = (view.symbol, view.order_id)
        known = self.wire.uuid_of.get(key)
        if known is not None:
            return known
        order_id = self._next_id or new_uuid()
        self._next_id = None
        self.wire.uuid_of[key] = order_id
        self.wire.order_of[order_id] = key
        self._placed[order_id] = len(self._placed) + 1
        return order_id

    def _rejected(self, order_id: str, order: dict[str, Any], reason: str) -> Json:
        now = iso_ms(self.clock.now_ns() // 1_000_000)
        body: Json = {
            "id": order_id,
            "price": order.get("price"),
            "size": order.get("size"),
            "product_id": order.get("product_id"),
            "profile_id": self.wire.profile_id,
            "side": order.get("side"),
            "type": "limit",
            "time_in_force": "GTC",
            "post_only": True,
            "created_at": now,
            "fill_fees": "0.0000000000000000",
            "filled_size": "0.00000000",
            "executed_value": "0.0000000000000000",
            "status": "rejected",
            "reject_reason": reason,
            "settled": False,
        }
        if order.get("client_oid"):
            body["client_oid"] = order["client_oid"]
        return body

    def _view(self, ref: str, symbol: str | None) -> OrderView | None:
        if ref.startswith("client:"):
            client_oid = ref.removeprefix("client:").lower()
            if not _is_uuid(client_oid):
                raise errors.bad_request("Invalid client_oid")
            view = self.venue.order_by_client_id(client_oid)
        else:
            key = self.wire.order_of.get(ref.lower())
            view = None if key is None else self.venue.find(key[0], key[1], None)
        if view is None or (symbol is not None and view.symbol != symbol):
            return None
        return view

    async def cancel_order(self, request: web.Request) -> web.StreamResponse:
        await self.signed(request)
        symbol = request.query.get("product_id") or None
        view = self._view(request.match_info["ref"], symbol)
        if view is None:
            raise errors.not_found()
        if not view.is_open:
            raise errors.already_done()
        try:
            canceled = self.venue.cancel(view.symbol, view.order_id, None, "coinbase-cancel")
        except BinanceError:
            raise errors.already_done() from None
        return respond(self.wire.order_id(canceled.symbol, canceled.order_id))

    async def cancel_all(self, request: web.Request) -> web.StreamResponse:
        await self.signed(request)
        symbol = request.query.get("product_id") or None
        if symbol is not None and symbol not in self.venue.instruments:
            raise errors.bad_request("Invalid product_id")
        canceled: list[str] = []
        for product in [symbol] if symbol else list(self.venue.instruments):
            if not self.venue.open_orders(product):
                continue
            for view in self.venue.cancel_all(product, "coinbase-cancel-all"):
                canceled.append(self.wire.order_id(view.symbol, view.order_id))
        return respond(canceled)

    # ---- queries -------------------------------------------------------------------------------------

    async def get_order(self, request: web.Request) -> web.StreamResponse:
        await self.signed(request)
        view = self._view(request.match_info["ref"], None)
        if view is None:
            raise errors.not_found()
        return respond(self.wire.order(view, self.fills_of(view.symbol, view.order_id)))

    async def list_orders(self, request: web.Request) -> web.StreamResponse:
        await self.signed(request)
        query = request.query
        symbol = query.get("product_id") or None
        if symbol is not None and symbol not in self.venue.instruments:
            raise errors.bad_request("Invalid product_id")
        statuses = set(query.getall("status", ["open", "pending", "active"]))
        if not statuses <= {"open", "pending", "active", "done", "all"}:
            raise errors.bad_request("Invalid status")
        limit, after = _paging(query)
        if statuses & {"done", "all"}:
            raise errors.bad_request("only open orders are listed by the sim")
        views = [v for v in self.venue.open_orders(symbol)]
        numbered = sorted(
            ((self._placed.get(self.wire.order_id(v.symbol, v.order_id), 0), v) for v in views),
            key=lambda pair: pair[0],
            reverse=True,
        )
        rows = [(n, v) for n, v in numbered if after is None or n < after][:limit]
        headers = {"CB-AFTER": str(rows[-1][0])} if rows else {}
        body = [self.wire.order(v, self.fills_of(v.symbol, v.order_id)) for _, v in rows]
        return respond(body, headers=headers)

    async def fills(self, request: web.Request) -> web.StreamResponse:
        await self.signed(request, "fills")
        query = request.query
        symbol = query.get("product_id") or None
        order_ref = query.get("order_id") or None
        if symbol is None and order_ref is None:
            raise errors.bad_request("product_id or order_id is required")
        limit, after = _paging(query)
        self._index_trades()
        trades = self.venue.trades(symbol)
        rows: list[tuple[int, AccountTrade]] = []
        for number in range(len(trades), 0, -1):  # newest first; the cursor is the position
            if after is not None and number >= after:
                continue
            trade = trades[number - 1]
            if order_ref is not None and self.wire.order_id(trade.symbol, trade.order_id) != order_ref:
                continue
            rows.append((number, trade))
            if len(rows) >= limit:
                break
        headers = {"CB-AFTER": str(rows[-1][0])} if rows else {}
        return respond([self.wire.fill(trade) for _, trade in rows], headers=headers)

    def _index_trades(self) -> None:
        trades = self.venue.trades()
        for trade in trades[self._seen_trades :]:
            self._fills_by_order.setdefault((trade.symbol, trade.order_id), []).append(trade)
        self._seen_trades = len(trades)

    def fills_of(self, symbol: str, order_id: int) -> list[AccountTrade]:
        """An order's trades, oldest first."""
        self._index_trades()
        return list(self._fills_by_order.get((symbol, order_id), ()))

    async def accounts(self, request: web.Request) -> web.StreamResponse:
        await self.signed(request)
        return respond([self.wire.account(balance) for balance in self.venue.balances.snapshot().values()])


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise errors.bad_request("Invalid request body") from None
    if not isinstance(value, dict):
        raise errors.bad_request("Invalid request body")
    return value


def _decimal(value: object, scale: int, name: str) -> int:
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise errors.bad_request(f"Invalid {name}")
    try:
        return parse_fixed(value, scale)
    except NotRepresentable:
        increment = "quote_increment" if name == "price" else "base_increment"
        raise errors.bad_request(f"Invalid {name}: more decimals than {increment}") from None


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower() and len(text) == 36
    except ValueError:
        return False


def _paging(query: Any) -> tuple[int, int | None]:
    limit_text = query.get("limit", str(DEFAULT_PAGE))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= PAGE_LIMIT:
        raise errors.bad_request("Invalid limit")
    after_text = query.get("after", "")
    if after_text and not after_text.isdigit():
        raise errors.bad_request("Invalid after")
    return int(limit_text), int(after_text) if after_text else None
