"""Each toxic of the fault proxy, checked on loopback against a tiny upstream server.

Timing checks are lower bounds only (a delay can never be shorter on a loaded machine)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from support.fault_proxy import (
    Bandwidth,
    Direction,
    FaultProxy,
    Latency,
    LimitData,
    ResetPeer,
    Slicer,
    SlowClose,
    Timeout,
    WsDrop,
    WsDuplicate,
    WsReorder,
    frame_payloads,
)

pytestmark = pytest.mark.timeout(30)

UPGRADE = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"


def text_frame(payload: bytes) -> bytes:
    assert len(payload) < 126
    return bytes([0x81, len(payload)]) + payload


class Upstream:
    """Echoes what it gets; `b"close"` makes it close; `b"frames N"` sends an upgrade and N text frames."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        try:
            while data := await reader.read(65536):
                if data.startswith(b"close"):
                    writer.close()
                    return
                if data.startswith(b"frames "):
                    count = int(data.split()[1])
                    writer.write(UPGRADE + b"".join(text_frame(b"f%d" % i) for i in range(count)))
                else:
                    writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass

    async def stop(self) -> None:
        assert self.server is not None
        for writer in self.writers:
            writer.close()
        self.server.close()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = Upstream()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def proxy(upstream: Upstream) -> AsyncIterator[FaultProxy]:
    fault_proxy = FaultProxy("127.0.0.1", upstream.port, seed=11)
    await fault_proxy.start()
    yield fault_proxy
    await asyncio.wait_for(fault_proxy.stop(), 5)


async def connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", proxy.port), 5)


async def read_until_quiet(reader: asyncio.StreamReader, quiet: float = 0.3) -> bytes:
    try:
        return await asyncio.wait_for(reader.read(65536), quiet)
    except TimeoutError:
        return b""


async def read_exactly(reader: asyncio.StreamReader, count: int, timeout: float = 5) -> bytes:
    return await asyncio.wait_for(reader.readexactly(count), timeout)


async def test_passes_bytes_both_ways(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    writer.write(b"hello")
    assert await read_exactly(reader, 5) == b"hello"
    writer.close()


async def test_latency_delays_each_chunk_and_keeps_order(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    proxy.add(Latency(latency_ms=150, jitter_ms=20))
    started = time.monotonic()
    for i in range(5):
        writer.write(b"%d" % i)
        await writer.drain()
        await asyncio.sleep(0.01)
    assert await read_exactly(reader, 5) == b"01234"
    assert time.monotonic() - started >= 0.13  # latency - jitter, as a lower bound
    writer.close()


async def test_upstream_latency_applies_to_requests(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    proxy.add(Latency(latency_ms=120, direction=Direction.UPSTREAM))
    started = time.monotonic()
    writer.write(b"ping")
    assert await read_exactly(reader, 4) == b"ping"
    assert time.monotonic() - started >= 0.12
    writer.close()


async def test_bandwidth_caps_throughput(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    proxy.add(Bandwidth(rate_kbps=40))  # 40 KB/s: 20 KB takes at least 0.5 s
    started = time.monotonic()
    writer.write(b"x" * 20_000)
    assert await read_exactly(reader, 20_000) == b"x" * 20_000
    assert time.monotonic() - started >= 0.45
    writer.close()


async def test_slicer_cuts_chunks_into_small_writes(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    proxy.add(Slicer(average_size=10, size_variation=5, delay_us=100))
    before = proxy.stats.writes_down
    payload = bytes(range(256)) * 4
    writer.write(payload)
    assert await read_exactly(reader, len(payload)) == payload  # intact, in order
    assert proxy.stats.writes_down - before >= len(payload) // 15  # each slice its own write
    writer.close()


async def test_slow_close_delays_the_close(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    proxy.add(SlowClose(delay_ms=300))
    started = time.monotonic()
    writer.write(b"close")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert time.monotonic() - started >= 0.29
    writer.close()


async def test_blackhole_holds_bytes_and_closes_nothing(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    name = proxy.add(Timeout(timeout_ms=0))
    writer.write(b"held")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.4)
    assert not reader.at_eof()
    assert len(proxy.links) == 1
    proxy.remove(name)
    assert await read_exactly(reader, 4) == b"held"  # the held bytes flow again
    writer.close()


async def test_timeout_closes_after_its_bound(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    proxy.add(Timeout(timeout_ms=200))
    started = time.monotonic()
    writer.write(b"lost")
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, nothing delivered
    assert time.monotonic() - started >= 0.19
    writer.close()


async def test_reset_peer_sends_a_tcp_reset(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    writer.write(b"hi")
    assert await read_exactly(reader, 2) == b"hi"
    proxy.add(ResetPeer(timeout_ms=50))
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(), 5)
    assert proxy.stats.resets == 1
    writer.close()


async def test_limit_data_closes_after_the_limit(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    proxy.add(LimitData(bytes=10))
    writer.write(b"0123456789abcdef")
    assert await asyncio.wait_for(reader.read(), 5) == b"0123456789"  # then EOF
    writer.close()


async def test_down_cuts_connections_and_refuses_new_ones(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    writer.write(b"up")
    assert await read_exactly(reader, 2) == b"up"
    proxy.disable()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    with pytest.raises(ConnectionRefusedError):
        await connect(proxy)
    await proxy.enable()
    reader, writer = await connect(proxy)
    writer.write(b"back")
    assert await read_exactly(reader, 4) == b"back"
    writer.close()


async def test_toxics_are_removed_at_runtime(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    name = proxy.add(Latency(latency_ms=5000))
    assert name in proxy.toxics
    proxy.remove(name)
    writer.write(b"fast")
    assert await read_exactly(reader, 4, timeout=2) == b"fast"
    writer.close()


# ---- WebSocket frames --------------------------------------------------------------------------


@pytest.fixture
async def ws_proxy(upstream: Upstream) -> AsyncIterator[FaultProxy]:
    fault_proxy = FaultProxy("127.0.0.1", upstream.port, seed=5, websocket=True)
    await fault_proxy.start()
    yield fault_proxy
    await asyncio.wait_for(fault_proxy.stop(), 5)


async def frames_through(proxy: FaultProxy, count: int, expect: int) -> list[bytes]:
    reader, writer = await connect(proxy)
    writer.write(b"frames %d" % count)
    data = b""
    while len(frame_payloads(data)) < expect:
        data += await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    payloads = frame_payloads(data)
    assert data.startswith(UPGRADE)
    return payloads


async def test_frames_pass_intact_when_split_at_any_byte(ws_proxy: FaultProxy) -> None:
    ws_proxy.add(Slicer(average_size=3, size_variation=2))
    assert await frames_through(ws_proxy, 20, 20) == [b"f%d" % i for i in range(20)]


async def test_a_single_frame_is_dropped(ws_proxy: FaultProxy) -> None:
    toxic = WsDrop(count=1, match=b"f3")
    ws_proxy.add(toxic)
    payloads = await frames_through(ws_proxy, 6, 5)
    assert payloads == [b"f0", b"f1", b"f2", b"f4", b"f5"]
    assert toxic.affected == 1


async def test_a_frame_is_duplicated(ws_proxy: FaultProxy) -> None:
    toxic = WsDuplicate(count=1, match=b"f2")
    ws_proxy.add(toxic)
    payloads = await frames_through(ws_proxy, 4, 5)
    assert payloads == [b"f0", b"f1", b"f2", b"f2", b"f3"]


async def test_two_frames_are_swapped(ws_proxy: FaultProxy) -> None:
    toxic = WsReorder(count=1, match=b"f")
    ws_proxy.add(toxic)
    payloads = await frames_through(ws_proxy, 4, 4)
    assert payloads == [b"f1", b"f0", b"f2", b"f3"]
    assert toxic.affected == 1


async def test_probabilistic_drops_are_seeded(upstream: Upstream) -> None:
    patterns = []
    for _ in range(2):
        proxy = FaultProxy("127.0.0.1", upstream.port, seed=42, websocket=True)
        await proxy.start()
        proxy.add(WsDrop(probability=0.3))
        reader, writer = await connect(proxy)
        writer.write(b"frames 200")
        data = b""
        while chunk := await read_until_quiet(reader):
            data += chunk
        patterns.append(frame_payloads(data))
        writer.close()
        await proxy.stop()
    assert patterns[0] == patterns[1]
    assert 100 < len(patterns[0]) < 180
