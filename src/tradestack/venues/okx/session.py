"""OKX's WebSocket dialect for the shared session: one URL per kind, `subscribe` ops, text ping.

Public (`/ws/v5/public`): streams are named `<channel>:<instId>` ("books:BTC-USDT"); every connect
sends one `subscribe` op with all of them, and a push is attributed to its stream from its leading
`{"arg":{"channel":"books","instId":"BTC-USDT"}` without parsing the rest.
Private (`/ws/v5/private`): every connect sends the `login` op (signed with a fresh timestamp); the
`orders` subscription may only follow a successful login, so the user stream sends it on the ack.
Keep-alive: OKX closes a connection silent for 30 s; the session sends the text `ping` when nothing
arrived for `ping_idle_s` (< 30 s) and takes the text `pong` as the answer (SessionConfig.text_ping).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import msgspec

from tradestack.venues.okx.auth import OkxSigner, websocket_timestamp

PUBLIC_URL: Final = "wss://ws.okx.com:8443/ws/v5/public"
PRIVATE_URL: Final = "wss://ws.okx.com:8443/ws/v5/private"
PING: Final = b"ping"
PONG: Final = b"pong"

_PUSH_PREFIX = b'{"arg":{"channel":"'
_INST = b',"instId":"'


def stream_name(channel: str, inst_id: str) -> str:
    return f"{channel}:{inst_id}"


def subscription(op: str, streams: Sequence[str]) -> bytes:
    args = []
    for name in streams:
        channel, _, inst_id = name.partition(":")
        args.append({"channel": channel, "instId": inst_id})
    return msgspec.json.encode({"op": op, "args": args})


class PublicChannels:
    def __init__(self, url: str = PUBLIC_URL) -> None:
        self._url = url

    def url(self, streams: Sequence[str]) -> str:
        return self._url

    def subscribe_messages(self, streams: Sequence[str]) -> Sequence[bytes]:
        return [subscription("subscribe", streams)] if streams else []

    def stream_of(self, payload: bytes) -> str | None:
        if not payload.startswith(_PUSH_PREFIX):
            return None
        start = len(_PUSH_PREFIX)
        end = payload.find(b'"', start)
        if end < 0 or not payload.startswith(_INST, end + 1):
            return None
        inst_start = end + 1 + len(_INST)
        inst_end = payload.find(b'"', inst_start)
        if inst_end < 0:
            return None
        return f"{payload[start:end].decode()}:{payload[inst_start:inst_end].decode()}"


class PrivateChannels:
    def __init__(self, url: str, signer: OkxSigner, venue_time_ns: Callable[[], int]) -> None:
        self._url = url
        self._signer = signer
        self._venue_time_ns = venue_time_ns

    def url(self, streams: Sequence[str]) -> str:
        return self._url

    def subscribe_messages(self, streams: Sequence[str]) -> Sequence[bytes]:
        # login first; OKX refuses private subscriptions until the login is acknowledged
        return [self._signer.websocket_login(websocket_timestamp(self._venue_time_ns()))]

    def stream_of(self, payload: bytes) -> str | None:
        return "orders" if payload.startswith(b'{"arg":{"channel":"orders"') else None
