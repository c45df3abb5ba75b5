"""A resilient venue WebSocket session on picows: heartbeat, per-stream staleness, backoff, resubscribe.

Written once for every venue; a small `StreamDialect` supplies what differs (the URL, the subscribe
frames, which stream a payload belongs to). The session never parses market data: each TEXT/BINARY
frame goes to `on_frame(payload, ts_recv_ns)` synchronously from the picows listener.

Failure handling, by `DisconnectReason`:
- heartbeat: picows pings when nothing was received for `ping_idle_s` and drops the connection when
  no pong comes within `pong_timeout_s` ("pong_timeout"); server pings are answered by picows.
- staleness: every stream with a bound has a last-data time from the injected clock; a stream silent
  for longer than its bound (a venue that keeps the socket and pongs alive but stopped publishing)
  closes the connection ("stale").
- "server_close" (the venue sent a close frame), "closed" (the TCP connection ended without one),
  "error" (could not connect, handshake failed, protocol error, or a callback raised).
After each, the session waits a `Backoff` delay and reconnects; the new connection gets the stored
subscriptions again and `on_reconnected(Reconnected)` fires before its first frame, so each book
knows to resync.

Timestamps: `ts_recv_ns` is `clock.monotonic_ns()` read once per frame when picows hands the frame
over (after its parse, before ours); it is the start point of tick-to-order latency. It is
monotonic time, not wall time.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import structlog
from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    ws_connect,
)

from tradestack.ports import Clock
from tradestack.venues._shared.backoff import Backoff

log = structlog.get_logger(__name__)

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE
_PONG = WSMsgType.PONG
_NS = 1_000_000_000


class SessionState(StrEnum):
    STARTING = "starting"  # first connection not yet open
    RUNNING = "running"  # connected and subscribed
    DEGRADED = "degraded"  # connection lost, reconnecting: no data flows
    STOPPED = "stopped"


class DisconnectReason(StrEnum):
    CLOSED = "closed"
    ERROR = "error"
    STALE = "stale"
    PONG_TIMEOUT = "pong_timeout"
    SERVER_CLOSE = "server_close"
    STOPPED = "stopped"  # stop() was called; never followed by a reconnect


class StreamDialect(Protocol):
    """What a venue supplies to the session. Called on every (re)connect, except `stream_of`."""

    def url(self, streams: Sequence[str]) -> str:
        """The URL to connect to (combined-stream venues carry the streams here)."""
        ...

    def subscribe_messages(self, streams: Sequence[str]) -> Sequence[bytes]:
        """Frames to send right after connecting (empty when the URL carries the streams)."""
        ...

    def stream_of(self, payload: bytes) -> str | None:
        """The stream a data frame belongs to, or None (acks, unknown). Runs per frame: keep it cheap."""
        ...


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A subscribed stream; `stale_after_s` is how long it may stay silent (None: never stale)."""

    name: str
    stale_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class Reconnected:
    """Emitted when a connection other than the first opens: books must resync."""

    session: str
    reason: DisconnectReason  # why the previous connection ended
    connection: int  # 2 for the first reconnect, 3 for the next...
    down_ns: int  # monotonic time from losing the previous connection to this one


@dataclass(frozen=True, slots=True)
class SessionConfig:
    name: str
    ping_idle_s: float = 10.0  # ping when nothing was received for this long
    pong_timeout_s: float = 5.0  # a ping unanswered this long means the connection is dead
    connect_timeout_s: float = 10.0  # TCP + TLS + WebSocket handshake
    staleness_check_s: float = 0.25  # how often stream bounds are checked (real time)
    stop_timeout_s: float = 5.0
    max_frame_size: int = 16 * 1024 * 1024
    # Venues with an application-level keep-alive (OKX: text "ping" -> "pong") instead of, or beside,
    # protocol pings: the idle ping is sent as this TEXT frame and this TEXT reply counts as the pong.
    text_ping: bytes | None = None
    text_pong: bytes | None = None

    def __post_init__(self) -> None:
        if self.pong_timeout_s > self.ping_idle_s:
            raise ValueError("pong_timeout_s must not exceed ping_idle_s (a picows requirement)")


@dataclass(frozen=True, slots=True)
class SessionCounters:
    """A snapshot for metrics export. `reconnects` counts connection ends and failed attempts that
    were followed by a new attempt, by reason; `stale_streams` counts staleness per stream."""

    frames_received: int
    bytes_received: int
    connections: int
    reconnects: dict[str, int]
    stale_streams: dict[str, int]


FrameHandler = Callable[[bytes, int], None]


class _Listener(WSListener):
    """One per connection. `on_ws_frame` is the hot path: one payload copy, one clock read."""

    def __init__(self, session: WsSession, on_frame: FrameHandler) -> None:
        super().__init__()
        self._session = session
        self._on_frame = on_frame
        self._now = session.clock.monotonic_ns
        self._stream_of = session.dialect.stream_of
        self._last_data = session.last_data_ns  # the session's dict, updated in place
        self.frames = 0
        self.bytes = 0
        self.ping_outstanding = False
        self.server_closed = False
        self._fragments: bytearray | None = None
        self._text_ping = session.config.text_ping
        self._text_pong = session.config.text_pong

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._session._opened(transport, self)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._session._lost()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if (msg_type is _TEXT or msg_type is _BINARY) and frame.fin:
            ts = self._now()
            # A copy: the frame's memory is reused after this call, and parsers may keep slices.
            payload = frame.get_payload_as_bytes()
            self.frames += 1
            self.bytes += len(payload)
            stream = self._stream_of(payload)
            if stream is not None:
                self._last_data[stream] = ts
            self._on_frame(payload, ts)
            return
        self._other_frame(transport, frame, msg_type)

    def _other_frame(self, transport: WSTransport, frame: WSFrame, msg_type: WSMsgType) -> None:
        if msg_type is _CLOSE:
            # The venue's reply to our own close (pong timeout, stale) is not a venue-initiated close.
            self.server_closed = not transport.is_close_frame_sent
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif msg_type is _TEXT or msg_type is _BINARY:  # first fragment of a message
            self._fragments = bytearray(frame.get_payload_as_memoryview())
        elif msg_type is _CONTINUATION and self._fragments is not None:
            self._fragments += frame.get_payload_as_memoryview()
            if frame.fin:
                ts = self._now()
                payload = bytes(self._fragments)
                self._fragments = None
                self.frames += 1
                self.bytes += len(payload)
                stream = self._stream_of(payload)
                if stream is not None:
                    self._last_data[stream] = ts
                self._on_frame(payload, ts)
        # Unsolicited PONGs are ignored; PINGs are answered by picows (enable_auto_pong).

    def send_user_specific_ping(self, transport: WSTransport) -> None:
        # Tracked so a disconnect while a ping is unanswered can be told apart as "pong_timeout".
        self.ping_outstanding = True
        if self._text_ping is not None:
            transport.send(_TEXT, self._text_ping)
        else:
            transport.send_ping()

    def is_user_specific_pong(self, frame: WSFrame) -> bool:
        msg_type = frame.msg_type
        if msg_type is _PONG or (
            self._text_pong is not None
            and msg_type is _TEXT
            and frame.get_payload_as_bytes() == self._text_pong
        ):
            self.ping_outstanding = False
            return True
        return False


class WsSession:
    """Keeps one venue WebSocket connection alive until `stop()`.

    >>> session = WsSession(dialect, [StreamSpec("btcusdt@depth@100ms", stale_after_s=5)],
    ...                     on_frame=feed.on_frame, clock=SystemClock(), backoff=Backoff(),
    ...                     config=SessionConfig(name="binance-md-0"),
    ...                     on_reconnected=feed.on_reconnected)
    >>> await session.start(); ...; await session.stop()
    """

    def __init__(
        self,
        dialect: StreamDialect,
        streams: Iterable[StreamSpec],
        on_frame: FrameHandler,
        *,
        clock: Clock,
        backoff: Backoff,
        config: SessionConfig,
        on_connected: Callable[[], None] | None = None,
        on_disconnected: Callable[[DisconnectReason], None] | None = None,
        on_reconnected: Callable[[Reconnected], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.dialect = dialect
        self.clock = clock
        self.config = config
        self.last_data_ns: dict[str, int] = {}
        self._specs: dict[str, StreamSpec] = {}
        self._bounds_ns: dict[str, int] = {}
        self._on_frame = on_frame
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._on_reconnected = on_reconnected
        self._backoff = backoff
        self._ssl_context = ssl_context
        self._state = SessionState.STOPPED
        self._task: asyncio.Task[None] | None = None
        self._stop_requested: asyncio.Future[None] | None = None
        self._running = asyncio.Event()
        self._transport: WSTransport | None = None
        self._listener: _Listener | None = None
        self._local_reason: DisconnectReason | None = None
        self._connections = 0
        self._connected_at_ns = 0
        self._lost_at_ns: int | None = None
        self._last_reason = DisconnectReason.CLOSED
        self._frames_done = 0  # counts of finished connections; the live listener adds its own
        self._bytes_done = 0
        self._reconnects: dict[str, int] = {}
        self._stale_counts: dict[str, int] = {}
        self._add_specs(streams)

    # --- read by the app -------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def counters(self) -> SessionCounters:
        live = self._listener
        return SessionCounters(
            frames_received=self._frames_done + (live.frames if live is not None else 0),
            bytes_received=self._bytes_done + (live.bytes if live is not None else 0),
            connections=self._connections,
            reconnects=dict(self._reconnects),
            stale_streams=dict(self._stale_counts),
        )

    async def wait_running(self) -> None:
        """Until connected and subscribed (bound it with `asyncio.timeout`)."""
        await self._running.wait()

    # --- control ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background; returns at once (state STARTING)."""
        if self._task is not None:
            raise RuntimeError("session already started")
        self._state = SessionState.STARTING
        self._stop_requested = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name=f"ws-session:{self.config.name}")

    async def stop(self) -> None:
        """Close the connection and end the reconnect loop. Safe to call more than once."""
        task = self._task
        if task is None or task.done():
            self._state = SessionState.STOPPED
            return
        assert self._stop_requested is not None
        if not self._stop_requested.done():
            self._stop_requested.set_result(None)
        transport = self._transport
        if transport is not None and not transport.is_disconnected:
            self._local_reason = DisconnectReason.STOPPED
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()
        done, _ = await asyncio.wait((task,), timeout=self.config.stop_timeout_s)
        if not done:
            if self._transport is not None:
                self._transport.disconnect(graceful=False)
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):  # a crash was logged by _run
            await task
        # picows cancels its auto-ping task on disconnect; let it finish so nothing outlives stop().
        await asyncio.sleep(0)
        self._state = SessionState.STOPPED

    def subscribe(self, streams: Iterable[StreamSpec]) -> None:
        """Add streams: sent now when connected, and replayed on every reconnect."""
        added = self._add_specs(streams)
        transport = self._transport
        if added and transport is not None and not transport.is_disconnected:
            now = self.clock.monotonic_ns()
            for name in added:
                self.last_data_ns[name] = now
            for message in self.dialect.subscribe_messages(added):
                transport.send(_TEXT, message)

    def send(self, message: bytes) -> bool:
        """Send a TEXT frame on the live connection (e.g. a venue request). False when not connected."""
        transport = self._transport
        if transport is None or transport.is_disconnected:
            return False
        transport.send(_TEXT, message)
        return True

    def mark_stream(self, stream: str, ts_recv_ns: int) -> None:
        """Record data for a stream, for consumers that attribute frames themselves."""
        self.last_data_ns[stream] = ts_recv_ns

    # --- internals -------------------------------------------------------------------------------

    def _add_specs(self, streams: Iterable[StreamSpec]) -> list[str]:
        added = []
        for spec in streams:
            if spec.name not in self._specs:
                added.append(spec.name)
            self._specs[spec.name] = spec
            if spec.stale_after_s is None:
                self._bounds_ns.pop(spec.name, None)
            else:
                self._bounds_ns[spec.name] = int(spec.stale_after_s * _NS)
        return added

    def _opened(self, transport: WSTransport, listener: _Listener) -> None:
        """From the listener, synchronously, before the first frame of the connection."""
        now = self.clock.monotonic_ns()
        self._transport = transport
        self._listener = listener
        self._connections += 1
        self._connected_at_ns = now
        names = list(self._specs)
        # A new connection starts every stream's silence clock afresh.
        self.last_data_ns.clear()
        for name in names:
            self.last_data_ns[name] = now
        for message in self.dialect.subscribe_messages(names):
            transport.send(_TEXT, message)
        self._state = SessionState.RUNNING
        self._running.set()
        log.info("ws_session.connected", session=self.config.name, connection=self._connections)
        if self._on_connected is not None:
            self._on_connected()
        if self._connections > 1 and self._on_reconnected is not None:
            lost = self._lost_at_ns if self._lost_at_ns is not None else now
            self._on_reconnected(
                Reconnected(self.config.name, self._last_reason, self._connections, now - lost)
            )

    def _lost(self) -> None:
        """From the listener, the moment the connection is gone: readers see it before the supervisor
        has classified the reason."""
        self._running.clear()
        if self._local_reason is not DisconnectReason.STOPPED:
            self._state = SessionState.DEGRADED

    async def _run(self) -> None:
        assert self._stop_requested is not None
        stop_requested = self._stop_requested
        try:
            while not stop_requested.done():
                reason, up_ns = await self._one_connection(stop_requested)
                self._ended(reason, up_ns)
                if stop_requested.done():
                    break
                delay = self._backoff.next_delay()
                log.info(
                    "ws_session.reconnecting",
                    session=self.config.name,
                    reason=str(reason),
                    delay_s=round(delay, 3),
                    attempt=self._backoff.attempt,
                )
                await asyncio.wait((stop_requested,), timeout=delay)
        except Exception:
            log.exception("ws_session.crashed", session=self.config.name)
            raise
        finally:
            self._state = SessionState.STOPPED
            self._running.clear()

    async def _one_connection(
        self, stop_requested: asyncio.Future[None]
    ) -> tuple[DisconnectReason, int | None]:
        """Connect, run until the connection ends; returns why, and how long it was up (None: it never
        opened)."""
        self._local_reason = None
        self._transport = None
        url = self.dialect.url(list(self._specs))
        connect = asyncio.ensure_future(self._connect(url))
        done, _ = await asyncio.wait(
            (connect, stop_requested),
            timeout=self.config.connect_timeout_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if connect not in done:
            connect.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connect
            if self._transport is not None:  # the handshake completed as we gave up
                self._transport.disconnect(graceful=False)
                with contextlib.suppress(Exception):
                    await self._transport.wait_disconnected()
            if stop_requested.done():
                return DisconnectReason.STOPPED, None
            log.warning("ws_session.connect_timeout", session=self.config.name, url=url)
            return DisconnectReason.ERROR, None
        try:
            transport = connect.result()
        except Exception as exc:
            log.warning("ws_session.connect_failed", session=self.config.name, url=url, error=repr(exc))
            return DisconnectReason.ERROR, None
        failure = await self._watch(transport, stop_requested)
        up_ns = self.clock.monotonic_ns() - self._connected_at_ns
        return self._classify(transport, failure), up_ns

    async def _connect(self, url: str) -> WSTransport:
        def listener_factory(request: WSUpgradeRequest, response: WSUpgradeResponse) -> _Listener:
            return _Listener(self, self._on_frame)

        transport, _ = await ws_connect(
            listener_factory,
            url,
            ssl_context=self._ssl_context,
            websocket_handshake_timeout=self.config.connect_timeout_s,
            enable_auto_ping=True,
            auto_ping_idle_timeout=self.config.ping_idle_s,
            auto_ping_reply_timeout=self.config.pong_timeout_s,
            enable_auto_pong=True,
            max_frame_size=self.config.max_frame_size,
            logger_name=f"session.{self.config.name}",
        )
        return transport

    async def _watch(
        self, transport: WSTransport, stop_requested: asyncio.Future[None]
    ) -> BaseException | None:
        """Until the transport disconnects; closes it when a stream goes stale. Returns the local
        failure picows reports (a callback that raised, a protocol error), if any."""
        disconnected = asyncio.ensure_future(transport.wait_disconnected())
        interval = self.config.staleness_check_s
        while not disconnected.done():
            if stop_requested.done() and self._local_reason is None:
                # stop() raced with the handshake and found no transport to close.
                self._local_reason = DisconnectReason.STOPPED
                transport.send_close(WSCloseCode.OK)
                transport.disconnect()
            await asyncio.wait((disconnected,), timeout=interval)
            if disconnected.done() or self._local_reason is not None:
                continue
            stale = self._stale_streams(self.clock.monotonic_ns())
            if stale:
                for name in stale:
                    self._stale_counts[name] = self._stale_counts.get(name, 0) + 1
                log.warning("ws_session.stale", session=self.config.name, streams=stale)
                self._local_reason = DisconnectReason.STALE
                transport.send_close(WSCloseCode.GOING_AWAY, b"stale")
                transport.disconnect(graceful=False)
        if disconnected.cancelled():
            return None
        return disconnected.exception()

    def _stale_streams(self, now_ns: int) -> list[str]:
        last = self.last_data_ns
        connected_at = self._connected_at_ns
        return [
            name for name, bound in self._bounds_ns.items() if now_ns - last.get(name, connected_at) > bound
        ]

    def _classify(self, transport: WSTransport, failure: BaseException | None) -> DisconnectReason:
        if self._local_reason is not None:
            return self._local_reason
        if failure is not None:
            log.warning("ws_session.failed", session=self.config.name, error=repr(failure))
            return DisconnectReason.ERROR
        listener = self._listener
        handshake = transport.close_handshake
        if listener is not None and listener.server_closed:
            return DisconnectReason.SERVER_CLOSE
        if listener is not None and listener.ping_outstanding and handshake is not None and handshake.sent:
            # picows sends a close frame itself when the pong does not come in time.
            return DisconnectReason.PONG_TIMEOUT
        return DisconnectReason.CLOSED

    def _ended(self, reason: DisconnectReason, up_ns: int | None) -> None:
        listener = self._listener
        if listener is not None:
            self._frames_done += listener.frames
            self._bytes_done += listener.bytes
        self._listener = None
        self._transport = None
        self._running.clear()
        if up_ns is not None:
            self._backoff.connection_ended(up_ns)
        self._last_reason = reason
        if reason is not DisconnectReason.STOPPED:
            self._reconnects[reason] = self._reconnects.get(reason, 0) + 1
            self._state = SessionState.DEGRADED if self._connections else SessionState.STARTING
        if up_ns is not None:  # only a connection that opened was lost
            self._lost_at_ns = self.clock.monotonic_ns()
            log.info("ws_session.disconnected", session=self.config.name, reason=str(reason))
            if self._on_disconnected is not None:
                try:
                    self._on_disconnected(reason)
                except Exception:
                    log.exception("ws_session.on_disconnected_failed", session=self.config.name)
