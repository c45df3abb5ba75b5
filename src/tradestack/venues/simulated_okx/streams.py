"""OKX v5 WebSockets: /ws/v5/public (books, trades, tickers) and /ws/v5/private (login, orders).

- Requests: `{"op": "subscribe"|"unsubscribe", "args": [{"channel", "instId"}], "id"?}`, answered
  `{"event": "subscribe", "arg": {...}, "connId"}`; errors `{"event": "error", "code", "msg", "connId"}`
  (60012 invalid request, 60018 no such channel or instrument, 60011 private channel before login).
  The text `ping` is answered with the text `pong`.
- `books`: on subscribe a snapshot (`action` "snapshot", `prevSeqId` -1, up to 400 levels a side),
  then every `books_interval_ms` an `update` with the levels that changed (absolute sizes, "0"
  removes), `prevSeqId` = the previous message's `seqId`, and the CRC32 `checksum` of the top 25
  levels of the book after it. `trades` in real time; `tickers` when the top of the book moved.
- `login`: `{"op": "login", "args": [{"apiKey", "passphrase", "timestamp", "sign"}]}` ->
  `{"event": "login", "code": "0", "msg": "", "connId"}`; then `orders` pushes every order update.
- OKX closes a connection on which nothing was sent or received for 30 s (`idle_timeout_s`).

Frames are queued per connection and written once per loop turn (one syscall per connection).
"""

from __future__ import annotations

import asyncio
import secrets
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec
from aiohttp import WSMsgType, web

from tradestack.domain.events import Level, Side
from tradestack.domain.matching import BookUpdate, Trade
from tradestack.ports import Clock
from tradestack.venues.simulated.accounts import AccountTrade, Execution, UserEvent
from tradestack.venues.simulated.streams import text_frame
from tradestack.venues.simulated.venue import SimVenue
from tradestack.venues.simulated_okx.auth import OkxKeys
from tradestack.venues.simulated_okx.wire import Json, OkxWire

PUBLIC_CHANNELS = frozenset({"books", "trades", "tickers"})
CHECKSUM_DEPTH = 25
SNAPSHOT_DEPTH = 400


def checksum(bids: Sequence[list[str]], asks: Sequence[list[str]]) -> int:
    """OKX's signed CRC32 over the top 25 levels, bid and ask interleaved, as sent."""
    parts: list[str] = []
    for index in range(CHECKSUM_DEPTH):
        if index < len(bids):
            parts += bids[index][:2]
        if index < len(asks):
            parts += asks[index][:2]
    value = zlib.crc32(":".join(parts).encode())
    return value - 0x1_0000_0000 if value >= 0x8000_0000 else value


class Connection:
    __slots__ = ("conn_id", "last_activity_ns", "logged_in", "outbox", "private", "subs", "transport", "ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport, private: bool, now: int):
        self.ws = ws
        self.transport = transport
        self.private = private
        self.conn_id = secrets.token_hex(4)
        self.subs: set[tuple[str, str]] = set()  # (channel, instId or "")
        self.outbox: list[bytes] = []
        self.logged_in = False
        self.last_activity_ns = now


@dataclass(slots=True)
class _Pending:
    """Levels changed since the last `books` push of one instrument (final absolute sizes)."""

    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)


class OkxStreamHub:
    def __init__(
        self,
        clock: Clock,
        venue: SimVenue,
        wire: OkxWire,
        keys: OkxKeys,
        fills_of: Callable[[str, int], list[AccountTrade]],
        *,
        books_interval_ms: int = 100,
        idle_timeout_s: float = 30.0,
    ) -> None:
        self.clock = clock
        self.venue = venue
        self.wire = wire
        self.keys = keys
        self._fills_of = fills_of
        self.books_interval_ms = books_interval_ms
        self.idle_timeout_s = idle_timeout_s
        self.connections: set[Connection] = set()
        self.seq_id = {symbol: 1000 for symbol in venue.instruments}
        self._pending = {symbol: _Pending() for symbol in venue.instruments}
        self._top: dict[str, tuple[Level | None, Level | None]] = {}
        self._skip: set[str] = set()
        self._corrupt: set[str] = set()
        self._dirty: dict[Connection, None] = {}
        self._flush_scheduled = False
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder().decode
        self.pings = 0
        self.frames_sent = 0

    def start(self) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(self._idle_loop(), name="okx-sim-idle")]
        if self.books_interval_ms > 0:
            tasks.append(asyncio.create_task(self._books_loop(), name="okx-sim-books"))
        return tasks

    async def close_all(self) -> None:
        for conn in list(self.connections):
            self._flush_one(conn)
            try:
                await asyncio.wait_for(conn.ws.close(code=1001, message=b"server stopping"), 1.0)
            except (TimeoutError, ConnectionError, RuntimeError):
                conn.transport.abort()

    # ---- fault injection ---------------------------------------------------------------------------

    def skip_next_books_update(self, symbol: str) -> None:
        """The next `books` update of `symbol` is lost (its seqId is used): clients see a gap."""
        self._skip.add(symbol)

    def corrupt_next_checksum(self, symbol: str) -> None:
        """The next `books` update of `symbol` carries a wrong checksum."""
        self._corrupt.add(symbol)

    def drop_connections(self, private: bool | None = None) -> int:
        dropped = [c for c in self.connections if private is None or c.private is private]
        for conn in dropped:
            conn.outbox.clear()
            conn.transport.abort()
        return len(dropped)

    # ---- the venue's Publisher ---------------------------------------------------------------------

    def book_updated(self, symbol: str, update: BookUpdate, time_ms: int) -> None:
        pending = self._pending[symbol]
        pending.bids.update(update.bids)
        pending.asks.update(update.asks)

    def traded(self, symbol: str, trades: Sequence[Trade], time_ms: int) -> None:
        subscribers = self._subscribers("trades", symbol)
        if not subscribers:
            return
        wire = self.wire
        data = [
            {
                "instId": symbol,
                "tradeId": str(trade.trade_id),
                "px": wire.price(symbol, trade.price),
                "sz": wire.size(symbol, trade.size),
                "side": "buy" if trade.taker_side is Side.BUY else "sell",
                "ts": str(time_ms),
                "count": "1",
            }
            for trade in trades
        ]
        self._push(subscribers, {"arg": {"channel": "trades", "instId": symbol}, "data": data})

    def user_events(self, events: Sequence[UserEvent]) -> None:
        listeners = [c for c in self.connections if c.private and c.logged_in and c.subs]
        if not listeners:
            return
        for event in events:
            if not isinstance(event, Execution):
                continue  # balance changes: the `account` channel is not simulated
            view = event.order
            fills = self._fills_of(view.symbol, view.order_id)
            body = self.wire.order_push(view, fills, event.trade)
            for conn in listeners:
                if any(channel == "orders" and inst in ("", view.symbol) for channel, inst in conn.subs):
                    message = {
                        "arg": {"channel": "orders", "instType": "SPOT", "uid": self.keys.uid},
                        "data": [body],
                    }
                    self._send(conn, self._encode(message))

    # ---- books ---------------------------------------------------------------------------------------

    def flush_books(self) -> None:
        """Push the pending `books` update of every instrument now (the timer does it every 100 ms)."""
        now = str(self.clock.now_ns() // 1_000_000)
        for symbol, pending in self._pending.items():
            if not pending.bids and not pending.asks:
                continue
            self._pending[symbol] = _Pending()
            previous = self.seq_id[symbol]
            self.seq_id[symbol] = seq = previous + 1
            engine = self.venue.engines[symbol]
            wire = self.wire
            top_bids = wire.levels(symbol, engine.bids(CHECKSUM_DEPTH))
            top_asks = wire.levels(symbol, engine.asks(CHECKSUM_DEPTH))
            value = checksum(top_bids, top_asks)
            if symbol in self._corrupt:
                self._corrupt.discard(symbol)
                value = value + 1 if value < 0x7FFF_FFFF else value - 1
            self._ticker(symbol, now)
            if symbol in self._skip:
                self._skip.discard(symbol)
                continue
            subscribers = self._subscribers("books", symbol)
            if not subscribers:
                continue
            bids = wire.levels(symbol, sorted(pending.bids.items(), reverse=True))
            asks = wire.levels(symbol, sorted(pending.asks.items()))
            message = {
                "arg": {"channel": "books", "instId": symbol},
                "action": "update",
                "data": [
                    {
                        "asks": asks,
                        "bids": bids,
                        "ts": now,
                        "checksum": value,
                        "prevSeqId": previous,
                        "seqId": seq,
                    }
                ],
            }
            self._push(subscribers, message)

    def _snapshot(self, conn: Connection, symbol: str) -> None:
        engine = self.venue.engines[symbol]
        bids = self.wire.levels(symbol, engine.bids(SNAPSHOT_DEPTH))
        asks = self.wire.levels(symbol, engine.asks(SNAPSHOT_DEPTH))
        message = {
            "arg": {"channel": "books", "instId": symbol},
            "action": "snapshot",
            "data": [
                {
                    "asks": asks,
                    "bids": bids,
                    "ts": str(self.clock.now_ns() // 1_000_000),
                    "checksum": checksum(bids[:CHECKSUM_DEPTH], asks[:CHECKSUM_DEPTH]),
                    "prevSeqId": -1,
                    "seqId": self.seq_id[symbol],
                }
            ],
        }
        self._send(conn, self._encode(message))

    def _ticker(self, symbol: str, now: str) -> None:
        engine = self.venue.engines[symbol]
        top = (engine.best_bid(), engine.best_ask())
        if top == self._top.get(symbol):
            return
        self._top[symbol] = top
        subscribers = self._subscribers("tickers", symbol)
        if not subscribers:
            return
        bid, ask = top
        wire = self.wire
        data = {
            "instType": "SPOT",
            "instId": symbol,
            "last": "",
            "lastSz": "",
            "askPx": wire.price(symbol, ask[0]) if ask else "",
            "askSz": wire.size(symbol, ask[1]) if ask else "",
            "bidPx": wire.price(symbol, bid[0]) if bid else "",
            "bidSz": wire.size(symbol, bid[1]) if bid else "",
            "ts": now,
        }
        self._push(subscribers, {"arg": {"channel": "tickers", "instId": symbol}, "data": [data]})

    async def _books_loop(self) -> None:
        interval = self.books_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            self.flush_books()

    async def _idle_loop(self) -> None:
        limit_ns = int(self.idle_timeout_s * 1_000_000_000)
        while True:
            await asyncio.sleep(min(1.0, self.idle_timeout_s / 4))
            now = self.clock.monotonic_ns()
            for conn in list(self.connections):
                if now - conn.last_activity_ns > limit_ns:
                    conn.outbox.clear()
                    conn.transport.abort()  # OKX drops a connection silent for 30 s

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
        conn = Connection(ws, transport, private, self.clock.monotonic_ns())
        self.connections.add(conn)
        try:
            async for message in ws:
                conn.last_activity_ns = self.clock.monotonic_ns()
                if message.type is WSMsgType.TEXT:
                    self._request(conn, message.data)
        except ConnectionError:
            pass
        finally:
            self.connections.discard(conn)
            self._dirty.pop(conn, None)
        return ws

    def _request(self, conn: Connection, text: str) -> None:
        if text == "ping":
            self.pings += 1
            self._send(conn, b"pong")
            return
        try:
            request = self._decode(text)
        except msgspec.DecodeError:
            request = None
        if not isinstance(request, dict) or request.get("op") not in ("subscribe", "unsubscribe", "login"):
            self._error(conn, "60012", f"Invalid request: {text[:200]}", None)
            return
        op = request["op"]
        request_id = request.get("id")
        args = request.get("args")
        if not isinstance(args, list) or not args or not all(isinstance(a, dict) for a in args):
            self._error(conn, "60012", f"Invalid request: {text[:200]}", request_id)
            return
        if op == "login":
            self._login(conn, args[0], request_id)
            return
        for arg in args:
            self._subscription(conn, op, arg, request_id)

    def _login(self, conn: Connection, arg: dict[str, object], request_id: object) -> None:
        if not conn.private:
            self._error(conn, "60012", "Invalid request: login on the public channel", request_id)
            return
        fields = [arg.get(name) for name in ("apiKey", "passphrase", "timestamp", "sign")]
        if not all(isinstance(value, str) and value for value in fields):
            self._error(conn, "60009", "Login failed.", request_id)
            return
        api_key, passphrase, timestamp, signature = (str(value) for value in fields)
        now_ms = self.clock.now_ns() // 1_000_000
        key, code, msg = self.keys.check_login(api_key, passphrase, timestamp, signature, now_ms)
        if key is None:
            self._error(conn, code, msg, request_id)
            return
        conn.logged_in = True
        self._reply(conn, {"event": "login", "code": "0", "msg": "", "connId": conn.conn_id}, request_id)

    def _subscription(self, conn: Connection, op: str, arg: dict[str, object], request_id: object) -> None:
        channel = arg.get("channel")
        inst = arg.get("instId") or ""
        if not isinstance(channel, str) or not isinstance(inst, str):
            self._error(conn, "60012", f"Invalid request: {arg}", request_id)
            return
        if conn.private:
            if channel != "orders":
                self._no_channel(conn, channel, inst, request_id)
                return
            if not conn.logged_in:
                self._error(conn, "60011", "Please log in", request_id)
                return
            if inst and inst not in self.venue.instruments:
                self._no_channel(conn, channel, inst, request_id)
                return
        elif channel not in PUBLIC_CHANNELS or inst not in self.venue.instruments:
            self._no_channel(conn, channel, inst, request_id)
            return
        ack_arg = {"channel": channel, "instId": inst} if inst else {"channel": channel}
        if channel == "orders":
            ack_arg["instType"] = str(arg.get("instType") or "ANY")
        key = (channel, inst)
        if op == "unsubscribe":
            conn.subs.discard(key)
            self._reply(conn, {"event": "unsubscribe", "arg": ack_arg, "connId": conn.conn_id}, request_id)
            return
        conn.subs.add(key)
        self._reply(conn, {"event": "subscribe", "arg": ack_arg, "connId": conn.conn_id}, request_id)
        if channel == "books":
            self._snapshot(conn, inst)

    def _no_channel(self, conn: Connection, channel: str, inst: str, request_id: object) -> None:
        self._error(
            conn,
            "60018",
            f"Wrong URL or channel:{channel},instId:{inst} doesn't exist. Please use the correct URL, "
            "channel and parameters referring to API document.",
            request_id,
        )

    def _error(self, conn: Connection, code: str, msg: str, request_id: object) -> None:
        self._reply(conn, {"event": "error", "code": code, "msg": msg, "connId": conn.conn_id}, request_id)

    def _reply(self, conn: Connection, body: Json, request_id: object) -> None:
        if isinstance(request_id, str) and request_id:
            body = {"id": request_id, **body}
        self._send(conn, self._encode(body))

    # ---- writing -------------------------------------------------------------------------------------

    def _subscribers(self, channel: str, symbol: str) -> list[Connection]:
        key = (channel, symbol)
        return [conn for conn in self.connections if key in conn.subs]

    def _push(self, connections: Sequence[Connection], message: Json) -> None:
        payload = self._encode(message)
        for conn in connections:
            self._send(conn, payload)

    def _send(self, conn: Connection, payload: bytes) -> None:
        conn.outbox.append(text_frame(payload))
        conn.last_activity_ns = self.clock.monotonic_ns()
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
