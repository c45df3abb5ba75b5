"""Bybit v5 WebSockets: /v5/public/spot (orderbook.50, publicTrade) and /v5/private (order,
execution, wallet).

- Requests: `{"op": "subscribe"|"unsubscribe", "args": ["orderbook.50.BTCUSDT", ...], "req_id"?}`,
  answered `{"success", "ret_msg", "conn_id", "req_id", "op"}`; `{"op": "ping"}` is answered
  `{"success": true, "ret_msg": "pong", "op": "ping"}` (public) or `{"op": "pong", "args": [ms]}`
  (private).
- `orderbook.50.<symbol>`: a snapshot of the top 50 levels a side on subscribe, then every
  `books_interval_ms` a delta with the levels of the top 50 that changed (absolute sizes; "0" removes
  one, including a level pushed out of the top 50). `u` counts the symbol's messages (the snapshot
  included); `seq` is a cross sequence shared by every symbol.
- `publicTrade.<symbol>` in real time, trade ids as UUIDs.
- Private: `{"op": "auth", "args": [api_key, expires_ms, signature]}` first; then `order` (every order
  update), `execution` (each trade of ours) and `wallet` (the account's coins after a change).

Frames are queued per connection and written once per loop turn (one syscall per connection).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
from aiohttp import WSMsgType, web

from tradestack.domain.events import Level
from tradestack.domain.matching import BookUpdate, Trade
from tradestack.ports import Clock
from tradestack.venues.simulated.accounts import BalanceChange, Execution, UserEvent
from tradestack.venues.simulated.streams import text_frame
from tradestack.venues.simulated.venue import SimVenue
from tradestack.venues.simulated_bybit.auth import BybitKeys
from tradestack.venues.simulated_bybit.rest import AccountIndex
from tradestack.venues.simulated_bybit.wire import BybitWire, Json, side_word

DEPTH = 50
PRIVATE_TOPICS = frozenset({"order", "execution", "wallet"})
_TRADE_NAMESPACE = uuid.UUID("0b6a7c1e-3d2f-4e5a-8b9c-1d2e3f4a5b6c")


class Connection:
    __slots__ = ("authed", "conn_id", "outbox", "private", "topics", "transport", "ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport, private: bool) -> None:
        self.ws = ws
        self.transport = transport
        self.private = private
        self.conn_id = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}"
        self.topics: set[str] = set()
        self.outbox: list[bytes] = []
        self.authed = False


@dataclass(slots=True)
class _Published:
    """The top-50 book as last published for one symbol (what every client's book holds)."""

    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    dirty: bool = False


class BybitStreamHub:
    def __init__(
        self,
        clock: Clock,
        venue: SimVenue,
        wire: BybitWire,
        keys: BybitKeys,
        index: AccountIndex,
        *,
        books_interval_ms: int = 20,
    ) -> None:
        self.clock = clock
        self.venue = venue
        self.wire = wire
        self.keys = keys
        self.index = index
        self.books_interval_ms = books_interval_ms
        self.connections: set[Connection] = set()
        self.update_id = dict.fromkeys(venue.instruments, 0)
        self.cross_seq = 1_000
        self._published = {symbol: _Published() for symbol in venue.instruments}
        self._skip: set[str] = set()
        self._dirty: dict[Connection, None] = {}
        self._flush_scheduled = False
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder().decode
        self.pings = 0
        self.frames_sent = 0

    def start(self) -> list[asyncio.Task[None]]:
        if self.books_interval_ms <= 0:
            return []
        return [asyncio.create_task(self._books_loop(), name="bybit-sim-books")]

    async def close_all(self) -> None:
        for conn in list(self.connections):
            self._flush_one(conn)
            try:
                await asyncio.wait_for(conn.ws.close(code=1001, message=b"server stopping"), 1.0)
            except (TimeoutError, ConnectionError, RuntimeError):
                conn.transport.abort()

    # ---- fault injection ---------------------------------------------------------------------------

    def skip_next_books_update(self, symbol: str) -> None:
        """The next delta of `symbol` is lost (its `u` is used): clients see a gap."""
        self._skip.add(symbol)

    def drop_connections(self, private: bool | None = None) -> int:
        dropped = [c for c in self.connections if private is None or c.private is private]
        for conn in dropped:
            conn.outbox.clear()
            conn.transport.abort()
        return len(dropped)

    # ---- the venue's Publisher ---------------------------------------------------------------------

    def book_updated(self, symbol: str, update: BookUpdate, time_ms: int) -> None:
        self._published[symbol].dirty = True

    def traded(self, symbol: str, trades: Sequence[Trade], time_ms: int) -> None:
        topic = f"publicTrade.{symbol}"
        subscribers = self._subscribers(topic)
        if not subscribers:
            return
        data = [
            {
                "T": time_ms,
                "s": symbol,
                "S": side_word(trade.taker_side),
                "v": self.wire.size(symbol, trade.size),
                "p": self.wire.price(symbol, trade.price),
                "L": "ZeroPlusTick",
                "i": str(uuid.uuid5(_TRADE_NAMESPACE, f"{symbol}:{trade.trade_id}")),
                "BT": False,
            }
            for trade in trades
        ]
        self._push(subscribers, {"topic": topic, "type": "snapshot", "ts": time_ms, "data": data})

    def user_events(self, events: Sequence[UserEvent]) -> None:
        for event in events:  # every account trade passes here: the REST answers read it too
            if isinstance(event, Execution) and event.trade is not None:
                self.index.record(event.trade, event.order)
        listeners = [c for c in self.connections if c.private and c.authed and c.topics]
        if not listeners:
            return
        now = self.clock.now_ns() // 1_000_000
        for event in events:
            if isinstance(event, BalanceChange):
                account = self.wire.account(list(self.venue.balances.snapshot().values()))
                self._private(listeners, "wallet", [account], now)
                continue
            assert isinstance(event, Execution)
            view = event.order
            order = self.wire.order(view, self.index.fee_of(view.symbol, view.order_id))
            order["category"] = "spot"
            if event.trade is not None:
                trade = event.trade
                execution = self.wire.execution(
                    trade, view, self.index.leaves_after(trade), self.index.seq_of(trade)
                )
                self._private(listeners, "execution", [execution], now)
            self._private(listeners, "order", [order], now)

    def _private(self, listeners: list[Connection], topic: str, data: list[Json], now: int) -> None:
        message = {"id": secrets.token_hex(8), "topic": topic, "creationTime": now, "data": data}
        payload = self._encode(message)
        for conn in listeners:
            if topic in conn.topics:
                self._send(conn, payload)

    # ---- books ---------------------------------------------------------------------------------------

    def flush_books(self) -> None:
        """Push the pending delta of every symbol now (the timer does it every books_interval_ms)."""
        now = self.clock.now_ns() // 1_000_000
        for symbol, published in self._published.items():
            if not published.dirty:
                continue
            published.dirty = False
            engine = self.venue.engines[symbol]
            bids = _changes(published.bids, engine.bids(DEPTH))
            asks = _changes(published.asks, engine.asks(DEPTH))
            if not bids and not asks:
                continue
            self.update_id[symbol] += 1
            self.cross_seq += 1
            if symbol in self._skip:
                self._skip.discard(symbol)
                continue
            topic = f"orderbook.{DEPTH}.{symbol}"
            subscribers = self._subscribers(topic)
            if not subscribers:
                continue
            data = {
                "s": symbol,
                "b": self.wire.levels(symbol, sorted(bids, reverse=True)),
                "a": self.wire.levels(symbol, sorted(asks)),
                "u": self.update_id[symbol],
                "seq": self.cross_seq,
            }
            self._push(subscribers, {"topic": topic, "type": "delta", "ts": now, "data": data, "cts": now})

    def _snapshot(self, conn: Connection, symbol: str) -> None:
        engine = self.venue.engines[symbol]
        published = self._published[symbol]
        if published.dirty:
            self.flush_books()  # every client's book starts from what was last published
        now = self.clock.now_ns() // 1_000_000
        bids = sorted(published.bids.items(), reverse=True)
        asks = sorted(published.asks.items())
        if not published.bids and not published.asks:
            bids, asks = engine.bids(DEPTH), engine.asks(DEPTH)
            published.bids, published.asks = dict(bids), dict(asks)
        data = {
            "s": symbol,
            "b": self.wire.levels(symbol, bids),
            "a": self.wire.levels(symbol, asks),
            "u": self.update_id[symbol],
            "seq": self.cross_seq,
        }
        topic = f"orderbook.{DEPTH}.{symbol}"
        message = {"topic": topic, "type": "snapshot", "ts": now, "data": data, "cts": now}
        self._send(conn, self._encode(message))

    def published_levels(self, symbol: str) -> tuple[list[Level], list[Level]]:
        published = self._published[symbol]
        return sorted(published.bids.items(), reverse=True), sorted(published.asks.items())

    async def _books_loop(self) -> None:
        interval = self.books_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            self.flush_books()

    # ---- connections ---------------------------------------------------------------------------------

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
        try:
            request = self._decode(text)
        except msgspec.DecodeError:
            request = None
        if not isinstance(request, dict):
            self._reply(conn, "", False, f"error:invalid request {text[:100]}", "")
            return
        op = request.get("op")
        req_id = request.get("req_id")
        req_id = req_id if isinstance(req_id, str) else ""
        if op == "ping":
            self.pings += 1
            if conn.private:
                body = {"req_id": req_id, "op": "pong", "args": [str(self.clock.now_ns() // 1_000_000)]}
                self._send(conn, self._encode({**body, "conn_id": conn.conn_id}))
            else:
                self._reply(conn, "ping", True, "pong", req_id)
            return
        if op == "auth":
            self._auth(conn, request.get("args"), req_id)
            return
        if op not in ("subscribe", "unsubscribe"):
            self._reply(conn, str(op)[:40], False, f"error:handler not found,op:{str(op)[:40]}", req_id)
            return
        args = request.get("args")
        if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
            self._reply(conn, op, False, "error:args invalid", req_id)
            return
        if conn.private and not conn.authed:
            self._reply(conn, op, False, "Request not authorized", req_id)
            return
        bad = [arg for arg in args if not self._valid_topic(conn, arg)]
        if bad:
            self._reply(conn, op, False, f"Invalid topic :{bad}", req_id)
            return
        if op == "unsubscribe":
            conn.topics.difference_update(args)
            self._reply(conn, op, True, "", req_id)
            return
        conn.topics.update(args)
        self._reply(conn, op, True, "subscribe" if not conn.private else "", req_id)
        for topic in args:
            if topic.startswith("orderbook."):
                self._snapshot(conn, topic.rsplit(".", 1)[1])

    def _valid_topic(self, conn: Connection, topic: str) -> bool:
        if conn.private:
            return topic in PRIVATE_TOPICS
        head, _, symbol = topic.rpartition(".")
        return head in (f"orderbook.{DEPTH}", "publicTrade") and symbol in self.venue.instruments

    def _auth(self, conn: Connection, args: object, req_id: str) -> None:
        if not conn.private:
            self._reply(conn, "auth", False, "error:auth on the public channel", req_id)
            return
        key, why = self.keys.check_ws_auth(args, self.clock.now_ns() // 1_000_000)
        conn.authed = key is not None
        self._reply(conn, "auth", key is not None, why, req_id)

    def _reply(self, conn: Connection, op: str, success: bool, msg: str, req_id: str) -> None:
        body = {"success": success, "ret_msg": msg, "conn_id": conn.conn_id, "req_id": req_id, "op": op}
        self._send(conn, self._encode(body))

    # ---- writing -------------------------------------------------------------------------------------

    def _subscribers(self, topic: str) -> list[Connection]:
        return [conn for conn in self.connections if topic in conn.topics]

    def _push(self, connections: Sequence[Connection], message: Json) -> None:
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
        self.frames_sent += len(frames)
        if not conn.transport.is_closing():
            conn.transport.write(b"".join(frames))


def _changes(published: dict[int, int], now: list[Level]) -> list[Level]:
    """The levels of `now` (the current top) that differ from `published`, and 0 for those that left
    it; `published` becomes `now`."""
    current = dict(now)
    changed = [(price, size) for price, size in current.items() if published.get(price) != size]
    changed += [(price, 0) for price in published if price not in current]
    published.clear()
    published.update(current)
    return changed
