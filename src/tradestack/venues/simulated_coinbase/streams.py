"""Coinbase Exchange ws-feed (wss://ws-feed.exchange.coinbase.com): public channels and `user`.

- Requests: `{"type": "subscribe"|"unsubscribe", "product_ids": [...], "channels": [name or
  {"name", "product_ids"}]}`, optionally signed (`key`, `passphrase`, `timestamp`, `signature`).
  Answered by `{"type": "subscriptions", "channels": [{"name", "product_ids"}]}` (everything the
  connection is subscribed to), or `{"type": "error", "message", "reason"}`. `user` and `level2`
  need a signed subscribe; `level2_batch`, `matches`, `ticker`, `heartbeat` do not. A connection
  that has not subscribed within `subscribe_timeout_s` (Coinbase: 5 s) is closed.
- `level2`/`level2_batch`: a `snapshot` on subscribe, then `l2update`s (`changes` [side, price,
  absolute size]); level2 at once per event, level2_batch every `batch_interval_ms`.
- `matches`: `last_match` on subscribe, then a `match` per trade (`side` is the maker's).
- `heartbeat`: every `heartbeat_interval_ms` per product, its `sequence` and `last_trade_id`.
- `user`: the profile's orders as `received`, `open`, `match`, `done` with user and profile ids.
Every message of a product takes the next number of its `sequence`.

Frames are queued per connection and written once per loop turn (one syscall per connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import msgspec
from aiohttp import WSMsgType, web

from tradestack.domain.events import Level
from tradestack.domain.matching import BookUpdate, OrderStatus, Trade
from tradestack.ports import Clock
from tradestack.venues.simulated.accounts import AccountTrade, Execution, OrderView, UserEvent
from tradestack.venues.simulated.streams import text_frame
from tradestack.venues.simulated.venue import SimVenue
from tradestack.venues.simulated_coinbase.auth import CoinbaseKeys
from tradestack.venues.simulated_coinbase.errors import CoinbaseError
from tradestack.venues.simulated_coinbase.wire import CoinbaseWire, Json, iso_ms, side_word

PUBLIC_CHANNELS = frozenset({"level2_batch", "matches", "ticker", "heartbeat"})
AUTHENTICATED_CHANNELS = frozenset({"level2", "user"})
BOOK_CHANNELS = ("level2", "level2_batch")


class Connection:
    __slots__ = ("opened_ns", "outbox", "subs", "transport", "ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport, now: int):
        self.ws = ws
        self.transport = transport
        self.subs: set[tuple[str, str]] = set()  # (channel, product id)
        self.outbox: list[bytes] = []
        self.opened_ns = now


@dataclass(slots=True)
class _Pending:
    """level2_batch changes since the last batch of one product (final absolute sizes)."""

    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)


class CoinbaseStreamHub:
    def __init__(
        self,
        clock: Clock,
        venue: SimVenue,
        wire: CoinbaseWire,
        keys: CoinbaseKeys,
        fills_of: Callable[[str, int], list[AccountTrade]],
        assign_id: Callable[[OrderView], str],
        *,
        batch_interval_ms: int = 50,
        heartbeat_interval_ms: int = 1000,
        subscribe_timeout_s: float = 5.0,
    ) -> None:
        self.clock = clock
        self.venue = venue
        self.wire = wire
        self.keys = keys
        self._fills_of = fills_of
        self._assign_id = assign_id
        self.batch_interval_ms = batch_interval_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.subscribe_timeout_s = subscribe_timeout_s
        self.connections: set[Connection] = set()
        self.sequence = dict.fromkeys(venue.instruments, 100)
        self.last_trade: dict[str, tuple[Trade, int]] = {}  # product -> (trade, time_ms)
        self.heartbeats_paused = False
        self.heartbeats_sent = 0
        self._pending = {symbol: _Pending() for symbol in venue.instruments}
        self._losing: set[str] = set()
        self._trades: dict[tuple[str, int], Trade] = {}
        self._dirty: dict[Connection, None] = {}
        self._flush_scheduled = False
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder().decode
        self.frames_sent = 0
        self.auth_failures = 0

    def start(self) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(self._subscribe_deadline_loop(), name="coinbase-sim-deadline")]
        if self.batch_interval_ms > 0:
            tasks.append(asyncio.create_task(self._batch_loop(), name="coinbase-sim-batch"))
        if self.heartbeat_interval_ms > 0:
            tasks.append(asyncio.create_task(self._heartbeat_loop(), name="coinbase-sim-heartbeat"))
        return tasks

    async def close_all(self) -> None:
        for conn in list(self.connections):
            self._flush_one(conn)
            try:
                await asyncio.wait_for(conn.ws.close(code=1001, message=b"server stopping"), 1.0)
            except (TimeoutError, ConnectionError, RuntimeError):
                conn.transport.abort()

    # ---- fault injection ---------------------------------------------------------------------------

    def lose_next_trade(self, symbol: str) -> None:
        """Every public message of `symbol` (book changes, matches) is lost until one trade's `match`
        has been lost, as a connection that drops messages would: clients see a trade-id gap."""
        self._losing.add(symbol)

    def drop_connections(self) -> int:
        dropped = list(self.connections)
        for conn in dropped:
            conn.outbox.clear()
            conn.transport.abort()
        return len(dropped)

    # ---- the venue's Publisher ---------------------------------------------------------------------

    def book_updated(self, symbol: str, update: BookUpdate, time_ms: int) -> None:
        if symbol in self._losing:
            return
        pending = self._pending[symbol]
        pending.bids.update(update.bids)
        pending.asks.update(update.asks)
        subscribers = self._subscribers("level2", symbol)
        if subscribers:
            self._push(subscribers, self._l2update(symbol, update.bids, update.asks, time_ms))

    def traded(self, symbol: str, trades: Sequence[Trade], time_ms: int) -> None:
        losing = symbol in self._losing
        self._losing.discard(symbol)
        subscribers = [] if losing else self._subscribers("matches", symbol)
        for trade in trades:
            self._trades[(symbol, trade.trade_id)] = trade
            message = self._match(symbol, trade, time_ms, "match")
            self.last_trade[symbol] = (trade, time_ms)
            if subscribers:
                self._push(subscribers, message)
        if not losing:
            self._ticker(symbol, time_ms)

    def user_events(self, events: Sequence[UserEvent]) -> None:
        new_orders: list[OrderView] = []
        messages: list[tuple[str, Json]] = []
        for event in events:
            if not isinstance(event, Execution):
                continue  # balance changes: Coinbase has no balance channel on the ws-feed
            view = event.order
            if event.execution_type == "NEW":
                self._assign_id(view)
                new_orders.append(view)
                messages.append((view.symbol, self._received(view, event.time_ms)))
            elif event.execution_type == "TRADE" and event.trade is not None:
                messages.append((view.symbol, self._user_match(view, event.trade)))
                if view.status is OrderStatus.FILLED:
                    messages.append((view.symbol, self._done(view, "filled", event.time_ms)))
            elif event.execution_type in ("CANCELED", "EXPIRED"):
                messages.append((view.symbol, self._done(view, "canceled", event.time_ms)))
        for view in new_orders:
            now = self.venue.find(view.symbol, view.order_id, None)
            if now is not None and now.is_open and now.is_working:
                messages.append((view.symbol, self._open(now)))
        for symbol, message in messages:
            listeners = self._subscribers("user", symbol)
            if listeners:
                self._push(listeners, message)
        self._trades.clear()

    # ---- messages ----------------------------------------------------------------------------------

    def _next_sequence(self, symbol: str) -> int:
        self.sequence[symbol] += 1
        return self.sequence[symbol]

    def _l2update(self, symbol: str, bids: Iterable[Level], asks: Iterable[Level], time_ms: int) -> Json:
        wire = self.wire
        changes = [["buy", wire.price(symbol, p), wire.size(symbol, s)] for p, s in bids]
        changes += [["sell", wire.price(symbol, p), wire.size(symbol, s)] for p, s in asks]
        return {"type": "l2update", "product_id": symbol, "changes": changes, "time": iso_ms(time_ms)}

    def _match(self, symbol: str, trade: Trade, time_ms: int, kind: str) -> Json:
        wire = self.wire
        return {
            "type": kind,
            "trade_id": trade.trade_id,
            "maker_order_id": wire.order_id(symbol, trade.maker_order_id),
            "taker_order_id": wire.order_id(symbol, trade.taker_order_id),
            "side": side_word(trade.taker_side.opposite),
            "size": wire.size(symbol, trade.size),
            "price": wire.price(symbol, trade.price),
            "product_id": symbol,
            "sequence": self._next_sequence(symbol),
            "time": iso_ms(time_ms),
        }

    def _ours(self, view: OrderView) -> Json:
        return {"user_id": self.wire.user_id, "profile_id": self.wire.profile_id}

    def _received(self, view: OrderView, time_ms: int) -> Json:
        wire, symbol = self.wire, view.symbol
        body: Json = {
            "type": "received",
            "time": iso_ms(time_ms),
            "product_id": symbol,
            "sequence": self._next_sequence(symbol),
            "order_id": wire.order_id(symbol, view.order_id),
            "size": wire.size(symbol, view.quantity),
            "price": wire.price(symbol, view.price),
            "side": side_word(view.side),
            "order_type": "limit",
        }
        client_oid = wire.client_oid(view.client_order_id)
        if client_oid:
            body["client_oid"] = client_oid
        return {**body, **self._ours(view)}

    def _open(self, view: OrderView) -> Json:
        wire, symbol = self.wire, view.symbol
        body = {
            "type": "open",
            "time": iso_ms(view.update_time_ms),
            "product_id": symbol,
            "sequence": self._next_sequence(symbol),
            "order_id": wire.order_id(symbol, view.order_id),
            "price": wire.price(symbol, view.price),
            "remaining_size": wire.size(symbol, view.quantity - view.executed),
            "side": side_word(view.side),
        }
        return {**body, **self._ours(view)}

    def _done(self, view: OrderView, reason: str, time_ms: int) -> Json:
        wire, symbol = self.wire, view.symbol
        body = {
            "type": "done",
            "time": iso_ms(time_ms),
            "product_id": symbol,
            "sequence": self._next_sequence(symbol),
            "price": wire.price(symbol, view.price),
            "order_id": wire.order_id(symbol, view.order_id),
            "reason": reason,
            "side": side_word(view.side),
            "remaining_size": wire.size(symbol, view.quantity - view.executed),
        }
        return {**body, **self._ours(view)}

    def _user_match(self, view: OrderView, fill: AccountTrade) -> Json:
        symbol = view.symbol
        trade = self._trades.get((symbol, fill.trade_id))
        wire = self.wire
        ours = wire.order_id(symbol, view.order_id)
        if trade is not None:
            maker = wire.order_id(symbol, trade.maker_order_id)
            taker = wire.order_id(symbol, trade.taker_order_id)
            maker_side = trade.taker_side.opposite
        else:  # not expected: the core publishes trades before user events
            maker, taker = (ours, "") if fill.is_maker else ("", ours)
            maker_side = view.side if fill.is_maker else view.side.opposite
        role = "maker" if fill.is_maker else "taker"
        rate = self.venue.config.maker_commission if fill.is_maker else self.venue.config.taker_commission
        body = {
            "type": "match",
            "trade_id": fill.trade_id,
            "maker_order_id": maker,
            "taker_order_id": taker,
            "side": side_word(maker_side),
            "size": wire.size(symbol, fill.quantity),
            "price": wire.price(symbol, fill.price),
            "product_id": symbol,
            "sequence": self._next_sequence(symbol),
            "time": iso_ms(fill.time_ms),
            f"{role}_user_id": wire.user_id,
            f"{role}_profile_id": wire.profile_id,
            f"{role}_fee_rate": rate,
        }
        return {**body, **self._ours(view)}

    def _ticker(self, symbol: str, time_ms: int) -> None:
        subscribers = self._subscribers("ticker", symbol)
        last = self.last_trade.get(symbol)
        if not subscribers or last is None:
            return
        self._push(subscribers, self._ticker_message(symbol, last[0], time_ms))

    def _ticker_message(self, symbol: str, trade: Trade, time_ms: int) -> Json:
        engine, wire = self.venue.engines[symbol], self.wire
        bid, ask = engine.best_bid(), engine.best_ask()
        return {
            "type": "ticker",
            "sequence": self._next_sequence(symbol),
            "product_id": symbol,
            "price": wire.price(symbol, trade.price),
            "side": side_word(trade.taker_side),
            "time": iso_ms(time_ms),
            "trade_id": trade.trade_id,
            "last_size": wire.size(symbol, trade.size),
            "best_bid": wire.price(symbol, bid[0]) if bid else None,
            "best_bid_size": wire.size(symbol, bid[1]) if bid else None,
            "best_ask": wire.price(symbol, ask[0]) if ask else None,
            "best_ask_size": wire.size(symbol, ask[1]) if ask else None,
        }

    def _snapshot(self, conn: Connection, symbol: str) -> None:
        engine, wire = self.venue.engines[symbol], self.wire
        message = {
            "type": "snapshot",
            "product_id": symbol,
            "bids": wire.levels(symbol, engine.bids()),
            "asks": wire.levels(symbol, engine.asks()),
            "time": iso_ms(self.clock.now_ns() // 1_000_000),
        }
        self._send(conn, self._encode(message))

    # ---- batches and heartbeats --------------------------------------------------------------------

    def flush_books(self) -> None:
        """Send the pending level2_batch changes of every product now (the timer does it every 50 ms)."""
        time_ms = self.clock.now_ns() // 1_000_000
        for symbol, pending in self._pending.items():
            if not pending.bids and not pending.asks:
                continue
            self._pending[symbol] = _Pending()
            subscribers = self._subscribers("level2_batch", symbol)
            if subscribers:
                bids = sorted(pending.bids.items(), reverse=True)
                asks = sorted(pending.asks.items())
                self._push(subscribers, self._l2update(symbol, bids, asks, time_ms))

    def send_heartbeats(self) -> None:
        """One heartbeat per product to every connection subscribed to it (the timer's job)."""
        if self.heartbeats_paused:
            return
        time = iso_ms(self.clock.now_ns() // 1_000_000)
        for symbol in self.venue.instruments:
            subscribers = self._subscribers("heartbeat", symbol)
            if not subscribers:
                continue
            last = self.last_trade.get(symbol)
            message = {
                "type": "heartbeat",
                "last_trade_id": last[0].trade_id if last else 0,
                "product_id": symbol,
                "sequence": self._next_sequence(symbol),
                "time": time,
            }
            self.heartbeats_sent += len(subscribers)
            self._push(subscribers, message)

    async def _batch_loop(self) -> None:
        while True:
            await asyncio.sleep(self.batch_interval_ms / 1000)
            self.flush_books()

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval_ms / 1000)
            self.send_heartbeats()

    async def _subscribe_deadline_loop(self) -> None:
        limit_ns = int(self.subscribe_timeout_s * 1_000_000_000)
        while True:
            await asyncio.sleep(min(1.0, self.subscribe_timeout_s / 4))
            now = self.clock.monotonic_ns()
            for conn in list(self.connections):
                if not conn.subs and now - conn.opened_ns > limit_ns:
                    conn.outbox.clear()
                    conn.transport.abort()  # Coinbase closes a connection that never subscribed

    # ---- connections ---------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, compress=False, timeout=1.0)
        await ws.prepare(request)
        transport = request.transport
        assert transport is not None
        conn = Connection(ws, transport, self.clock.monotonic_ns())
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
            self._error(conn, "Malformed JSON", "")
            return
        kind = request.get("type") if isinstance(request, dict) else None
        if kind not in ("subscribe", "unsubscribe"):
            self._error(conn, "Failed to subscribe", f"Type {str(kind)[:40]!r} is not supported")
            return
        assert isinstance(request, dict)
        wanted = self._wanted(conn, request)
        if wanted is None:
            return
        if kind == "unsubscribe":
            conn.subs.difference_update(wanted)
            self._subscriptions(conn)
            return
        needs_auth = any(channel in AUTHENTICATED_CHANNELS for channel, _ in wanted)
        if needs_auth or "signature" in request:
            try:
                self._authenticate(request)
            except CoinbaseError as error:
                self.auth_failures += 1
                self._error(conn, "Authentication Failed", error.message)
                return
        added = [key for key in wanted if key not in conn.subs]
        conn.subs.update(wanted)
        self._subscriptions(conn)
        for channel, symbol in added:
            if channel in BOOK_CHANNELS:
                self._snapshot(conn, symbol)
            elif channel == "matches" and symbol in self.last_trade:
                trade, time_ms = self.last_trade[symbol]
                self._send(conn, self._encode(self._match(symbol, trade, time_ms, "last_match")))

    def _wanted(self, conn: Connection, request: dict[str, object]) -> set[tuple[str, str]] | None:
        top = request.get("product_ids") or []
        channels = request.get("channels")
        if not isinstance(top, list) or not isinstance(channels, list) or not channels:
            self._error(conn, "Failed to subscribe", "channels and product_ids must be lists")
            return None
        wanted: set[tuple[str, str]] = set()
        for entry in channels:
            if isinstance(entry, str):
                name, products = entry, top
            elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
                name, products = entry["name"], entry.get("product_ids") or top
            else:
                self._error(conn, "Failed to subscribe", f"invalid channel {str(entry)[:60]}")
                return None
            if name not in PUBLIC_CHANNELS and name not in AUTHENTICATED_CHANNELS:
                self._error(conn, "Failed to subscribe", f"{str(name)[:40]} is not a valid channel")
                return None
            if not isinstance(products, list) or not products:
                self._error(conn, "Failed to subscribe", f"{name}: no product_ids")
                return None
            for product in products:
                if product not in self.venue.instruments:
                    self._error(conn, "Failed to subscribe", f"{str(product)[:40]} is not a valid product")
                    return None
                wanted.add((name, product))
        return wanted

    def _authenticate(self, request: dict[str, object]) -> None:
        fields = [request.get(name) for name in ("key", "signature", "timestamp", "passphrase")]
        if not all(isinstance(value, str) and value for value in fields):
            raise CoinbaseError(401, "authentication is required for the user and level2 channels")
        key, signature, timestamp, passphrase = (str(value) for value in fields)
        self.keys.check(key, signature, timestamp, passphrase, "GET/users/self/verify", self.clock.now_ns())

    def _subscriptions(self, conn: Connection) -> None:
        by_channel: dict[str, list[str]] = {}
        for channel, product in sorted(conn.subs):
            by_channel.setdefault(channel, []).append(product)
        channels = [{"name": name, "product_ids": products} for name, products in by_channel.items()]
        self._send(conn, self._encode({"type": "subscriptions", "channels": channels}))

    def _error(self, conn: Connection, message: str, reason: str) -> None:
        self._send(conn, self._encode({"type": "error", "message": message, "reason": reason}))

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
