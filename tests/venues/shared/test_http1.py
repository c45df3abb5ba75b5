"""The order-entry HTTP/1.1 client against real servers on 127.0.0.1.

Most servers are aiohttp (an implementation independent of ours); a few raw asyncio servers send the
byte sequences aiohttp would never produce (malformed responses, unsolicited bytes). What matters
most is the line between NotSent (nothing written, raised at once) and OutcomeUnknown (written, then
no complete answer): it decides whether an order may be sent again.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvloop
from aiohttp import web

from conftest import eventually
from tradestack.venues._shared.errors import NotSent, OutcomeUnknown
from tradestack.venues._shared.http1 import Headers, Http1Pool, ProtocolError, Response, ResponseParser

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Server:
    """An aiohttp server whose handler a test swaps; records each request's client port."""

    url: str = ""
    handler: Handler | None = None
    client_ports: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.client_ports.append(peer[1] if peer else -1)
        self.bodies.append(await request.read())
        if self.handler is not None:
            return await self.handler(request)
        return web.json_response({"path": request.path_qs, "method": request.method})


async def serve(server: Server, ssl_context: ssl.SSLContext | None = None) -> web.AppRunner:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    scheme = "https" if ssl_context else "http"
    server.url = f"{scheme}://127.0.0.1:{runner.addresses[0][1]}"
    return runner


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    fake = Server()
    runner = await serve(fake)
    yield fake
    fake.release.set()
    await runner.cleanup()


@pytest.fixture
async def pool_for() -> AsyncIterator[Callable[..., Http1Pool]]:
    pools: list[Http1Pool] = []

    def make(url: str, **options: object) -> Http1Pool:
        pool = Http1Pool(url, **options)  # type: ignore[arg-type]
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def raw_server(serve_connection: ConnectionHandler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(serve_connection, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


# --- requests and responses ---------------------------------------------------------------------------


async def test_requests_reuse_one_warm_connection(server: Server, pool_for: Callable[..., Http1Pool]) -> None:
    pool = pool_for(server.url, size=1)
    assert await pool.start() == 1
    async with asyncio.timeout(5):
        first = await pool.request_now("GET", "/api/v3/ping?x=1")
        second = await pool.request_now("POST", "/api/v3/order?symbol=BTCUSDT", {"X-Key": "k"})
        third = await pool.request_now("PUT", "/echo", body=b"payload")
    assert (first.status, first.version, first.reason) == (200, "1.1", "OK")
    assert first.body == b'{"path": "/api/v3/ping?x=1", "method": "GET"}'
    assert second.headers["content-type"].startswith("application/json")
    assert second.headers.get("CONTENT-TYPE") == second.headers["Content-Type"]
    assert third.status == 200
    assert server.bodies == [b"", b"", b"payload"]
    assert len(set(server.client_ports)) == 1  # keep-alive: one connection carried all three
    assert pool.idle == 1


async def test_the_connection_has_nodelay(server: Server, pool_for: Callable[..., Http1Pool]) -> None:
    pool = pool_for(server.url, size=2)
    await pool.start()
    for connection in pool._idle:
        assert connection.transport is not None
        sock = connection.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


async def test_chunked_bodies_are_reassembled(server: Server, pool_for: Callable[..., Http1Pool]) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b'{"orderId":', b"28", b',"status":"NEW"}'):
            await response.write(part)
            await asyncio.sleep(0.01)  # separate TCP segments: the parser resumes mid-body
        await response.write_eof()
        return response

    server.handler = chunked
    pool = pool_for(server.url, size=1)
    await pool.start()
    async with asyncio.timeout(5):
        response = await pool.request_now("GET", "/chunked")
        again = await pool.request_now("GET", "/chunked")
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.body == b'{"orderId":28,"status":"NEW"}'
    assert again.body == response.body
    assert len(set(server.client_ports)) == 1  # a chunked response keeps the connection


async def test_a_server_that_closes_after_the_response_is_replaced_in_the_background(
    server: Server, pool_for: Callable[..., Http1Pool]
) -> None:
    async def close_after(request: web.Request) -> web.StreamResponse:
        response = web.json_response({"closing": True})
        response.force_close()
        return response

    server.handler = close_after
    pool = pool_for(server.url, size=1)
    await pool.start()
    async with asyncio.timeout(5):
        response = await pool.request_now("POST", "/api/v3/order")
    assert response.headers["connection"] == "close"
    assert response.body == b'{"closing": true}'
    with pytest.raises(NotSent):  # the only connection is gone until the pool reopens one
        pool.request_now("POST", "/api/v3/order")
    await eventually(lambda: pool.ready, timeout=5)
    server.handler = None
    async with asyncio.timeout(5):
        await pool.request_now("GET", "/again")
    assert server.client_ports[0] != server.client_ports[1]  # a fresh connection


async def test_a_server_that_hangs_is_outcome_unknown_after_the_timeout(
    server: Server, pool_for: Callable[..., Http1Pool]
) -> None:
    async def hang(request: web.Request) -> web.Response:
        await server.release.wait()
        return web.json_response({})

    server.handler = hang
    pool = pool_for(server.url, size=1, request_timeout_s=0.2)
    await pool.start()
    future = pool.request_now("POST", "/api/v3/order")
    async with asyncio.timeout(5):
        with pytest.raises(OutcomeUnknown, match=r"no complete response within 0\.2s"):
            await future
    assert len(server.client_ports) == 1  # never resent
    # The timed-out connection is not reused (its late answer could be read as the next one's).
    await eventually(lambda: pool.ready, timeout=5)
    server.handler = None
    async with asyncio.timeout(5):
        await pool.request_now("GET", "/after")
    assert server.client_ports[0] != server.client_ports[-1]


async def test_a_reset_after_the_request_was_read_is_outcome_unknown(
    server: Server, pool_for: Callable[..., Http1Pool]
) -> None:
    async def reset(request: web.Request) -> web.Response:
        transport = request.transport
        assert transport is not None
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close -> RST
        transport.abort()
        await server.release.wait()
        return web.json_response({})

    server.handler = reset
    pool = pool_for(server.url, size=1)
    await pool.start()
    async with asyncio.timeout(5):
        with pytest.raises(OutcomeUnknown, match="after the request was written"):
            await pool.request_now("POST", "/api/v3/order?newClientOrderId=c-1")
    assert len(server.client_ports) == 1


async def test_nothing_listening_is_not_sent_synchronously(pool_for: Callable[..., Http1Pool]) -> None:
    pool = pool_for(f"http://127.0.0.1:{free_port()}", size=2, connect_timeout_s=1.0)
    async with asyncio.timeout(5):
        assert await pool.start() == 0  # start does not fail: the pool keeps trying
    assert not pool.ready
    with pytest.raises(NotSent, match="no idle connection"):
        pool.request_now("POST", "/api/v3/order")


async def test_one_request_per_connection_and_none_after_close(
    server: Server, pool_for: Callable[..., Http1Pool]
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return web.json_response({})

    server.handler = slow
    pool = pool_for(server.url, size=1)
    await pool.start()
    pending = pool.request_now("GET", "/slow")
    with pytest.raises(NotSent):  # no pipelining: the one connection is busy
        pool.request_now("GET", "/slow")
    async with asyncio.timeout(5):
        await pending
    in_flight = pool.request_now("GET", "/slow")
    await pool.close()
    with pytest.raises(OutcomeUnknown, match="pool closed"):
        await in_flight
    with pytest.raises(NotSent, match="closed"):
        pool.request_now("GET", "/slow")


async def test_the_request_is_on_the_wire_before_request_now_returns(
    pool_for: Callable[..., Http1Pool],
) -> None:
    # A blocking server in a thread: it can see our bytes while the event loop never turns.
    listener = socket.create_server(("127.0.0.1", 0))
    received = bytearray()
    got_request = threading.Event()

    def accept_and_read() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(5)
            while b"\r\n\r\n" not in received:
                data = connection.recv(4096)
                if not data:
                    break
                received.extend(data)
            got_request.set()
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            connection.recv(1)  # until the client closes

    thread = threading.Thread(target=accept_and_read, daemon=True)
    thread.start()
    try:
        pool = pool_for(f"http://127.0.0.1:{listener.getsockname()[1]}", size=1)
        await pool.start()
        future = pool.request_now("POST", "/api/v3/order?a=1", {"X-MBX-APIKEY": "key"})
        assert got_request.wait(5)  # blocks this thread: no loop turn happened since the call
        head = bytes(received)
        assert head.startswith(b"POST /api/v3/order?a=1 HTTP/1.1\r\nHost: 127.0.0.1:")
        assert b"\r\nX-MBX-APIKEY: key\r\nContent-Length: 0\r\n\r\n" in head
        assert pool.written_ns > 0
        async with asyncio.timeout(5):
            assert (await future).body == b"ok"
        await pool.close()
    finally:
        listener.close()
        thread.join(5)


async def test_unsafe_requests_are_refused_before_anything_is_written(
    server: Server, pool_for: Callable[..., Http1Pool]
) -> None:
    pool = pool_for(server.url, size=1)
    await pool.start()
    for method, target, headers in [
        ("POST", "/order?a=1\r\nX-Injected: 1", {}),
        ("POST", "/order a", {}),
        ("POST", "http://elsewhere/", {}),
        ("PO ST", "/order", {}),
        ("POST", "/order", {"X-Key": "a\r\nX-Injected: 1"}),
        ("POST", "/order", {"Bad Name": "v"}),
        ("POST", "/order", {"Content-Length": "5"}),
        ("POST", "/order", {"Host": "elsewhere"}),
    ]:
        with pytest.raises(ValueError, match=r"unsafe|set by the client"):
            pool.request_now(method, target, headers)
    assert pool.idle == 1  # nothing was taken, nothing was written
    await asyncio.sleep(0.05)
    assert server.client_ports == []


async def test_unsolicited_bytes_on_an_idle_connection_drop_it(pool_for: Callable[..., Http1Pool]) -> None:
    writers: list[asyncio.StreamWriter] = []

    async def keep(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read()  # until the client closes
        writer.close()

    raw, url = await raw_server(keep)
    try:
        pool = pool_for(url, size=1)
        await pool.start()
        await eventually(lambda: len(writers) == 1)
        writers[0].write(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        await eventually(lambda: len(writers) == 2)  # dropped and replaced
        await eventually(lambda: pool.ready)
    finally:
        for writer in writers:
            writer.close()
        raw.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 11\r\n\r\n0123456789",
        b"HTTP/1.1 2xx OK\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234",  # then the server closes
    ],
    ids=["conflicting-length", "bad-status", "not-http", "bad-chunk", "truncated"],
)
async def test_a_malformed_or_truncated_answer_is_outcome_unknown(
    pool_for: Callable[..., Http1Pool], answer: bytes
) -> None:
    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    raw, url = await raw_server(respond)
    try:
        pool = pool_for(url, size=1)
        await pool.start()
        async with asyncio.timeout(5):
            with pytest.raises(OutcomeUnknown):
                await pool.request_now("POST", "/api/v3/order")
    finally:
        raw.close()


async def test_idle_connections_are_recycled_before_the_server_drops_them(
    server: Server, pool_for: Callable[..., Http1Pool]
) -> None:
    pool = pool_for(server.url, size=1, idle_timeout_s=0.2)
    await pool.start()
    async with asyncio.timeout(5):
        await pool.request_now("GET", "/first")
    first = pool._idle[0]
    await eventually(lambda: pool.ready and pool._idle[0] is not first, timeout=5)
    async with asyncio.timeout(5):
        await pool.request_now("GET", "/second")
    assert server.client_ports[0] != server.client_ports[1]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


async def test_tls_origins_work_with_a_context(tmp_path: Path, pool_for: Callable[..., Http1Pool]) -> None:
    try:
        cert, key = _self_signed(tmp_path)
    except (FileNotFoundError, subprocess.CalledProcessError) as error:
        pytest.skip(f"openssl cannot make a test certificate: {error}")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    fake = Server()
    runner = await serve(fake, server_context)
    try:
        client_context = ssl.create_default_context(cafile=str(cert))
        pool = pool_for(fake.url, size=1, ssl=client_context)
        assert await pool.start() == 1
        async with asyncio.timeout(5):
            first = await pool.request_now("POST", "/api/v3/order?x=1")
            second = await pool.request_now("GET", "/api/v3/ping")
        assert first.body == b'{"path": "/api/v3/order?x=1", "method": "POST"}'
        assert second.status == 200
        assert len(set(fake.client_ports)) == 1
        untrusted = pool_for(fake.url, size=1, connect_timeout_s=1.0)  # default context: not trusted
        assert await untrusted.start() == 0
    finally:
        await runner.cleanup()


def test_the_pool_works_on_uvloop() -> None:
    # uvloop's transports are not asyncio's classes; the trading process runs on uvloop.
    async def scenario() -> Response:
        fake = Server()
        runner = await serve(fake)
        pool = Http1Pool(fake.url, size=2)
        try:
            await pool.start()
            async with asyncio.timeout(5):
                await pool.request_now("GET", "/one")
                return await pool.request_now("POST", "/two", {"X-Key": "k"})
        finally:
            await pool.close()
            await runner.cleanup()

    response = uvloop.run(scenario())
    assert response.body == b'{"path": "/two", "method": "POST"}'


def test_origin_urls_are_checked() -> None:
    async def build(url: str, context: ssl.SSLContext | None = None) -> Http1Pool:
        return Http1Pool(url, ssl=context)

    for url in ("ftp://host", "http://host/api", "http://host?x=1", "http://"):
        with pytest.raises(ValueError, match="origin"):
            asyncio.run(build(url))
    with pytest.raises(ValueError, match="https"):
        asyncio.run(build("http://host", ssl.create_default_context()))
    assert asyncio.run(build("https://api.binance.com")).port == 443


# --- the response parser on its own -------------------------------------------------------------------


def feed_bytewise(parser: ResponseParser, data: bytes) -> Response | None:
    result = None
    for index in range(len(data)):
        result = parser.feed(data[index : index + 1])
        if result is not None:
            assert index == len(data) - 1, "complete before the end"
    return result


CHUNKED = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n"
    b"5;ext=1\r\nhello\r\n1A\r\n abcdefghijklmnopqrstuvwxy\r\n0\r\nX-Trailer: t\r\n\r\n"
)


@pytest.mark.parametrize("split", ["whole", "bytewise"])
def test_the_parser_reads_chunked_bodies_split_anywhere(split: str) -> None:
    parser = ResponseParser()
    response = parser.feed(CHUNKED) if split == "whole" else feed_bytewise(parser, CHUNKED)
    assert response is not None
    assert response.body == b"hello abcdefghijklmnopqrstuvwxy"
    assert response.headers["X-A"] == "1, 2"  # repeated fields joined
    assert parser.keep_alive and parser.leftover == b""


def test_the_parser_follows_keep_alive_rules() -> None:
    cases = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, close\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.1 204 No Content\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", False),
    ]
    for raw, keep_alive in cases:
        parser = ResponseParser()
        assert parser.feed(raw) is not None, raw
        assert parser.keep_alive is keep_alive, raw


def test_a_body_without_length_ends_at_close() -> None:
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.1 200 OK\r\n\r\nsome") is None
    assert parser.feed(b" body") is None
    response = parser.finish()
    assert response.body == b"some body"
    assert not parser.keep_alive


def test_bytes_after_a_response_are_reported() -> None:
    parser = ResponseParser()
    response = parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1")
    assert response is not None and response.body == b"ok"
    assert parser.leftover == b"HTTP/1.1"


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
    ],
)
def test_the_parser_rejects_what_it_cannot_frame(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        ResponseParser().feed(raw)


def test_the_parser_bounds_sizes() -> None:
    with pytest.raises(ProtocolError, match="head too large"):
        ResponseParser(max_head=100).feed(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 50)
    with pytest.raises(ProtocolError, match="too large"):
        ResponseParser(max_body=10).feed(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n")
    with pytest.raises(ProtocolError, match="before the response was complete"):
        ResponseParser().finish()


def test_headers_are_case_insensitive() -> None:
    headers = Headers({"x-mbx-used-weight-1m": "7"})
    assert headers["X-MBX-USED-WEIGHT-1M"] == "7"
    assert headers.get("X-Mbx-Used-Weight-1m") == "7"
    assert "X-MBX-USED-WEIGHT-1M" in headers
    assert headers.get("missing") is None
    assert list(headers) == ["x-mbx-used-weight-1m"]
