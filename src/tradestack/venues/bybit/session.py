"""Bybit v5's WebSocket dialect for the shared session: one URL per kind, `subscribe` ops, op pings.

Public (`/v5/public/spot`): streams are Bybit's topics ("orderbook.50.BTCUSDT", "publicTrade.BTCUSDT");
every connect subscribes to all of them again, at most 10 topics a request (Bybit's spot limit), and a
push is attributed to its topic from its leading `{"topic":"...` without parsing the rest.
Private (`/v5/private`): every connect sends `auth` (signed with a fresh expiry); the topic
subscription may only follow a successful auth, so the user stream sends it on the ack.
Keep-alive: protocol pings check the connection (the session's heartbeat), and `{"op":"ping"}` every
`APP_PING_S` keeps Bybit from closing a connection it thinks idle (its docs ask for one every 20 s).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Final

import msgspec

from tradestack.venues._shared.ws_session import WsSession
from tradestack.venues.bybit.auth import BybitSigner

PUBLIC_URL: Final = "wss://stream.bybit.com/v5/public/spot"
PRIVATE_URL: Final = "wss://stream.bybit.com/v5/private"
PING: Final = b'{"op":"ping"}'
APP_PING_S: Final = 20.0
MAX_TOPICS_PER_REQUEST: Final = 10
AUTH_VALID_MS: Final = 10_000

_TOPIC_PREFIX = b'{"topic":"'


def subscription(op: str, topics: Sequence[str]) -> list[bytes]:
    return [
        msgspec.json.encode({"op": op, "args": list(topics[start : start + MAX_TOPICS_PER_REQUEST])})
        for start in range(0, len(topics), MAX_TOPICS_PER_REQUEST)
    ]


def topic_of(payload: bytes) -> str | None:
    if not payload.startswith(_TOPIC_PREFIX):
        return None
    end = payload.find(b'"', len(_TOPIC_PREFIX))
    return None if end < 0 else payload[len(_TOPIC_PREFIX) : end].decode()


class PublicChannels:
    def __init__(self, url: str = PUBLIC_URL) -> None:
        self._url = url

    def url(self, streams: Sequence[str]) -> str:
        return self._url

    def subscribe_messages(self, streams: Sequence[str]) -> Sequence[bytes]:
        return subscription("subscribe", streams)

    def stream_of(self, payload: bytes) -> str | None:
        return topic_of(payload)


class PrivateChannels:
    def __init__(self, url: str, signer: BybitSigner, venue_time_ns: Callable[[], int]) -> None:
        self._url = url
        self._signer = signer
        self._venue_time_ns = venue_time_ns

    def url(self, streams: Sequence[str]) -> str:
        return self._url

    def subscribe_messages(self, streams: Sequence[str]) -> Sequence[bytes]:
        # auth first; Bybit refuses private subscriptions until it is acknowledged
        expires_ms = self._venue_time_ns() // 1_000_000 + AUTH_VALID_MS
        return [self._signer.websocket_auth(expires_ms)]

    def stream_of(self, payload: bytes) -> str | None:
        return topic_of(payload)


class AppPing:
    """Sends `{"op":"ping"}` on the session every `interval_s` while started (nothing when down)."""

    def __init__(self, session: WsSession, interval_s: float = APP_PING_S) -> None:
        self.session = session
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self.session.config.name}-app-ping")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            self.session.send(PING)
