"""Kraken WebSocket v2's dialect for the shared session: `subscribe` methods, streams per channel.

Public (wss://ws.kraken.com/v2): streams are named `<channel>:<symbol>` ("book:BTC/USDT"); every
connect subscribes `book` (depth 10, with snapshot) and `trade` for all symbols, one method each. A
push is attributed to its stream from its leading `{"channel":"book"` and its first `"symbol":"..."`.
Private (wss://ws-auth.kraken.com/v2): the subscriptions need a token from REST, so the connect sends
nothing; the user stream fetches a fresh token and subscribes (user_stream.py).
Keep-alive: Kraken sends a `heartbeat` every second while subscribed and answers protocol pings; the
session pings when nothing arrived for `ping_idle_s`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

PUBLIC_URL: Final = "wss://ws.kraken.com/v2"
PRIVATE_URL: Final = "wss://ws-auth.kraken.com/v2"
BOOK_DEPTH: Final = 10

_SYMBOL = b'"symbol":"'


def stream_name(channel: str, symbol: str) -> str:
    return f"{channel}:{symbol}"


def subscription(method: str, streams: Sequence[str], depth: int = BOOK_DEPTH) -> list[bytes]:
    """One `subscribe`/`unsubscribe` per channel for the symbols of `streams`."""
    by_channel: dict[str, list[str]] = {}
    for name in streams:
        channel, _, symbol = name.partition(":")
        by_channel.setdefault(channel, []).append(symbol)
    messages = []
    for channel, symbols in by_channel.items():
        params: dict[str, object] = {"channel": channel, "symbol": symbols}
        if channel == "book":
            params["depth"] = depth
            if method == "subscribe":
                params["snapshot"] = True
        messages.append(msgspec.json.encode({"method": method, "params": params}))
    return messages


def channel_of(payload: bytes) -> str | None:
    """ "book" for `{"channel":"book",...`; None for anything else."""
    if not payload.startswith(b'{"channel":"'):
        return None
    end = payload.find(b'"', 12)
    return payload[12:end].decode() if end > 0 else None


class PublicChannels:
    def __init__(self, url: str = PUBLIC_URL, depth: int = BOOK_DEPTH) -> None:
        self._url = url
        self._depth = depth

    def url(self, streams: Sequence[str]) -> str:
        return self._url

    def subscribe_messages(self, streams: Sequence[str]) -> Sequence[bytes]:
        return subscription("subscribe", streams, self._depth)

    def stream_of(self, payload: bytes) -> str | None:
        channel = channel_of(payload)
        if channel not in ("book", "trade"):
            return None
        start = payload.find(_SYMBOL)
        if start < 0:
            return None
        start += len(_SYMBOL)
        end = payload.find(b'"', start)
        return f"{channel}:{payload[start:end].decode()}" if end > 0 else None


class PrivateChannels:
    def __init__(self, url: str = PRIVATE_URL) -> None:
        self._url = url

    def url(self, streams: Sequence[str]) -> str:
        return self._url

    def subscribe_messages(self, streams: Sequence[str]) -> Sequence[bytes]:
        return []  # a token first: the user stream subscribes once it has one

    def stream_of(self, payload: bytes) -> str | None:
        channel = channel_of(payload)
        return channel if channel in ("executions", "balances") else None
