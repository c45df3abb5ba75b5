"""Kraken WebSocket v2: ws.kraken.com/v2 (book, trade) and ws-auth.kraken.com/v2 (executions, balances).

- Requests: `{"method": "subscribe"|"unsubscribe"|"ping", "params": {...}, "req_id"?}`; each symbol
  of a subscription is acknowledged `{"method": "subscribe", "result": {...}, "success": true,
  "time_in", "time_out", "req_id"}`; a refusal `{"method", "error", "success": false, ...}`.
  `ping` is answered `{"method": "pong", "req_id", "time_in", "time_out"}`. A connection first gets a
  `status` message; while it has a subscription, a `heartbeat` every second.
- `book` (depth 10, 25, 100, 500 or 1000): a snapshot on subscribe, then every `book_interval_ms` an
  update with the levels of the top `depth` that changed (qty 0: gone from the book; a level pushed
  below `depth` is not sent, the client truncates) and the CRC32 `checksum` of the top 10 after it.
  Prices and quantities are JSON numbers at the pair's precision. `trade` pushes in real time.
- Private: `executions` and `balances` need `token` (GetWebSocketsToken, used within 15 minutes).
  `executions`: a snapshot of open orders (and with `snap_trades` the last 50 trades), then one entry
  per order event: exec_type new, trade (with exec_id = the TradesHistory id, trade_id, last_qty,
  last_price, fees), canceled, expired. `balances`: a snapshot, then updates per changed asset.
"""

from __future__ import annotations

import asyncio
import secrets
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from tradestack.domain.events import Level, Side
from tradestack.domain.matching import BookUpdate, OrderStatus, Trade
from tradestack.ports import Clock
from tradestack.venues.simulated.accounts import AccountTrade, BalanceChange, Execution, OrderView, UserEvent
from tradestack.venues.simulated.streams import text_frame
from tradestack.venues.simulated.venue import SimVenue
from tradestack.venues.simulated_kraken.auth import KrakenKeys
from tradestack.venues.simulated_kraken.wire import KrakenWire, rfc3339

DEPTHS = (10, 25, 100, 500, 1000)
CHECKSUM_DEPTH = 10
_ORDER_STATUS = {
    OrderStatus.NEW: "new",
    OrderStatus.PARTIALLY_FILLED: "partially_filled",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELED: "canceled",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.REJECTED: "canceled",
}
_EXEC_TYPE = {"NEW": "new", "TRADE": "trade", "CANCELED": "canceled", "EXPIRED": "expired"}


def checksum(wire: KrakenWire, symbol: str, asks: Sequence[Level], bids: Sequence[Level]) -> int:
    """Kraken's CRC32 over the top 10 asks then bids: price and qty texts, '.' removed, leading 0s
    stripped, concatenated."""
    parts = []
    for price, qty in [*asks[:CHECKSUM_DEPTH], *bids[:CHECKSUM_DEPTH]]:
        for text in (wire.price(symbol, price), wire.size(symbol, qty)):
            parts.append(text.replace(".", "").lstrip("0"))
    return zlib.crc32("".join(parts).encode())


class Connection:
    __slots__ = ("books", "conn_id", "outbox", "private", "subs", "token", "transport", "ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport, private: bool) -> None:
        self.ws = ws
        self.transport = transport
        self.private = private
        self.conn_id = secrets.randbelow(2**48)
        self.subs: set[tuple[str, str]] = set()  # (channel, symbol or "")
        self.books: dict[str, int] = {}  # symbol -> subscribed depth
        self.outbox: list[bytes] = []
        self.token = ""


class KrakenStreamHub:
    def __init__(
        self,
        clock: Clock,
        venue: SimVenue,
        wire: KrakenWire,
        keys: KrakenKeys,
        txid: Callable[[OrderView], str],
        trade_id: Callable[[AccountTrade], str],
        *,
        book_interval_ms: int = 100,
        heartbeat_s: float = 1.0,
    ) -> None:
        self.clock = clock
        self.venue = venue
        self.wire = wire
        self.keys = keys
        self._txid = txid
        self._trade_id = trade_id
        self.book_interval_ms = book_interval_ms
        self.heartbeat_s = heartbeat_s
        self.connections: set[Connection] = set()
        self._published: dict[tuple[str, int], tuple[dict[int, int], dict[int, int]]] = {}
        self._dirty_books: set[str] = set()
        self._corrupt: set[str] = set()
        self._dirty: dict[Connection, None] = {}
        self._flush_scheduled = False
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder().decode
        self.tokens_used: list[str] = []
        self.pings = 0

    def start(self) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(self._heartbeat_loop(), name="kraken-sim-heartbeat")]
        if self.book_interval_ms > 0:
            tasks.append(asyncio.create_task(self._book_loop(), name="kraken-sim-book"))
        return tasks

    async def close_all(self) -> None:
        for conn in list(self.connections):
            self._flush_one(conn)
            try:
                await asyncio.wait_for(conn.ws.close(code=1001, message=b"server stopping"), 1.0)
            except (TimeoutError, ConnectionError, RuntimeError):
                conn.transport.abort()

    # ---- faults ------------------------------------------------------------------------------------

    def corrupt_next_checksum(self, symbol: str) -> None:
        """The next `book` update of `symbol` carries a wrong checksum."""
        self._corrupt.add(symbol)

    def drop_connections(self, private: bool | None = None) -> int:
        dropped = [c for c in self.connections if private is None or c.private is private]
        for conn in dropped:
            conn.outbox.clear()
            conn.transport.abort()
        return len(dropped)

    # ---- the venue's Publisher ---------------------------------------------------------------------

    def book_updated(self, symbol: str, update: BookUpdate, time_ms: int) -> None:
        self._dirty_books.add(symbol)

    def traded(self, symbol: str, trades: Sequence[Trade], time_ms: int) -> None:
        subscribers = self._subscribers("trade", symbol)
        if not subscribers:
            return
        wire = self.wire
        data = [
            {
                "symbol": symbol,
                "side": "buy" if trade.taker_side is Side.BUY else "sell",
                "price": msgspec.Raw(wire.price(symbol, trade.price).encode()),
                "qty": msgspec.Raw(wire.size(symbol, trade.size).encode()),
                "ord_type": "limit",
                "trade_id": trade.trade_id,
                "timestamp": rfc3339(time_ms),
            }
            for trade in trades
        ]
        self._push(subscribers, {"channel": "trade", "type": "update", "data": data})

    def user_events(self, events: Sequence[UserEvent]) -> None:
        executions = [c for c in self.connections if c.private and ("executions", "") in c.subs]
        balances = [c for c in self.connections if c.private and ("balances", "") in c.subs]
        for event in events:
            if isinstance(event, Execution) and executions:
                entry = self.execution(
                    event.order, _EXEC_TYPE.get(event.execution_type, "status"), event.time_ms, event.trade
                )
                self._push(executions, {"channel": "executions", "type": "update", "data": [entry]})
            elif isinstance(event, BalanceChange) and balances:
                data = [
                    {
                        "asset": change.asset,
                        "asset_class": "currency",
                        "balance": msgspec.Raw(self.wire.asset(change.free + change.locked).encode()),
                        "timestamp": rfc3339(event.time_ms),
                    }
                    for change in event.balances
                ]
                self._push(balances, {"channel": "balances", "type": "update", "data": data})

    def execution(
        self, view: OrderView, exec_type: str, time_ms: int, trade: AccountTrade | None
    ) -> dict[str, Any]:
        symbol, wire = view.symbol, self.wire
        entry: dict[str, Any] = {
            "order_id": self._txid(view),
            "symbol": symbol,
            "side": "buy" if view.side is Side.BUY else "sell",
            "order_type": "market" if view.order_type == "MARKET" else "limit",
            "order_qty": msgspec.Raw(wire.size(symbol, view.quantity).encode()),
            "limit_price": msgspec.Raw(wire.price(symbol, view.price).encode()),
            "time_in_force": view.time_in_force,
            "exec_type": exec_type,
            "order_status": _ORDER_STATUS.get(view.status, "canceled"),
            "cum_qty": msgspec.Raw(wire.size(symbol, view.executed).encode()),
            "cum_cost": msgspec.Raw(wire.asset(view.cumulative_quote).encode()),
            "timestamp": rfc3339(time_ms),
            "order_userref": 0,
        }
        if not view.client_order_id.startswith("_"):
            entry["cl_ord_id"] = view.client_order_id
        if view.order_type == "LIMIT_MAKER":
            entry["post_only"] = True
        if trade is not None:
            entry.update(
                {
                    "exec_id": self._trade_id(trade),
                    "trade_id": trade.trade_id,
                    "last_qty": msgspec.Raw(wire.size(symbol, trade.quantity).encode()),
                    "last_price": msgspec.Raw(wire.price(symbol, trade.price).encode()),
                    "liquidity_ind": "m" if trade.is_maker else "t",
                    "cost": msgspec.Raw(wire.asset(trade.quote_quantity).encode()),
                    "fees": [
                        {
                            "asset": trade.commission_asset,
                            "qty": msgspec.Raw(wire.asset(trade.commission).encode()),
                        }
                    ],
                    "timestamp": rfc3339(trade.time_ms),
                }
            )
        return entry

    # ---- book --------------------------------------------------------------------------------------

    def flush_books(self) -> None:
        """Push the pending `book` updates now (the timer does it every `book_interval_ms`)."""
        dirty, self._dirty_books = self._dirty_books, set()
        for symbol in dirty:
            corrupt = symbol in self._corrupt
            self._corrupt.discard(symbol)
            depths = {depth for conn in self.connections for s, depth in conn.books.items() if s == symbol}
            for depth in depths:
                self._book_update(symbol, depth, corrupt)

    def _book_update(self, symbol: str, depth: int, corrupt: bool) -> None:
        engine = self.venue.engines[symbol]
        bids, asks = engine.bids(depth), engine.asks(depth)
        old_bids, old_asks = self._published.get((symbol, depth), ({}, {}))
        self._published[(symbol, depth)] = (dict(bids), dict(asks))
        changed_bids = self._changes(old_bids, dict(bids), engine.bids(), reverse=True)
        changed_asks = self._changes(old_asks, dict(asks), engine.asks(), reverse=False)
        if not changed_bids and not changed_asks:
            return
        value = checksum(self.wire, symbol, asks, bids)
        if corrupt:
            value ^= 1
        subscribers = [c for c in self.connections if c.books.get(symbol) == depth]
        message = {
            "channel": "book",
            "type": "update",
            "data": [
                {
                    "symbol": symbol,
                    "bids": self._levels(symbol, changed_bids),
                    "asks": self._levels(symbol, changed_asks),
                    "checksum": value,
                    "timestamp": rfc3339(self.clock.now_ns() // 1_000_000),
                }
            ],
        }
        self._push(subscribers, message)

    @staticmethod
    def _changes(
        old: dict[int, int], new: dict[int, int], whole: Sequence[Level], reverse: bool
    ) -> list[Level]:
        """Levels of the new top that are new or changed, and levels of the old top gone from the
        whole book (qty 0). A level only pushed below the depth is left to the client's truncation."""
        in_book = {price for price, _ in whole} if old.keys() - new.keys() else set()
        changes = [(price, qty) for price, qty in new.items() if old.get(price) != qty]
        changes += [(price, 0) for price in old.keys() - new.keys() if price not in in_book]
        return sorted(changes, reverse=reverse)

    def _levels(self, symbol: str, levels: Sequence[Level]) -> list[dict[str, msgspec.Raw]]:
        price, size = self.wire.price, self.wire.size
        return [
            {"price": msgspec.Raw(price(symbol, p).encode()), "qty": msgspec.Raw(size(symbol, q).encode())}
            for p, q in levels
        ]

    def _snapshot(self, conn: Connection, symbol: str, depth: int) -> None:
        engine = self.venue.engines[symbol]
        bids, asks = engine.bids(depth), engine.asks(depth)
        # updates carry absolute quantities: one computed from an older published state is safe to
        # apply on top of this newer snapshot
        self._published.setdefault((symbol, depth), (dict(bids), dict(asks)))
        message = {
            "channel": "book",
            "type": "snapshot",
            "data": [
                {
                    "symbol": symbol,
                    "bids": self._levels(symbol, bids),
                    "asks": self._levels(symbol, asks),
                    "checksum": checksum(self.wire, symbol, asks, bids),
                    "timestamp": rfc3339(self.clock.now_ns() // 1_000_000),
                }
            ],
        }
        self._send(conn, self._encode(message))

    async def _book_loop(self) -> None:
        interval = self.book_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            self.flush_books()

    async def _heartbeat_loop(self) -> None:
        beat = self._encode({"channel": "heartbeat"})
        while True:
            await asyncio.sleep(self.heartbeat_s)
            for conn in list(self.connections):
                if conn.subs:
                    self._send(conn, beat)

    # ---- connections -------------------------------------------------------------------------------

    async def handle_public(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, private=False)

    async def handle_private(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, private=True)

    async def _handle(self, request: web.Request, private: bool) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, compress=False, timeout=1.0)
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        conn = Connection(ws, transport, private)
        self.connections.add(conn)
        status = {
            "channel": "status",
            "type": "update",
            "data": [
                {"version": "2.0.0", "system": "online", "api_version": "v2", "connection_id": conn.conn_id}
            ],
        }
        self._send(conn, self._encode(status))
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._request(conn, message.data)
        except ConnectionError:
            pass
        finally:
            self.connections.discard(conn)
            self._dirty.pop(conn, None)
        return ws

    def _request(self, conn: Connection, text: str) -> None:
        time_in = rfc3339(self.clock.now_ns() // 1_000_000)
        try:
            request = self._decode(text)
        except msgspec.DecodeError:
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            self._send(
                conn, self._encode({"error": "Malformed request", "success": False, "time_in": time_in})
            )
            return
        method = request["method"]
        req_id = request.get("req_id")
        if method == "ping":
            self.pings += 1
            self._reply(conn, {"method": "pong"}, req_id, time_in)
            return
        params = request.get("params")
        if method not in ("subscribe", "unsubscribe") or not isinstance(params, dict):
            self._reply(
                conn,
                {"method": method, "error": f"Unsupported method {method[:40]}", "success": False},
                req_id,
                time_in,
            )
            return
        channel = params.get("channel")
        if conn.private:
            self._private(conn, method, channel, params, req_id, time_in)
        else:
            self._public(conn, method, channel, params, req_id, time_in)

    def _public(
        self,
        conn: Connection,
        method: str,
        channel: object,
        params: dict[str, Any],
        req_id: object,
        time_in: str,
    ) -> None:
        symbols = params.get("symbol")
        if channel not in ("book", "trade") or not isinstance(symbols, list) or not symbols:
            self._refuse(conn, method, "Channel or symbol not supported", req_id, time_in)
            return
        depth = params.get("depth", 10)
        if channel == "book" and depth not in DEPTHS:
            self._refuse(conn, method, "Invalid depth", req_id, time_in)
            return
        for symbol in symbols:
            if not isinstance(symbol, str) or symbol not in self.venue.instruments:
                self._refuse(conn, method, f"Currency pair not supported {str(symbol)[:40]}", req_id, time_in)
                continue
            result: dict[str, Any] = {"channel": channel, "symbol": symbol}
            if channel == "book":
                result.update({"depth": depth, "snapshot": True})
            subscribed = (str(channel), symbol) in conn.subs and (
                channel != "book" or conn.books.get(symbol) == depth
            )  # a book subscription is named by its depth too
            if method == "unsubscribe":
                if not subscribed:
                    self._refuse(conn, method, "Subscription Not Found", req_id, time_in)
                    continue
                conn.subs.discard((str(channel), symbol))
                if channel == "book":
                    conn.books.pop(symbol, None)
                self._reply(conn, {"method": method, "result": result, "success": True}, req_id, time_in)
                continue
            if subscribed:
                self._refuse(conn, method, "Already subscribed", req_id, time_in)
                continue
            conn.subs.add((str(channel), symbol))
            self._reply(conn, {"method": method, "result": result, "success": True}, req_id, time_in)
            if channel == "book":
                conn.books[symbol] = int(depth)
                self._snapshot(conn, symbol, int(depth))

    def _private(
        self,
        conn: Connection,
        method: str,
        channel: object,
        params: dict[str, Any],
        req_id: object,
        time_in: str,
    ) -> None:
        if channel not in ("executions", "balances"):
            self._refuse(conn, method, "Channel not supported", req_id, time_in)
            return
        token = params.get("token")
        key = self.keys.redeem(token, self.clock.now_ns() // 1_000_000) if isinstance(token, str) else None
        if key is None:
            self._refuse(conn, method, "EAPI:Invalid token", req_id, time_in)
            return
        self.tokens_used.append(str(token))
        conn.token = str(token)
        result: dict[str, Any] = {"channel": channel}
        if method == "unsubscribe":
            conn.subs.discard((str(channel), ""))
            self._reply(conn, {"method": method, "result": result, "success": True}, req_id, time_in)
            return
        conn.subs.add((str(channel), ""))
        if channel == "executions":
            result.update({"snapshot": bool(params.get("snap_orders", True)), "maxratecount": 60})
        self._reply(conn, {"method": method, "result": result, "success": True}, req_id, time_in)
        now_ms = self.clock.now_ns() // 1_000_000
        if channel == "executions":
            data = []
            if params.get("snap_orders", True):
                data += [
                    self.execution(view, "new", view.update_time_ms, None)
                    for view in self.venue.open_orders()
                ]
            if params.get("snap_trades", False):
                for trade in self.venue.trades()[-50:]:
                    view = self.venue.find(trade.symbol, trade.order_id, None)
                    if view is not None:
                        data.append(self.execution(view, "trade", trade.time_ms, trade))
            self._send(conn, self._encode({"channel": "executions", "type": "snapshot", "data": data}))
        else:
            balances = [
                {
                    "asset": asset,
                    "asset_class": "currency",
                    "balance": msgspec.Raw(self.wire.asset(entry.free + entry.locked).encode()),
                    "wallets": [],
                }
                for asset, entry in self.venue.balances.snapshot().items()
            ]
            snapshot = {
                "channel": "balances",
                "type": "snapshot",
                "data": balances,
                "timestamp": rfc3339(now_ms),
            }
            self._send(conn, self._encode(snapshot))

    def _refuse(self, conn: Connection, method: str, error: str, req_id: object, time_in: str) -> None:
        self._reply(conn, {"method": method, "error": error, "success": False}, req_id, time_in)

    def _reply(self, conn: Connection, body: dict[str, Any], req_id: object, time_in: str) -> None:
        body["time_in"] = time_in
        body["time_out"] = rfc3339(self.clock.now_ns() // 1_000_000)
        if isinstance(req_id, int):
            body["req_id"] = req_id
        self._send(conn, self._encode(body))

    # ---- writing -----------------------------------------------------------------------------------

    def _subscribers(self, channel: str, symbol: str) -> list[Connection]:
        key = (channel, symbol)
        return [conn for conn in self.connections if key in conn.subs]

    def _push(self, connections: Sequence[Connection], message: dict[str, Any]) -> None:
        payload = self._encode(message)
        for conn in connections:
            self._send(conn, payload)

    def _send(self, conn: Connection, payload: bytes) -> None:
        conn.outbox.append(text_frame(payload))
        self._dirty[conn] = None
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, {}
        for conn in dirty:
            self._flush_one(conn)

    def _flush_one(self, conn: Connection) -> None:
        if not conn.outbox:
            return
        frames, conn.outbox = conn.outbox, []
        if not conn.transport.is_closing():
            conn.transport.write(b"".join(frames))
