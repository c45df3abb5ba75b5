"""Binance's WebSocket dialect for the shared session: combined-stream URLs and stream names."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

_PREFIX = b'{"stream":"'


class CombinedStreams:
    """`<base>/stream?streams=a/b/c`: the URL carries the subscriptions, so a reconnect replays them."""

    def __init__(self, ws_base: str) -> None:
        self.ws_base = ws_base.rstrip("/")
        self._next_id = 1

    def url(self, streams: Sequence[str]) -> str:
        return f"{self.ws_base}/stream?streams={'/'.join(streams)}"

    def subscribe_messages(self, streams: Sequence[str]) -> Sequence[bytes]:
        # streams added to a live connection; at (re)connect they are already in the URL
        self._next_id += 1
        return [msgspec.json.encode({"method": "SUBSCRIBE", "params": list(streams), "id": self._next_id})]

    def stream_of(self, payload: bytes) -> str | None:
        if not payload.startswith(_PREFIX):
            return None
        end = payload.find(b'"', len(_PREFIX))
        return payload[len(_PREFIX) : end].decode() if end > 0 else None


class UserDataStream:
    """`<base>/ws/<listenKey>`: one raw stream of account events."""

    def __init__(self, ws_base: str, listen_key: str) -> None:
        self.ws_base = ws_base.rstrip("/")
        self.listen_key = listen_key

    def url(self, streams: Sequence[str]) -> str:
        return f"{self.ws_base}/ws/{self.listen_key}"

    def subscribe_messages(self, streams: Sequence[str]) -> Sequence[bytes]:
        return []

    def stream_of(self, payload: bytes) -> str | None:
        return "user"
