"""An asyncio TCP fault proxy: toxiproxy's toxics, plus WebSocket frame faults. Seeded; driven by an API.

No toxiproxy or netem exists on these machines, so this is ours. It sits between a client and an
upstream server on 127.0.0.1 and applies, per direction, whatever toxics are installed at the moment a
chunk of bytes is forwarded; toxics can be added and removed while connections are open.

    proxy = FaultProxy("127.0.0.1", sim.port, seed=7, websocket=True)
    await proxy.start()                       # proxy.port now listens
    name = proxy.add(Latency(latency_ms=50, jitter_ms=10))
    proxy.add(WsDrop(count=1, match=b"btcusdt@depth"))  # the next matching server frame is lost
    proxy.remove(name)
    proxy.disable(); await proxy.enable()      # "down": every connection cut, new ones refused
    await proxy.stop()

Toxics (toxiproxy's names in brackets), each for DOWNSTREAM (server -> client, the default) or UPSTREAM:
* `Latency` [latency]: each chunk is delayed by latency ± jitter from when it arrived; order is kept.
* `Bandwidth` [bandwidth]: at most `rate_kbps` kilobytes per second.
* `SlowClose` [slow_close]: the close of the source reaches the other side `delay_ms` later.
* `Timeout` [timeout]: nothing gets through (bytes are held, not lost); with `timeout_ms` > 0 the
  connection is closed that long after the first held chunk; with 0 it is a blackhole: nothing is closed
  and the held bytes flow again once the toxic is removed.
* `ResetPeer` [reset_peer]: after `timeout_ms`, the client connection is reset (RST: SO_LINGER 0).
* `Slicer` [slicer]: chunks are cut into pieces of about `average_size` ± `size_variation` bytes,
  `delay_us` apart.
* `LimitData` [limit_data]: the connection is closed once `bytes` have been forwarded in that direction.
* down [enabled=false]: `disable()` / `enable()`.
WebSocket frame toxics (downstream only; server frames are unmasked, RFC 6455 section 5.2): with
`websocket=True` the proxy passes the HTTP upgrade response through and then cuts the byte stream into
whole frames. Data frames whose payload contains `match` (any when empty) are subject to:
* `WsDrop`: the frame is not forwarded.
* `WsDuplicate`: the frame is forwarded twice.
* `WsReorder`: the frame is held and forwarded right after the next matching frame (the two swap).
* `WsRewrite`: the frame is replaced by what `rewrite(payload)` returns (inject, alter or drop frames).
Each fires with `probability` (drawn from the proxy's seeded generator) until `count` frames were
affected (None: no limit). `affected` counts what each toxic did.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar


class Direction(StrEnum):
    DOWNSTREAM = "downstream"  # upstream server -> client
    UPSTREAM = "upstream"  # client -> upstream server


@dataclass
class Toxic:
    direction: Direction = field(default=Direction.DOWNSTREAM, kw_only=True)
    affected: int = field(default=0, kw_only=True)  # chunks/frames/connections this toxic acted on


@dataclass
class Latency(Toxic):
    latency_ms: float = 0.0
    jitter_ms: float = 0.0


@dataclass
class Bandwidth(Toxic):
    rate_kbps: float = 1000.0  # kilobytes per second


@dataclass
class SlowClose(Toxic):
    delay_ms: float = 0.0


@dataclass
class Timeout(Toxic):
    timeout_ms: float = 0.0  # 0: blackhole, never closes


@dataclass
class ResetPeer(Toxic):
    timeout_ms: float = 0.0


@dataclass
class Slicer(Toxic):
    average_size: int = 16
    size_variation: int = 8
    delay_us: int = 0


@dataclass
class LimitData(Toxic):
    bytes: int = 0


@dataclass
class FrameToxic(Toxic):
    probability: float = 1.0
    count: int | None = None  # frames to affect at most
    match: bytes = b""

    def wants(self, payload: bytes, rng: random.Random) -> bool:
        if self.count is not None and self.affected >= self.count:
            return False
        if self.match and self.match not in payload:
            return False
        return self.probability >= 1.0 or rng.random() < self.probability


@dataclass
class WsDrop(FrameToxic):
    pass


@dataclass
class WsDuplicate(FrameToxic):
    pass


@dataclass
class WsReorder(FrameToxic):
    pass


@dataclass
class WsRewrite(FrameToxic):
    """The frame is replaced by the payloads `rewrite(payload)` returns, each sent as one unmasked TEXT
    frame: `[bad, payload]` injects a frame before it, `[changed]` alters it, `[]` drops it."""

    rewrite: Callable[[bytes], list[bytes]] = field(default=lambda payload: [payload])


def server_text_frame(payload: bytes) -> bytes:
    """One unmasked, final WebSocket TEXT frame (RFC 6455 section 5.2), as a server sends it."""
    length = len(payload)
    if length < 126:
        return struct.pack("!BB", 0x81, length) + payload
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length) + payload
    return struct.pack("!BBQ", 0x81, 127, length) + payload


_CHUNK = 65536
T = TypeVar("T", bound=Toxic)


class WsFrameSplitter:
    """Cuts a server's byte stream into the HTTP upgrade response and then whole WebSocket frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._in_headers = True

    def feed(self, data: bytes) -> list[tuple[bytes, bytes | None]]:
        """Pieces ready to forward: (raw bytes, payload) — payload None for headers/control frames."""
        self._buffer += data
        out: list[tuple[bytes, bytes | None]] = []
        buffer = self._buffer
        if self._in_headers:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return out
            out.append((bytes(buffer[: end + 4]), None))
            del buffer[: end + 4]
            self._in_headers = False
        offset = 0
        while len(buffer) - offset >= 2:
            first, second = buffer[offset], buffer[offset + 1]
            length = second & 0x7F
            header = 2
            if length == 126:
                header = 4
                if len(buffer) - offset < header:
                    break
                length = struct.unpack_from("!H", buffer, offset + 2)[0]
            elif length == 127:
                header = 10
                if len(buffer) - offset < header:
                    break
                length = struct.unpack_from("!Q", buffer, offset + 2)[0]
            masked = bool(second & 0x80)
            if masked:
                header += 4
            end = offset + header + length
            if len(buffer) < end:
                break
            raw = bytes(buffer[offset:end])
            opcode = first & 0x0F
            payload: bytes | None = None
            if opcode in (0x0, 0x1, 0x2):
                payload = raw[header:]
                if masked:
                    key = raw[header - 4 : header]
                    payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            out.append((raw, payload))
            offset = end
        del buffer[:offset]
        return out


@dataclass
class ProxyStats:
    connections: int = 0
    bytes_down: int = 0
    bytes_up: int = 0
    writes_down: int = 0
    resets: int = 0
    refused_while_down: int = 0


class _Link:
    """One client connection and its upstream connection."""

    def __init__(
        self,
        proxy: FaultProxy,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        rng: random.Random,
    ) -> None:
        self.proxy = proxy
        self.client_reader, self.client_writer = client
        self.upstream_reader, self.upstream_writer = upstream
        self.rng = rng
        self.closed = False
        self.tasks: list[asyncio.Task[None]] = []
        self.sent = {Direction.DOWNSTREAM: 0, Direction.UPSTREAM: 0}
        self.splitter = WsFrameSplitter() if proxy.websocket else None
        self.held_for_reorder: dict[int, bytes] = {}  # id(toxic) -> held raw frame
        self.reset_timers: dict[int, asyncio.TimerHandle] = {}

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for direction, reader, writer in (
            (Direction.DOWNSTREAM, self.upstream_reader, self.client_writer),
            (Direction.UPSTREAM, self.client_reader, self.upstream_writer),
        ):
            queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()
            self.tasks.append(loop.create_task(self._read(reader, queue)))
            self.tasks.append(loop.create_task(self._write(direction, queue, writer)))
        for toxic in self.proxy.toxics.values():
            if isinstance(toxic, ResetPeer):
                self.schedule_reset(toxic)

    def schedule_reset(self, toxic: ResetPeer) -> None:
        loop = asyncio.get_running_loop()
        self.reset_timers[id(toxic)] = loop.call_later(toxic.timeout_ms / 1000, self._reset, toxic)

    def _reset(self, toxic: ResetPeer) -> None:
        if self.closed:
            return
        toxic.affected += 1
        self.proxy.stats.resets += 1
        sock = self.client_writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.client_writer.transport.abort()
        self.close()

    async def _read(
        self, reader: asyncio.StreamReader, queue: asyncio.Queue[tuple[float, bytes | None]]
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await reader.read(_CHUNK)
                queue.put_nowait((loop.time(), data or None))
                if not data:
                    return
        except (ConnectionError, OSError):
            queue.put_nowait((loop.time(), None))

    async def _write(
        self,
        direction: Direction,
        queue: asyncio.Queue[tuple[float, bytes | None]],
        writer: asyncio.StreamWriter,
    ) -> None:
        loop = asyncio.get_running_loop()
        proxy = self.proxy
        last_deadline = 0.0
        try:
            while not self.closed:
                arrived, data = await queue.get()
                await self._hold_while_timeout(direction)
                if self.closed:
                    return
                if data is None:  # the source closed
                    for toxic in proxy.active(direction, SlowClose):
                        toxic.affected += 1
                        await asyncio.sleep(toxic.delay_ms / 1000)
                    self.close()
                    return
                pieces = [data]
                if direction is Direction.DOWNSTREAM and self.splitter is not None:
                    pieces = self._frame_faults(data)
                for toxic in proxy.active(direction, Latency):
                    delay = toxic.latency_ms + self.rng.uniform(-toxic.jitter_ms, toxic.jitter_ms)
                    deadline = max(arrived + max(0.0, delay) / 1000, last_deadline)
                    last_deadline = deadline
                    wait = deadline - loop.time()
                    if wait > 0:
                        toxic.affected += 1
                        await asyncio.sleep(wait)
                close_after = False
                for toxic in proxy.active(direction, LimitData):
                    room = toxic.bytes - self.sent[direction]
                    total = sum(len(piece) for piece in pieces)
                    if total >= room:
                        toxic.affected += 1
                        pieces = [b"".join(pieces)[: max(0, room)]]
                        close_after = True
                for toxic in proxy.active(direction, Slicer):
                    pieces = self._slice(pieces, toxic)
                    toxic.affected += 1
                for piece in pieces:
                    if not piece:
                        continue
                    for toxic in proxy.active(direction, Slicer):
                        if toxic.delay_us:
                            await asyncio.sleep(toxic.delay_us / 1_000_000)
                    for toxic in proxy.active(direction, Bandwidth):
                        toxic.affected += 1
                        await asyncio.sleep(len(piece) / (toxic.rate_kbps * 1000))
                    if self.closed:
                        return
                    writer.write(piece)
                    await writer.drain()
                    self.sent[direction] += len(piece)
                    if direction is Direction.DOWNSTREAM:
                        proxy.stats.bytes_down += len(piece)
                        proxy.stats.writes_down += 1
                    else:
                        proxy.stats.bytes_up += len(piece)
                if close_after:
                    self.close()
                    return
        except (ConnectionError, OSError):
            self.close()

    async def _hold_while_timeout(self, direction: Direction) -> None:
        """Timeout toxic: hold everything; close after timeout_ms unless it is 0 (a blackhole)."""
        loop = asyncio.get_running_loop()
        started: float | None = None
        while not self.closed:
            toxics = self.proxy.active(direction, Timeout)
            if not toxics:
                return
            now = loop.time()
            if started is None:
                started = now
                for toxic in toxics:
                    toxic.affected += 1
            closing = [t.timeout_ms for t in toxics if t.timeout_ms > 0]
            if closing and now - started >= min(closing) / 1000:
                self.close()
                return
            changed = self.proxy.changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), 0.01 if closing else 0.05)

    def _frame_faults(self, data: bytes) -> list[bytes]:
        assert self.splitter is not None
        out: list[bytes] = []
        for raw, payload in self.splitter.feed(data):
            if payload is None:
                out.append(raw)
                continue
            emit = [raw]
            for toxic in self.proxy.active(Direction.DOWNSTREAM, FrameToxic):
                if isinstance(toxic, WsReorder) and id(toxic) in self.held_for_reorder:
                    if not toxic.match or toxic.match in payload:
                        emit = [*emit, self.held_for_reorder.pop(id(toxic))]
                        toxic.affected += 1
                    continue
                if not toxic.wants(payload, self.rng):
                    continue
                if isinstance(toxic, WsDrop):
                    emit = []
                    toxic.affected += 1
                elif isinstance(toxic, WsRewrite):
                    emit = [server_text_frame(rewritten) for rewritten in toxic.rewrite(payload)]
                    toxic.affected += 1
                elif isinstance(toxic, WsDuplicate):
                    emit = [*emit, raw]
                    toxic.affected += 1
                elif isinstance(toxic, WsReorder) and emit:
                    self.held_for_reorder[id(toxic)] = emit[0]
                    emit = emit[1:]
            out.extend(emit)
        return [b"".join(out)] if out else []

    def _slice(self, pieces: list[bytes], toxic: Slicer) -> list[bytes]:
        out: list[bytes] = []
        for piece in pieces:
            view = memoryview(piece)
            while view:
                size = max(
                    1, toxic.average_size + self.rng.randint(-toxic.size_variation, toxic.size_variation)
                )
                out.append(bytes(view[:size]))
                view = view[size:]
        return out

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for timer in self.reset_timers.values():
            timer.cancel()
        for writer in (self.client_writer, self.upstream_writer):
            with contextlib.suppress(Exception):
                writer.close()
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        self.proxy.links.discard(self)
        self.proxy.retired.append(self)


class FaultProxy:
    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        websocket: bool = False,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.port = port
        self.websocket = websocket
        self.seed = seed
        self.rng = random.Random(seed)
        self.toxics: dict[str, Toxic] = {}
        self.links: set[_Link] = set()
        self.retired: list[_Link] = []  # closed links, awaited by stop()
        self.stats = ProxyStats()
        self.changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._names = 0

    # ---- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.enable()

    async def stop(self) -> None:
        self.disable()
        links, self.retired = self.retired, []
        for link in links:
            await asyncio.gather(*link.tasks, return_exceptions=True)
            for writer in (link.client_writer, link.upstream_writer):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), 1)

    async def enable(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True, limit=_CHUNK
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def disable(self) -> None:
        """Down: cut every connection and refuse new ones until `enable()`."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for link in list(self.links):
            link.close()

    @property
    def enabled(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        return f"{'ws' if self.websocket else 'http'}://{self.host}:{self.port}"

    # ---- toxics --------------------------------------------------------------------------------
    def add(self, toxic: Toxic, name: str | None = None) -> str:
        if toxic.direction is Direction.UPSTREAM and isinstance(toxic, FrameToxic):
            raise ValueError("frame toxics act on server frames (downstream) only")
        self._names += 1
        name = name or f"{type(toxic).__name__.lower()}-{self._names}"
        self.toxics[name] = toxic
        if isinstance(toxic, ResetPeer):
            for link in list(self.links):
                link.schedule_reset(toxic)
        self._signal()
        return name

    def remove(self, name: str) -> Toxic:
        toxic = self.toxics.pop(name)
        for link in list(self.links):
            timer = link.reset_timers.pop(id(toxic), None)
            if timer is not None:
                timer.cancel()
            held = link.held_for_reorder.pop(id(toxic), None)
            if held is not None and not link.closed:  # a held frame goes out rather than vanishing
                link.client_writer.write(held)
        self._signal()
        return toxic

    def clear(self) -> None:
        for name in list(self.toxics):
            self.remove(name)

    def active(self, direction: Direction, kind: type[T]) -> list[T]:
        return [t for t in self.toxics.values() if isinstance(t, kind) and t.direction is direction]

    def _signal(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    # ---- connections ---------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:
            self.stats.refused_while_down += 1
            writer.close()
            return
        try:
            upstream = await asyncio.wait_for(
                asyncio.open_connection(*self.upstream, limit=_CHUNK), timeout=5
            )
        except (OSError, TimeoutError):
            writer.close()
            return
        if self._server is None:  # went down while connecting upstream
            writer.close()
            upstream[1].close()
            return
        self.stats.connections += 1
        link = _Link(self, (reader, writer), upstream, random.Random(self.rng.getrandbits(64)))
        self.links.add(link)
        link.start()


def frame_payloads(data: bytes) -> list[bytes]:
    """Payloads of the whole data frames in `data`, an HTTP upgrade response first: for tests."""
    return [payload for _, payload in WsFrameSplitter().feed(data) if payload is not None]
