"""The WebSocket side: Binance market streams and user data streams, with batched frame writes.

Paths, as on stream.binance.com: `/ws/<stream>` (raw payloads), `/stream?streams=a/b/c` (combined:
{"stream": name, "data": payload}), and `/ws/<listenKey>` for the user data stream. Live requests
SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY and GET_PROPERTY are answered as documented.

Streams: <symbol>@depth@100ms and <symbol>@depth (1000 ms) diffs: U = first and u = last book update id
in the window, levels = the final absolute size of every price that changed ("0.00000000" removes);
consecutive diffs chain (next U = previous u + 1). <symbol>@trade and <symbol>@bookTicker in real time;
a bookTicker carries u = the book's update id after the change that moved the top of the book.

Writes are batched: frames for a connection go to its outbox, and one callback per loop iteration
writes each outbox to its socket in a single write (one syscall per connection, not per frame). The
frames are built here (unmasked server text frames) and written to the connection's transport; aiohttp
still handles the handshake, reading, ping/pong/close frames.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from tradestack.domain.events import Level
from tradestack.domain.matching import BookUpdate, Trade
from tradestack.ports import Clock
from tradestack.venues.simulated.accounts import BalanceChange, Execution, UserEvent
from tradestack.venues.simulated.config import SimConfig
from tradestack.venues.simulated.user_stream import ListenKeys
from tradestack.venues.simulated.venue import SimVenue
from tradestack.venues.simulated.wire import ZERO, Json, Wire

FAST, SLOW = "fast", "slow"
_METHODS = "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final WebSocket text frame (RFC 6455 section 5.2), as a server sends it."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + payload


class Connection:
    __slots__ = ("combined", "incoming", "last_pong_ns", "outbox", "streams", "transport", "user_key", "ws")

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport,
        combined: bool,
        user_key: str | None,
        now_ns: int,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.combined = combined
        self.user_key = user_key  # opened as /ws/<listenKey>
        self.streams: set[str] = set()
        self.outbox: list[bytes] = []
        self.last_pong_ns = now_ns
        self.incoming: deque[int] = deque()

    @property
    def is_market(self) -> bool:
        return self.user_key is None


@dataclass(slots=True)
class _DepthWindow:
    first: int | None = None
    last: int = 0
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)

    def add(self, update: BookUpdate) -> None:
        if self.first is None:
            self.first = update.update_id
        self.last = update.update_id
        self.bids.update(update.bids)
        self.asks.update(update.asks)

    def reset(self) -> None:
        self.first = None
        self.bids = {}
        self.asks = {}


class StreamHub:
    """Every WebSocket connection, what each listens to, and the messages the venue produces."""

    def __init__(
        self, config: SimConfig, clock: Clock, venue: SimVenue, wire: Wire, listen_keys: ListenKeys
    ) -> None:
        self.config = config
        self.clock = clock
        self.venue = venue
        self.wire = wire
        self.listen_keys = listen_keys
        self.connections: set[Connection] = set()
        self._subscribers: dict[str, set[Connection]] = {}
        self._dirty: dict[Connection, None] = {}
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder().decode
        self._names = {
            symbol: {
                FAST: f"{symbol.lower()}@depth@100ms",
                SLOW: f"{symbol.lower()}@depth",
                "trade": f"{symbol.lower()}@trade",
                "bookTicker": f"{symbol.lower()}@bookTicker",
            }
            for symbol in venue.instruments
        }
        self._windows = {
            (symbol, speed): _DepthWindow() for symbol in venue.instruments for speed in (FAST, SLOW)
        }
        self._skip: set[tuple[str, str]] = set()
        self._top: dict[str, tuple[Level | None, Level | None]] = {}
        self.stalled = False
        self.stall_pings = False
        self.frames_sent = 0
        self.writes = 0
        self._closing: set[asyncio.Task[bool]] = set()

    def start(self) -> list[asyncio.Task[None]]:
        self._loop = asyncio.get_running_loop()
        return [
            asyncio.create_task(self._depth_loop(), name="sim-depth"),
            asyncio.create_task(self._ping_loop(), name="sim-ping"),
            asyncio.create_task(self._listen_key_loop(), name="sim-listen-keys"),
        ]

    async def close_all(self) -> None:
        for conn in list(self.connections):
            self._flush_one(conn)
            try:
                await asyncio.wait_for(conn.ws.close(code=1001, message=b"server stopping"), 1.0)
            except (TimeoutError, ConnectionError, RuntimeError):
                conn.transport.abort()

    # ---- fault injection -----------------------------------------------------------------------------

    def drop_market_connections(self) -> int:
        """Abruptly close every market-data socket (no close frame). Returns how many."""
        dropped = [conn for conn in self.connections if conn.is_market]
        for conn in dropped:
            conn.outbox.clear()
            conn.transport.abort()
        return len(dropped)

    def drop_user_connections(self) -> int:
        dropped = [conn for conn in self.connections if not conn.is_market]
        for conn in dropped:
            conn.outbox.clear()
            conn.transport.abort()
        return len(dropped)

    def stall(self, stalled: bool, stall_pings: bool = False) -> None:
        self.stalled = stalled
        self.stall_pings = stalled and stall_pings
        if not stalled:
            now = _socket_time_ns()
            for conn in self.connections:
                conn.last_pong_ns = max(conn.last_pong_ns, now)

    def skip_next_depth_update(self, symbol: str) -> None:
        self._skip.add((symbol, FAST))
        self._skip.add((symbol, SLOW))

    # ---- the venue's Publisher -----------------------------------------------------------------------

    def book_updated(self, symbol: str, update: BookUpdate, time_ms: int) -> None:
        self._windows[(symbol, FAST)].add(update)
        self._windows[(symbol, SLOW)].add(update)
        engine = self.venue.engines[symbol]
        top = (engine.best_bid(), engine.best_ask())
        if top != self._top.get(symbol):
            self._top[symbol] = top
            name = self._names[symbol]["bookTicker"]
            if name in self._subscribers:
                bid, ask = top
                wire = self.wire
                self._publish(
                    name,
                    {
                        "u": update.update_id,
                        "s": symbol,
                        "b": ZERO if bid is None else wire.price(symbol, bid[0]),
                        "B": ZERO if bid is None else wire.qty(symbol, bid[1]),
                        "a": ZERO if ask is None else wire.price(symbol, ask[0]),
                        "A": ZERO if ask is None else wire.qty(symbol, ask[1]),
                    },
                )

    def traded(self, symbol: str, trades: Sequence[Trade], time_ms: int) -> None:
        name = self._names[symbol]["trade"]
        if name not in self._subscribers:
            return
        wire = self.wire
        for trade in trades:
            self._publish(
                name,
                {
                    "e": "trade",
                    "E": time_ms,
                    "s": symbol,
                    "t": trade.trade_id,
                    "p": wire.price(symbol, trade.price),
                    "q": wire.qty(symbol, trade.size),
                    "T": time_ms,
                    "m": trade.buyer_is_maker,
                    "M": True,
                },
            )

    def user_events(self, events: Sequence[UserEvent]) -> None:
        keys = [key for key in self.listen_keys.active() if key in self._subscribers]
        if not keys:
            return
        now = self.clock.now_ns() // 1_000_000
        for event in events:
            if isinstance(event, Execution):
                body = self.wire.execution_report(event, now)
            else:
                assert isinstance(event, BalanceChange)
                body = self.wire.account_position(event, now)
            for key in keys:
                self._publish(key, body)

    # ---- connections ---------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /ws, /ws/<name>, /stream?streams=a/b: upgrade and serve one connection."""
        if request.path.startswith("/stream"):
            combined = True
            names = [name for name in request.query.get("streams", "").split("/") if name]
        else:
            combined = False
            tail = request.match_info.get("name", "")
            names = [name for name in tail.split("/") if name]
        user_key = None
        if not combined and len(names) == 1 and self.listen_keys.is_active(names[0]):
            user_key = names[0]
        ws = web.WebSocketResponse(autoping=False, compress=False, timeout=1.0)
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        conn = Connection(ws, transport, combined, user_key, _socket_time_ns())
        self.connections.add(conn)
        for name in names[: self.config.max_streams_per_connection]:
            self._subscribe(conn, name)
        try:
            async for message in ws:
                if not self._count_incoming(conn):
                    self._flush_one(conn)  # what was answered before the limit still goes out
                    transport.abort()  # Binance disconnects past 5 incoming messages per second
                    break
                if message.type is WSMsgType.TEXT:
                    self._request(conn, message.data)
                elif message.type is WSMsgType.PING:
                    if not (conn.is_market and self.stall_pings):
                        await ws.pong(message.data)
                elif message.type is WSMsgType.PONG:
                    conn.last_pong_ns = _socket_time_ns()
        except ConnectionError:
            pass
        finally:
            self._forget(conn)
        return ws

    def _count_incoming(self, conn: Connection) -> bool:
        limit = self.config.max_incoming_messages_per_second
        if not limit:
            return True
        now = _socket_time_ns()
        incoming = conn.incoming
        incoming.append(now)
        while incoming and now - incoming[0] >= 1_000_000_000:
            incoming.popleft()
        return len(incoming) <= limit

    def _forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        self._dirty.pop(conn, None)
        for name in conn.streams:
            subscribers = self._subscribers.get(name)
            if subscribers is not None:
                subscribers.discard(conn)
                if not subscribers:
                    del self._subscribers[name]
        conn.streams.clear()

    def _subscribe(self, conn: Connection, name: str) -> bool:
        if name in conn.streams:
            return True
        if len(conn.streams) >= self.config.max_streams_per_connection:
            return False
        conn.streams.add(name)
        self._subscribers.setdefault(name, set()).add(conn)
        return True

    def _unsubscribe(self, conn: Connection, name: str) -> None:
        if name in conn.streams:
            conn.streams.discard(name)
            subscribers = self._subscribers[name]
            subscribers.discard(conn)
            if not subscribers:
                del self._subscribers[name]

    def _request(self, conn: Connection, text: str) -> None:
        try:
            request = self._decode(text)
        except msgspec.DecodeError as error:
            self._reply(conn, {"code": 3, "msg": f"Invalid JSON: {error}"})
            return
        if not isinstance(request, dict):
            self._reply(conn, {"code": 3, "msg": "Invalid JSON: expected an object"})
            return
        request_id = request.get("id")
        if not _valid_id(request_id):
            self._reply(conn, {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"})
            return
        method = request.get("method")
        params = request.get("params", [])
        if method is None:
            self._reply(conn, {"code": 2, "msg": "Invalid request: missing field `method`", "id": request_id})
        elif method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                self._reply(conn, {"code": 2, "msg": "Invalid request: invalid params", "id": request_id})
                return
            for name in params:
                if method == "UNSUBSCRIBE":
                    self._unsubscribe(conn, name)
                elif not self._subscribe(conn, name):
                    self._reply(
                        conn, {"code": 2, "msg": "Invalid request: too many streams", "id": request_id}
                    )
                    return
            self._reply(conn, {"result": None, "id": request_id})
        elif method == "LIST_SUBSCRIPTIONS":
            self._reply(conn, {"result": sorted(conn.streams), "id": request_id})
        elif method in ("SET_PROPERTY", "GET_PROPERTY"):
            self._property(conn, method, params, request_id)
        else:
            self._reply(
                conn,
                {
                    "code": 2,
                    "msg": f"Invalid request: unknown variant `{method}`, expected one of {_METHODS}",
                    "id": request_id,
                },
            )

    def _property(self, conn: Connection, method: str, params: Any, request_id: Any) -> None:
        if not isinstance(params, list) or not params or not isinstance(params[0], str):
            self._reply(conn, {"code": 2, "msg": "Invalid request: property name must be a string"})
        elif params[0] != "combined":
            self._reply(conn, {"code": 0, "msg": "Unknown property", "id": request_id})
        elif method == "GET_PROPERTY":
            self._reply(conn, {"result": conn.combined, "id": request_id})
        elif len(params) != 2 or not isinstance(params[1], bool):
            self._reply(conn, {"code": 1, "msg": "Invalid value type: expected Boolean"})
        else:
            conn.combined = params[1]
            self._reply(conn, {"result": None, "id": request_id})

    def _reply(self, conn: Connection, body: Json) -> None:
        conn.outbox.append(text_frame(self._encode(body)))
        self._mark_dirty(conn)

    # ---- publishing and batched writes ---------------------------------------------------------------

    def _publish(self, name: str, body: Json) -> None:
        subscribers = self._subscribers.get(name)
        if not subscribers:
            return
        payload = self._encode(body)
        raw_frame: bytes | None = None
        combined_frame: bytes | None = None
        stalled = self.stalled
        for conn in subscribers:
            if stalled and conn.is_market:
                continue  # a stalled feed: the socket stays open, the data is lost
            if conn.combined:
                if combined_frame is None:
                    combined_frame = text_frame(
                        b'{"stream":"' + name.encode() + b'","data":' + payload + b"}"
                    )
                conn.outbox.append(combined_frame)
            else:
                if raw_frame is None:
                    raw_frame = text_frame(payload)
                conn.outbox.append(raw_frame)
            self._mark_dirty(conn)

    def _mark_dirty(self, conn: Connection) -> None:
        self._dirty[conn] = None
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, {}
        for conn in dirty:
            self._flush_one(conn)

    def _flush_one(self, conn: Connection) -> None:
        if not conn.outbox:
            return
        frames, conn.outbox = conn.outbox, []
        transport = conn.transport
        if transport.is_closing() or conn.ws.closed:
            return
        if transport.get_write_buffer_size() > self.config.max_write_buffer_bytes:
            transport.abort()  # too slow a consumer, as Binance would disconnect it
            return
        transport.write(b"".join(frames))
        self.frames_sent += len(frames)
        self.writes += 1

    # ---- timers --------------------------------------------------------------------------------------

    async def _depth_loop(self) -> None:
        fast = self.config.depth_fast_ms / 1000
        slow_every = max(1, self.config.depth_slow_ms // max(1, self.config.depth_fast_ms))
        tick = 0
        while True:
            await asyncio.sleep(fast)
            tick += 1
            self.flush_depth(FAST)
            if tick % slow_every == 0:
                self.flush_depth(SLOW)

    def flush_depth(self, speed: str) -> None:
        """Close the current diff window of every symbol and send it (or lose it, if told to skip)."""
        now = self.clock.now_ns() // 1_000_000
        for symbol, names in self._names.items():
            window = self._windows[(symbol, speed)]
            if window.first is None:
                continue
            if (symbol, speed) in self._skip:
                self._skip.discard((symbol, speed))
            elif names[speed] in self._subscribers:
                self._publish(
                    names[speed],
                    {
                        "e": "depthUpdate",
                        "E": now,
                        "s": symbol,
                        "U": window.first,
                        "u": window.last,
                        "b": self.wire.levels(symbol, sorted(window.bids.items(), reverse=True)),
                        "a": self.wire.levels(symbol, sorted(window.asks.items())),
                    },
                )
            window.reset()

    async def _ping_loop(self) -> None:
        interval = self.config.ping_interval_s
        timeout_ns = int(self.config.pong_timeout_s * 1e9)
        while True:
            await asyncio.sleep(interval)
            now = _socket_time_ns()
            for conn in list(self.connections):
                if conn.is_market and self.stall_pings:
                    continue
                if now - conn.last_pong_ns > timeout_ns:
                    conn.transport.abort()  # no pong within the timeout
                    continue
                try:
                    await conn.ws.ping(b"")
                except (ConnectionError, RuntimeError):
                    conn.transport.abort()

    async def _listen_key_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.expire_listen_keys()

    def expire_listen_keys(self) -> None:
        now = self.clock.now_ns() // 1_000_000
        for key in self.listen_keys.take_expired():
            self.end_listen_key(key, {"e": "listenKeyExpired", "E": now, "listenKey": key})

    def end_listen_key(self, key: str, last_event: Json | None = None) -> None:
        """The key is gone: tell its listeners (if given an event), then close /ws/<key> sockets."""
        if last_event is not None:
            self._publish(key, last_event)
        for conn in list(self._subscribers.get(key, ())):
            self._unsubscribe(conn, key)
            if conn.user_key == key:
                self._flush_one(conn)
                task = asyncio.get_running_loop().create_task(conn.ws.close())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)


def _socket_time_ns() -> int:
    """Socket bookkeeping (pings, pong timeouts, the incoming rate limit) runs on the event loop's own
    monotonic time: it is about real sockets, not the venue's (possibly manual) clock."""
    return int(asyncio.get_running_loop().time() * 1e9)


def _valid_id(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, str) and len(value) <= 36 and value.isalnum()
