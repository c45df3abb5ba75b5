"""A minimal HTTP/1.1 keep-alive client for order entry: the request is written before the call returns.

Why not aiohttp here: aiohttp writes a request from a task, so the bytes leave one event-loop turn
after the strategy decided, plus its per-request machinery. Order entry needs one thing done fast and
exactly: serialize, `transport.write`, and later parse one response. So:

- `Http1Pool` keeps a few warm connections to ONE origin (opened at `start()`, TCP_NODELAY, reopened
  in the background with backoff when one closes, idle ones recycled before the server's keep-alive
  timeout would close them under us). TLS: pass an `ssl.SSLContext` (an https:// URL gets the default
  context); the write is still synchronous once the handshake is done, which happens at connect.
- `request_now(...)` serializes the request and writes it on an idle connection before returning an
  `asyncio.Future[Response]`. One request in flight per connection (no pipelining).
- Responses: status line, headers, Content-Length, chunked, read-until-close; 1xx skipped;
  keep-alive by version and `Connection`. A connection that timed out, broke framing or sent bytes
  nobody asked for is closed, never reused: a late answer must not be read as the next one's.
- Speed: headers sent on every request can be checked and encoded once (`HeaderBlock`); the bytes
  are stamped `written_ns` right after `transport.write` returns; `warm()` runs the serialization
  without sending, for callers that keep the path in the CPU caches between rare orders.

Failure semantics (venues/_shared/errors.py); the line between the two is whether a byte was written:
- nothing written (no idle connection, pool closed)  -> `NotSent`, raised synchronously
- written, then timeout, connection lost, or a malformed response -> the future fails with
  `OutcomeUnknown` (the server may have acted on it)
Never retried, never resent: the caller decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl as ssl_module
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final, cast
from urllib.parse import urlsplit

import structlog

from tradestack.venues._shared.backoff import Backoff
from tradestack.venues._shared.errors import NotSent, OutcomeUnknown

log = structlog.get_logger(__name__)

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")  # no CR, LF, NUL or other controls
# A response header line: token, colon, optional whitespace, a value without CR/LF. No obs-fold.
_FIELD_LINE = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\r\n]*?)[ \t]*\r\n")
_FIELD_LINES = re.compile(rf"(?:{_FIELD_LINE.pattern})*")
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_NO_BODY_METHODS = frozenset({"GET", "HEAD"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_HEX = frozenset(b"0123456789abcdefABCDEF")
_CRLF: Final = b"\r\n"
_END_OF_HEAD: Final = b"\r\n\r\n"


class ProtocolError(Exception):
    """The server's bytes are not a valid HTTP/1.1 response."""


class Headers(Mapping[str, str]):
    """Response headers, looked up case-insensitively. A repeated field is joined with ", " (RFC 9110
    5.3), which is how a list-valued field such as Content-Length or Connection is read anyway."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, str] | None = None) -> None:
        self._fields = fields if fields is not None else {}  # lower-case name -> value

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()]

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self._fields.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    reason: str
    headers: Headers
    body: bytes
    version: str  # "1.1" or "1.0"


# --- response parsing ----------------------------------------------------------------------------------


class _Framing(Enum):
    NONE = 0
    LENGTH = 1
    CHUNKED = 2
    UNTIL_CLOSE = 3


class _State(Enum):
    HEAD = 0
    BODY = 1  # Content-Length or until close
    CHUNK_SIZE = 2
    CHUNK_DATA = 3
    CHUNK_END = 4  # the CRLF after a chunk's data
    TRAILERS = 5
    DONE = 6


class ResponseParser:
    """Incremental parser of ONE response. `feed` returns the response once complete; `finish` is
    called at EOF (a read-until-close body ends there; anything else incomplete is an error).

    After a complete response, `keep_alive` says whether the connection may carry another request and
    `leftover` holds bytes that followed it (a server that sends them is not trusted with another)."""

    __slots__ = (
        "_body",
        "_buffer",
        "_chunk_left",
        "_framing",
        "_head_request",
        "_headers",
        "_length_left",
        "_max_body",
        "_max_head",
        "_reason",
        "_state",
        "_status",
        "_version",
        "keep_alive",
        "leftover",
    )

    def __init__(self, head_request: bool = False, max_head: int = 64 * 1024, max_body: int = 16 << 20):
        self._head_request = head_request
        self._max_head = max_head
        self._max_body = max_body
        self._buffer = b""
        self._state = _State.HEAD
        self._status = 0
        self._reason = ""
        self._version = ""
        self._headers = Headers()
        self._framing = _Framing.NONE
        self._length_left = 0
        self._chunk_left = 0
        self._body = bytearray()
        self.keep_alive = False
        self.leftover = b""

    @property
    def started(self) -> bool:
        return bool(self._buffer) or self._state is not _State.HEAD

    def feed(self, data: bytes) -> Response | None:
        buffer = self._buffer + data if self._buffer else data
        self._buffer = b""
        position = 0
        while True:
            state = self._state
            if state is _State.HEAD:
                end = buffer.find(_END_OF_HEAD, position)
                if end < 0:
                    if len(buffer) - position > self._max_head:
                        raise ProtocolError("response head too large")
                    break
                self._head(buffer[position:end])
                position = end + 4
            elif state is _State.BODY:
                available = len(buffer) - position
                if self._framing is _Framing.UNTIL_CLOSE:
                    self._append(buffer[position:])
                    position = len(buffer)
                    break
                take = min(available, self._length_left)
                self._append(buffer[position : position + take])
                position += take
                self._length_left -= take
                if self._length_left:
                    break
                self._state = _State.DONE
            elif state is _State.CHUNK_SIZE:
                end = buffer.find(_CRLF, position)
                if end < 0:
                    if len(buffer) - position > 1024:
                        raise ProtocolError("chunk size line too long")
                    break
                size_text = buffer[position:end].split(b";", 1)[0].strip(b" \t")
                if not size_text or len(size_text) > 16 or not _HEX.issuperset(size_text):
                    raise ProtocolError(f"bad chunk size {size_text[:20]!r}")
                position = end + 2
                self._chunk_left = int(size_text, 16)
                self._state = _State.CHUNK_DATA if self._chunk_left else _State.TRAILERS
            elif state is _State.CHUNK_DATA:
                take = min(len(buffer) - position, self._chunk_left)
                self._append(buffer[position : position + take])
                position += take
                self._chunk_left -= take
                if self._chunk_left:
                    break
                self._state = _State.CHUNK_END
            elif state is _State.CHUNK_END:
                if len(buffer) - position < 2:
                    break
                if buffer[position : position + 2] != _CRLF:
                    raise ProtocolError("chunk data not followed by CRLF")
                position += 2
                self._state = _State.CHUNK_SIZE
            elif state is _State.TRAILERS:
                end = buffer.find(_CRLF, position)
                if end < 0:
                    if len(buffer) - position > self._max_head:
                        raise ProtocolError("trailers too large")
                    break
                line = buffer[position:end]
                position = end + 2
                if not line:
                    self._state = _State.DONE
                elif b":" not in line:
                    raise ProtocolError("malformed trailer field")
                # trailer fields are read and dropped: nothing we use travels there
            else:  # DONE
                self.leftover = buffer[position:]
                return self._response()
        self._buffer = buffer[position:]
        return None

    def finish(self) -> Response:
        """The server closed the connection: complete a read-until-close body, or fail."""
        if self._state is _State.BODY and self._framing is _Framing.UNTIL_CLOSE:
            self.keep_alive = False
            return self._response()
        if self._state is _State.DONE:
            return self._response()
        raise ProtocolError("connection closed before the response was complete")

    def _append(self, data: bytes) -> None:
        self._body += data
        if len(self._body) > self._max_body:
            raise ProtocolError("response body too large")

    def _response(self) -> Response:
        return Response(self._status, self._reason, self._headers, bytes(self._body), self._version)

    def _head(self, head: bytes) -> None:
        text = head.decode("latin-1")
        status_line, _, field_lines = text.partition("\r\n")
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not code.isdigit():
            raise ProtocolError(f"bad status line {status_line[:80]!r}")
        status = int(code)
        fields: dict[str, str] = {}
        if field_lines:
            field_lines += "\r\n"
            # One regex pass validates every line (token name, no folding, no bare CR/LF); a second
            # splits them. Both run in C: this is most of the cost of reading an order's answer.
            if not _FIELD_LINES.fullmatch(field_lines):
                bad = next(
                    line for line in field_lines.split("\r\n") if not _FIELD_LINES.fullmatch(line + "\r\n")
                )
                raise ProtocolError(f"malformed header line {bad[:80]!r}")
            for name, value in _FIELD_LINE.findall(field_lines):
                key = name.lower()
                fields[key] = f"{fields[key]}, {value}" if key in fields else value
        if 100 <= status < 200:
            if status == 101:
                raise ProtocolError("unexpected 101 Switching Protocols")
            return  # interim response (100 Continue, 103 Early Hints): the real one follows
        self._status = status
        self._reason = reason
        self._version = version[5:]
        headers = Headers(fields)
        self._headers = headers
        tokens = {t.strip().lower() for t in fields.get("connection", "").split(",")}
        self.keep_alive = "close" not in tokens if version == "HTTP/1.1" else "keep-alive" in tokens
        transfer = fields.get("transfer-encoding")
        length = fields.get("content-length")
        if self._head_request or status in (204, 304):
            self._framing = _Framing.NONE
            self._state = _State.DONE
        elif transfer is not None:
            if version != "HTTP/1.1":
                raise ProtocolError("Transfer-Encoding in an HTTP/1.0 response")
            codings = [c.strip().lower() for c in transfer.split(",")]
            if codings[-1] == "chunked":
                self._framing = _Framing.CHUNKED
                self._state = _State.CHUNK_SIZE
            else:
                self._framing = _Framing.UNTIL_CLOSE
                self._state = _State.BODY
            if length is not None:  # both: Transfer-Encoding wins, the connection must close
                self.keep_alive = False
        elif length is not None:
            values = {v.strip() for v in length.split(",")}
            if len(values) != 1:
                raise ProtocolError(f"conflicting Content-Length {length!r}")
            (text,) = values
            if not text.isdigit() or len(text) > 15:
                raise ProtocolError(f"bad Content-Length {length!r}")
            self._length_left = int(text)
            if self._length_left > self._max_body:
                raise ProtocolError("response body too large")
            self._framing = _Framing.LENGTH
            self._state = _State.BODY if self._length_left else _State.DONE
        else:
            self._framing = _Framing.UNTIL_CLOSE
            self._state = _State.BODY
        if self._framing is _Framing.UNTIL_CLOSE:
            self.keep_alive = False


# --- one connection ------------------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection carrying at most one request at a time."""

    def __init__(self, pool: Http1Pool) -> None:
        self._pool = pool
        self._loop = pool._loop
        self.transport: asyncio.Transport | None = None
        self.opened_at = 0.0
        self.idle_since = 0.0
        self.closed = False
        self.lost: asyncio.Future[None] = self._loop.create_future()
        self._parser: ResponseParser | None = None  # set while a request is in flight
        self._future: asyncio.Future[Response] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._what = ""

    # -- asyncio.Protocol ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)
        self.opened_at = self.idle_since = self._loop.time()
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # not a TCP socket (tests over other transports)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:
            # Bytes nobody asked for (e.g. a server's 408 before closing an idle connection):
            # this connection's framing can no longer be trusted.
            log.info("http1.unsolicited_data", origin=self._pool.origin, sample=data[:80])
            self._abort()
            return
        try:
            response = parser.feed(data)
        except ProtocolError as error:
            self._fail(f"malformed response: {error}")
            self._abort()
            return
        if response is not None:
            self._complete(response, parser.keep_alive and not parser.leftover)

    def eof_received(self) -> bool:
        parser = self._parser
        if parser is not None:
            try:
                response = parser.finish()
            except ProtocolError as error:
                self._fail(f"{error}")
            else:
                self._complete(response, False)
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(f"connection lost: {exc!r}" if exc else "connection closed by the server")
        if not self.lost.done():
            self.lost.set_result(None)
        self._pool._lost(self)

    # -- requests --------------------------------------------------------------------------------------
    @property
    def usable(self) -> bool:
        transport = self.transport
        return not self.closed and transport is not None and not transport.is_closing()

    def send(self, data: bytes, head_request: bool, timeout_s: float, what: str) -> asyncio.Future[Response]:
        transport = self.transport
        assert transport is not None and self._future is None
        pool = self._pool
        # Write first, then the bookkeeping: no callback can run before we return, so nothing is lost.
        try:
            transport.write(data)  # the point of this module: the bytes leave now
        except Exception as error:  # how much left is unknown: treat as sent
            pool.written_ns = pool.clock()
            self._future = future = self._loop.create_future()
            self._what = what
            self._fail(f"write failed: {error!r}")
            self._abort()
            return future
        pool.written_ns = pool.clock()
        self._future = future = self._loop.create_future()
        self._parser = ResponseParser(head_request)
        self._what = what
        self._timer = self._loop.call_at(self._loop.time() + timeout_s, self._timed_out, timeout_s)
        return future

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _complete(self, response: Response, reusable: bool) -> None:
        future = self._future
        self._reset()
        if future is not None and not future.done():  # the caller may have cancelled its wait
            future.set_result(response)
        if reusable and not self.closed:
            self.idle_since = self._loop.time()
            self._pool._released(self)
        else:
            self.close()

    def _fail(self, reason: str) -> None:
        future = self._future
        what = self._what
        self._reset()
        if future is not None and not future.done():
            future.set_exception(OutcomeUnknown(f"{what}: {reason} after the request was written"))

    def _reset(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._parser = None
        self._future = None

    def _timed_out(self, timeout_s: float) -> None:
        self._timer = None
        self._fail(f"no complete response within {timeout_s:g}s")
        self._abort()  # a late response must not be read as the answer to a later request

    def _abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


# --- the pool ------------------------------------------------------------------------------------------


class Http1Pool:
    """Warm HTTP/1.1 connections to one origin; see the module docstring. Build it on the running
    event loop it will be used from.

    >>> pool = Http1Pool("https://api.binance.com", size=4)
    >>> await pool.start()
    >>> future = pool.request_now("POST", "/api/v3/order?...", {"X-MBX-APIKEY": key})  # written
    >>> response = await future
    >>> await pool.close()
    """

    def __init__(
        self,
        url: str,
        *,
        size: int = 4,
        ssl: ssl_module.SSLContext | None = None,
        connect_timeout_s: float = 3.0,
        request_timeout_s: float = 10.0,
        idle_timeout_s: float = 30.0,
        default_headers: Mapping[str, str] | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """`clock` stamps `written_ns` (pass the caller's monotonic clock so the times compare)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"an http:// or https:// origin is required, got {url!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"give the origin only (no path or query): {url!r}")
        if size < 1:
            raise ValueError("size must be at least 1")
        default_port = 443 if parts.scheme == "https" else 80
        self.host = parts.hostname
        self.port = parts.port or default_port
        self.origin = f"{parts.scheme}://{parts.netloc}"
        if parts.scheme == "https":
            self._ssl: ssl_module.SSLContext | None = ssl or ssl_module.create_default_context()
        else:
            if ssl is not None:
                raise ValueError("an ssl context needs an https:// origin")
            self._ssl = None
        self.size = size
        self.connect_timeout_s = connect_timeout_s
        self.request_timeout_s = request_timeout_s
        self.idle_timeout_s = idle_timeout_s
        ascii_host = self.host.encode("idna").decode("ascii") if not self.host.isascii() else self.host
        host_header = f"[{ascii_host}]" if ":" in ascii_host else ascii_host
        if self.port != default_port:
            host_header = f"{host_header}:{self.port}"
        self._static = f"Host: {host_header}\r\n".encode("ascii") + _header_block(default_headers or {})
        # A connection that lived less than a second does not reset the reconnect backoff, so a
        # server that accepts and drops at once is not hammered.
        self._backoff = backoff or Backoff(0.05, 5.0, reset_after_s=1.0)
        self.clock = clock
        self.written_ns = 0  # `clock()` right after the last request_now's write returned
        self._loop = asyncio.get_running_loop()
        self._connections: set[_Connection] = set()  # open (idle or busy)
        self._idle: list[_Connection] = []
        self._connecting = 0
        self._wake = asyncio.Event()
        self._maintainer: asyncio.Task[None] | None = None
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> int:
        """Open the connections (concurrently, each bounded by the connect timeout) and keep them
        open from then on. Failures are logged and retried in the background. Returns how many opened."""
        if self._maintainer is None:
            self._closed = False
            await self._fill()
            self._maintainer = self._loop.create_task(self._maintain(), name=f"http1-pool {self.origin}")
        return len(self._idle)

    async def close(self) -> None:
        """Close every connection. A request still in flight fails with OutcomeUnknown."""
        self._closed = True
        if self._maintainer is not None:
            self._maintainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintainer
            self._maintainer = None
        connections = list(self._connections)
        self._idle.clear()
        for connection in connections:
            connection._fail("pool closed")
            connection.close()
        if connections:
            await asyncio.wait([c.lost for c in connections], timeout=2.0)

    async def __aenter__(self) -> Http1Pool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- state -----------------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Whether `request_now` would find an idle connection (drops ones found closing)."""
        idle = self._idle
        while idle and not idle[-1].usable:
            idle.pop()
        return bool(idle) and not self._closed

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def open(self) -> int:
        return len(self._connections)

    # -- the hot path ----------------------------------------------------------------------------------
    def request_now(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | HeaderBlock | None = None,
        body: bytes = b"",
        *,
        timeout_s: float | None = None,
    ) -> asyncio.Future[Response]:
        """Write the request on an idle connection before returning; the future gets the response.

        Raises NotSent (nothing written) when no idle connection is usable, ValueError for a request
        that cannot be serialized safely. The future fails with OutcomeUnknown when the request was
        written but no valid, complete response came back within the timeout."""
        data = self._serialize(method, target, headers, body)
        if self._closed:
            raise NotSent(f"{method} {self.origin}: connection pool closed")
        idle = self._idle
        while idle:
            connection = idle.pop()  # most recently used: its path is the warmest
            if connection.usable:
                return connection.send(
                    data,
                    method == "HEAD",
                    self.request_timeout_s if timeout_s is None else timeout_s,
                    f"{method} {target.partition('?')[0]}",
                )
        busy = len(self._connections)
        raise NotSent(
            f"{method} {self.origin}: no idle connection ({busy} busy, {self._connecting} connecting)"
        )

    def warm(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | HeaderBlock | None = None,
        body: bytes = b"",
    ) -> None:
        """Serialize a request and drop it: nothing is written or taken from the pool. Run from an
        idle timer, it keeps this code in the CPU caches for the next real request."""
        self._serialize(method, target, headers, body)

    def _serialize(
        self, method: str, target: str, headers: Mapping[str, str] | HeaderBlock | None, body: bytes
    ) -> bytes:
        # origin-form of visible ASCII only (no space, CR, LF or controls): nothing to smuggle
        if (
            target[:1] != "/"
            or not target.isascii()
            or not target.isprintable()
            or " " in target
            or (method not in _METHODS and not _TOKEN.fullmatch(method))
        ):
            raise ValueError(f"refusing to send an unsafe request line: {method!r} {target[:80]!r}")
        parts = [f"{method} {target} HTTP/1.1\r\n".encode("ascii"), self._static]
        if isinstance(headers, HeaderBlock):
            parts.append(headers.data)
        elif headers:
            parts.append(_header_block(headers))
        if body or method not in _NO_BODY_METHODS:
            parts.append(b"Content-Length: %d\r\n" % len(body))
        parts.append(_CRLF)
        if body:
            parts.append(body)
        return b"".join(parts)

    # -- connection bookkeeping ------------------------------------------------------------------------
    def _released(self, connection: _Connection) -> None:
        if self._closed:
            connection.close()
        else:
            self._idle.append(connection)

    def _lost(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        if connection in self._idle:
            self._idle.remove(connection)
        if connection.opened_at:
            self._backoff.connection_ended(int((self._loop.time() - connection.opened_at) * 1e9))
        self._wake.set()

    async def _connect(self) -> None:
        connection = _Connection(self)
        self._connecting += 1
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                await self._loop.create_connection(
                    lambda: connection,
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    ssl_handshake_timeout=self.connect_timeout_s if self._ssl is not None else None,
                )
        finally:
            self._connecting -= 1
        if self._closed:
            connection.close()
        elif connection.usable:
            self._connections.add(connection)
            self._idle.append(connection)

    async def _fill(self) -> bool:
        """Open connections up to `size`; True when every attempt succeeded."""
        missing = self.size - len(self._connections) - self._connecting
        if missing <= 0:
            return True
        results = await asyncio.gather(*(self._connect() for _ in range(missing)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            if isinstance(failure, asyncio.CancelledError):
                raise failure
        if failures:
            log.warning(
                "http1.connect_failed",
                origin=self.origin,
                failed=len(failures),
                open=len(self._connections),
                error=repr(failures[0]),
            )
        return not failures

    async def _maintain(self) -> None:
        check_every = max(0.05, min(1.0, self.idle_timeout_s / 4))
        while not self._closed:
            self._wake.clear()
            self._recycle_idle()
            if len(self._connections) + self._connecting < self.size:
                attempt = self._backoff.attempt
                delay = self._backoff.next_delay()
                if attempt:  # repeated trouble: wait; a first loss after healthy service: reopen at once
                    await asyncio.sleep(delay)
                await self._fill()
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(check_every):
                    await self._wake.wait()

    def _recycle_idle(self) -> None:
        # Close connections idle long enough that the server (or a load balancer) may close them
        # itself: a request racing that close would end OutcomeUnknown for nothing.
        limit = self._loop.time() - self.idle_timeout_s
        for connection in [c for c in self._idle if c.idle_since < limit]:
            self._idle.remove(connection)
            connection.close()


class HeaderBlock:
    """Request header fields checked and encoded once, for headers sent with every request."""

    __slots__ = ("data",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.data = _header_block(headers)


def _header_block(headers: Mapping[str, str]) -> bytes:
    lines = []
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise ValueError(f"refusing to send an unsafe header {name!r}")
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"{name} is set by the client itself")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")
