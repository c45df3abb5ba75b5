"""The resilient WebSocket session against a scripted WebSocket venue on 127.0.0.1.

The venue is an aiohttp WebSocket server (a different implementation from the picows client).
Each connection follows a `Behaviour` chosen by the test: which streams it publishes, whether it
answers pings, and how it ends.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import msgspec
import pytest
from aiohttp import WSMsgType, web

from conftest import eventually
from tradestack.ports import Clock, ManualClock, SystemClock
from tradestack.venues._shared.backoff import Backoff
from tradestack.venues._shared.ws_session import (
    DisconnectReason,
    Reconnected,
    SessionConfig,
    SessionState,
    StreamSpec,
    WsSession,
)

# --- a Binance-style dialect: bare /ws endpoint, SUBSCRIBE frames, combined-stream envelopes ---------

_ENVELOPE = b'{"stream":"'


class SubscribeDialect:
    def __init__(self, url: str) -> None:
        self.endpoint = url
        self._next_id = 0

    def url(self, streams: Sequence[str]) -> str:
        return self.endpoint

    def subscribe_messages(self, streams: Sequence[str]) -> Sequence[bytes]:
        self._next_id += 1
        return [msgspec.json.encode({"method": "SUBSCRIBE", "params": list(streams), "id": self._next_id})]

    def stream_of(self, payload: bytes) -> str | None:
        if not payload.startswith(_ENVELOPE):
            return None
        return payload[len(_ENVELOPE) : payload.find(b'"', len(_ENVELOPE))].decode()


# --- the scripted venue ----------------------------------------------------------------------------


@dataclass
class Behaviour:
    publish: set[str] | None = None  # None: every subscribed stream
    interval_s: float = 0.01
    answer_pings: bool = True
    abort_after: int | None = None  # drop TCP without a close frame after this many frames
    close_after: int | None = None  # send a close frame after this many frames
    send_ping: bool = False


@dataclass
class ServerConnection:
    subscriptions: list[list[str]] = field(default_factory=list)
    pongs: int = 0
    pings_ignored: int = 0


class ScriptedVenue:
    def __init__(self, behaviours: Callable[[int], Behaviour]) -> None:
        self.behaviours = behaviours
        self.connections: list[ServerConnection] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"ws://127.0.0.1:{port}/ws"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        behaviour = self.behaviours(len(self.connections))
        conn = ServerConnection()
        self.connections.append(conn)
        ws = web.WebSocketResponse(autoping=behaviour.answer_pings)
        await ws.prepare(request)
        publisher: asyncio.Task[None] | None = None
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                request_body = msgspec.json.decode(message.data)
                conn.subscriptions.append(request_body["params"])
                await ws.send_str(msgspec.json.encode({"result": None, "id": request_body["id"]}).decode())
                if publisher is None:
                    publisher = asyncio.create_task(self._publish(ws, request, conn, behaviour))
            elif message.type is WSMsgType.PING:
                conn.pings_ignored += 1  # only delivered here when autoping is off
            elif message.type is WSMsgType.PONG:
                conn.pongs += 1
        if publisher is not None:
            publisher.cancel()
            await asyncio.gather(publisher, return_exceptions=True)
        return ws

    async def _publish(
        self, ws: web.WebSocketResponse, request: web.Request, conn: ServerConnection, behaviour: Behaviour
    ) -> None:
        sequence = 0
        if behaviour.send_ping:
            await ws.ping(b"venue")
        while not ws.closed:
            streams = [s for batch in conn.subscriptions for s in batch]
            for stream in streams:
                if behaviour.publish is None or stream in behaviour.publish:
                    sequence += 1
                    await ws.send_str(f'{{"stream":"{stream}","data":{{"u":{sequence}}}}}')
            if behaviour.abort_after is not None and sequence >= behaviour.abort_after:
                assert request.transport is not None
                request.transport.abort()
                return
            if behaviour.close_after is not None and sequence >= behaviour.close_after:
                await ws.close(message=b"maintenance")
                return
            await asyncio.sleep(behaviour.interval_s)


@pytest.fixture
async def venue_factory() -> AsyncIterator[Callable[[Callable[[int], Behaviour]], ScriptedVenue]]:
    venues: list[ScriptedVenue] = []

    def make(behaviours: Callable[[int], Behaviour]) -> ScriptedVenue:
        venue = ScriptedVenue(behaviours)
        venues.append(venue)
        return venue

    yield make
    for venue in venues:
        await venue.close()


# --- a recording consumer ----------------------------------------------------------------------------


@dataclass
class Recorder:
    frames: list[tuple[bytes, int]] = field(default_factory=list)
    connected: int = 0
    disconnected: list[DisconnectReason] = field(default_factory=list)
    reconnected: list[Reconnected] = field(default_factory=list)

    def on_frame(self, payload: bytes, ts_recv_ns: int) -> None:
        self.frames.append((payload, ts_recv_ns))

    def on_connected(self) -> None:
        self.connected += 1

    def data_frames(self) -> list[bytes]:
        return [payload for payload, _ in self.frames if payload.startswith(_ENVELOPE)]


def make_session(
    url: str,
    streams: Sequence[StreamSpec],
    recorder: Recorder,
    *,
    clock: Clock | None = None,
    ping_idle_s: float = 5.0,
    pong_timeout_s: float = 5.0,
    dialect: SubscribeDialect | None = None,
) -> WsSession:
    return WsSession(
        dialect or SubscribeDialect(url),
        streams,
        recorder.on_frame,
        clock=clock or SystemClock(),
        backoff=Backoff(base_s=0.01, cap_s=0.05, rng=random.Random(7)),
        config=SessionConfig(
            name="test", ping_idle_s=ping_idle_s, pong_timeout_s=pong_timeout_s, staleness_check_s=0.02
        ),
        on_connected=recorder.on_connected,
        on_disconnected=recorder.disconnected.append,
        on_reconnected=recorder.reconnected.append,
    )


def refused_url() -> str:
    """A loopback port with nothing listening: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"ws://127.0.0.1:{port}/ws"


# --- tests ---------------------------------------------------------------------------------------------


async def test_receives_frames_with_monotonic_receive_times(
    venue_factory: Callable[..., ScriptedVenue],
) -> None:
    venue = venue_factory(lambda n: Behaviour())
    await venue.start()
    recorder = Recorder()
    session = make_session(venue.url, [StreamSpec("btcusdt@trade"), StreamSpec("btcusdt@depth")], recorder)
    assert session.state is SessionState.STOPPED

    await session.start()
    async with asyncio.timeout(5):
        await session.wait_running()
    await eventually(lambda: len(recorder.data_frames()) >= 10)
    await session.stop()

    assert venue.connections[0].subscriptions == [["btcusdt@trade", "btcusdt@depth"]]
    assert recorder.frames[0][0] == b'{"result":null,"id":1}'  # the venue's SUBSCRIBE ack, passed through
    assert recorder.data_frames()[0] == b'{"stream":"btcusdt@trade","data":{"u":1}}'
    times = [ts for _, ts in recorder.frames]
    assert times == sorted(times)
    assert abs(times[-1] - time.monotonic_ns()) < 5_000_000_000  # SystemClock: monotonic nanoseconds
    counters = session.counters()
    assert counters.frames_received == len(recorder.frames)
    assert counters.bytes_received == sum(len(payload) for payload, _ in recorder.frames)
    assert counters.connections == 1
    assert counters.reconnects == {}
    assert recorder.connected == 1
    assert recorder.disconnected == [DisconnectReason.STOPPED]
    assert session.state is SessionState.STOPPED


async def test_abrupt_drop_reconnects_with_backoff_and_replays_subscriptions(
    venue_factory: Callable[..., ScriptedVenue],
) -> None:
    venue = venue_factory(lambda n: Behaviour(abort_after=3) if n == 0 else Behaviour())
    await venue.start()
    recorder = Recorder()
    session = make_session(venue.url, [StreamSpec("btcusdt@trade"), StreamSpec("ethusdt@trade")], recorder)

    await session.start()
    await eventually(lambda: len(recorder.reconnected) == 1 and len(recorder.data_frames()) > 6)
    await session.stop()

    first, second = venue.connections[0], venue.connections[1]
    assert second.subscriptions == first.subscriptions == [["btcusdt@trade", "ethusdt@trade"]]
    assert recorder.disconnected[0] is DisconnectReason.CLOSED
    signal = recorder.reconnected[0]
    assert signal.reason is DisconnectReason.CLOSED
    assert signal.connection == 2
    assert 0 <= signal.down_ns < 5_000_000_000
    assert session.counters().reconnects == {"closed": 1}
    assert recorder.connected == 2


async def test_close_frame_from_the_venue_is_reported_as_server_close(
    venue_factory: Callable[..., ScriptedVenue],
) -> None:
    venue = venue_factory(lambda n: Behaviour(close_after=2) if n == 0 else Behaviour())
    await venue.start()
    recorder = Recorder()
    session = make_session(venue.url, [StreamSpec("btcusdt@trade")], recorder)

    await session.start()
    await eventually(lambda: len(recorder.reconnected) == 1)
    await session.stop()

    assert recorder.reconnected[0].reason is DisconnectReason.SERVER_CLOSE
    assert session.counters().reconnects == {"server_close": 1}


async def test_a_silent_stream_is_stale_within_its_bound_while_others_flow(
    venue_factory: Callable[..., ScriptedVenue],
) -> None:
    # The first connection keeps publishing the trade stream but never the depth stream.
    venue = venue_factory(lambda n: Behaviour(publish={"btcusdt@trade"}) if n == 0 else Behaviour())
    await venue.start()
    bound_s = 0.3
    moments: dict[str, float] = {}

    def note(moment: str) -> None:
        moments.setdefault(moment, time.monotonic())  # the first of each

    recorder = Recorder()
    session = WsSession(
        SubscribeDialect(venue.url),
        [
            StreamSpec("btcusdt@trade", stale_after_s=bound_s),
            StreamSpec("btcusdt@depth", stale_after_s=bound_s),
        ],
        recorder.on_frame,
        clock=SystemClock(),  # the same monotonic clock as time.monotonic() below
        backoff=Backoff(base_s=0.01, cap_s=0.05, rng=random.Random(7)),
        config=SessionConfig(name="test", staleness_check_s=0.02),
        on_connected=lambda: note("connected"),
        on_disconnected=note,
        on_reconnected=recorder.reconnected.append,
    )
    await session.start()
    await eventually(lambda: len(recorder.reconnected) == 1)
    await session.stop()

    detected_after = moments[DisconnectReason.STALE] - moments["connected"]
    # The bound, plus one check interval and scheduling slack on a shared machine.
    assert bound_s - 0.01 <= detected_after < bound_s + 1.0
    assert session.counters().stale_streams == {"btcusdt@depth": 1}
    assert recorder.reconnected[0].reason is DisconnectReason.STALE
    assert venue.connections[1].subscriptions == [["btcusdt@trade", "btcusdt@depth"]]


async def test_staleness_follows_the_injected_clock(venue_factory: Callable[..., ScriptedVenue]) -> None:
    # A venue that subscribes but never publishes, while answering pings: only staleness can tell.
    venue = venue_factory(lambda n: Behaviour(publish=set()))
    await venue.start()
    recorder = Recorder()
    clock = ManualClock()
    session = make_session(
        venue.url, [StreamSpec("btcusdt@trade", stale_after_s=10.0)], recorder, clock=clock
    )
    await session.start()
    async with asyncio.timeout(5):
        await session.wait_running()

    # Real time passing does not make the stream stale; only the session's clock counts.
    # (Proving that nothing happens needs some real time to pass: several check intervals.)
    await asyncio.sleep(0.2)
    assert session.state is SessionState.RUNNING
    clock.advance(9_000_000_000)
    await asyncio.sleep(0.1)
    assert recorder.disconnected == []

    clock.advance(2_000_000_000)
    await eventually(lambda: recorder.disconnected == [DisconnectReason.STALE])
    await session.stop()
    assert session.counters().stale_streams == {"btcusdt@trade": 1}


async def test_unanswered_pings_end_the_connection_as_pong_timeout(
    venue_factory: Callable[..., ScriptedVenue],
) -> None:
    venue = venue_factory(lambda n: Behaviour(publish=set(), answer_pings=False) if n == 0 else Behaviour())
    await venue.start()
    recorder = Recorder()
    session = make_session(
        venue.url, [StreamSpec("btcusdt@trade")], recorder, ping_idle_s=0.2, pong_timeout_s=0.2
    )
    await session.start()
    await eventually(lambda: len(recorder.reconnected) == 1)
    await session.stop()

    assert venue.connections[0].pings_ignored >= 1
    assert recorder.disconnected[0] is DisconnectReason.PONG_TIMEOUT
    assert session.counters().reconnects == {"pong_timeout": 1}


async def test_venue_pings_are_answered(venue_factory: Callable[..., ScriptedVenue]) -> None:
    venue = venue_factory(lambda n: Behaviour(answer_pings=False, send_ping=True))
    await venue.start()
    recorder = Recorder()
    session = make_session(venue.url, [StreamSpec("btcusdt@trade")], recorder)
    await session.start()
    await eventually(lambda: venue.connections != [] and venue.connections[0].pongs == 1)
    await session.stop()
    assert recorder.disconnected == [DisconnectReason.STOPPED]


async def test_failed_connects_back_off_until_the_venue_appears(
    venue_factory: Callable[..., ScriptedVenue],
) -> None:
    venue = venue_factory(lambda n: Behaviour())
    recorder = Recorder()
    dialect = SubscribeDialect(refused_url())
    session = make_session("", [StreamSpec("btcusdt@trade")], recorder, dialect=dialect)
    await session.start()
    await eventually(lambda: session.counters().reconnects.get("error", 0) >= 2)
    assert session.state is SessionState.STARTING  # never connected yet

    await venue.start()
    dialect.endpoint = venue.url  # the URL is asked for again on every attempt
    async with asyncio.timeout(5):
        await session.wait_running()
    await session.stop()

    assert recorder.reconnected == []  # the first successful connection is not a reconnect
    assert recorder.disconnected == [DisconnectReason.STOPPED]


async def test_a_raising_frame_handler_is_an_error_and_reconnects(
    venue_factory: Callable[..., ScriptedVenue],
) -> None:
    venue = venue_factory(lambda n: Behaviour())
    await venue.start()
    recorder = Recorder()
    failures = [True]

    def on_frame(payload: bytes, ts_recv_ns: int) -> None:
        if payload.startswith(_ENVELOPE) and failures:
            failures.pop()
            raise ValueError("parser bug")
        recorder.on_frame(payload, ts_recv_ns)

    session = WsSession(
        SubscribeDialect(venue.url),
        [StreamSpec("btcusdt@trade")],
        on_frame,
        clock=SystemClock(),
        backoff=Backoff(base_s=0.01, cap_s=0.05, rng=random.Random(7)),
        config=SessionConfig(name="test"),
        on_reconnected=recorder.reconnected.append,
    )
    await session.start()
    await eventually(lambda: len(recorder.reconnected) == 1)
    await session.stop()
    assert recorder.reconnected[0].reason is DisconnectReason.ERROR


async def test_subscribing_while_running_sends_now_and_replays_later(
    venue_factory: Callable[..., ScriptedVenue],
) -> None:
    venue = venue_factory(lambda n: Behaviour(abort_after=20) if n == 0 else Behaviour())
    await venue.start()
    recorder = Recorder()
    session = make_session(venue.url, [StreamSpec("btcusdt@trade")], recorder)
    await session.start()
    async with asyncio.timeout(5):
        await session.wait_running()
    session.subscribe([StreamSpec("ethusdt@trade")])
    await eventually(lambda: len(recorder.reconnected) == 1 and len(venue.connections[1].subscriptions) == 1)
    await session.stop()

    assert venue.connections[0].subscriptions == [["btcusdt@trade"], ["ethusdt@trade"]]
    assert venue.connections[1].subscriptions == [["btcusdt@trade", "ethusdt@trade"]]
    assert session.streams == ("btcusdt@trade", "ethusdt@trade")


async def test_stop_leaves_no_tasks_running(venue_factory: Callable[..., ScriptedVenue]) -> None:
    venue = venue_factory(lambda n: Behaviour())
    await venue.start()
    before = asyncio.all_tasks()
    session = make_session(
        venue.url,
        [StreamSpec("btcusdt@trade", stale_after_s=5)],
        Recorder(),
        ping_idle_s=0.5,
        pong_timeout_s=0.5,
    )
    await session.start()
    async with asyncio.timeout(5):
        await session.wait_running()

    await session.stop()

    assert asyncio.all_tasks() == before
    assert session.state is SessionState.STOPPED
    await session.stop()  # idempotent


async def test_stop_during_backoff_returns_promptly_without_tasks() -> None:
    before = asyncio.all_tasks()
    session = WsSession(
        SubscribeDialect(refused_url()),
        [StreamSpec("btcusdt@trade")],
        Recorder().on_frame,
        clock=SystemClock(),
        backoff=Backoff(base_s=30, cap_s=30, rng=random.Random(1)),
        config=SessionConfig(name="test"),
    )
    await session.start()
    await eventually(lambda: session.counters().reconnects.get("error", 0) == 1)
    started = time.monotonic()
    await session.stop()
    assert time.monotonic() - started < 1.0
    assert asyncio.all_tasks() == before
