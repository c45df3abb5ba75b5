"""Bybit v5 request signing: hex HMAC-SHA256, for REST and the private WebSocket.

REST (docs "Integration Guidance", HMAC keys): `X-BAPI-SIGN` = hex(HMAC-SHA256(secret,
timestamp + api_key + recv_window + payload)), where timestamp is Unix milliseconds (the
`X-BAPI-TIMESTAMP` header), recv_window the `X-BAPI-RECV-WINDOW` header, and payload the query
string as sent without `?` for GET, or the exact JSON body text for POST. `X-BAPI-SIGN-TYPE: 2`
names HMAC-SHA256. WebSocket `auth`: hex HMAC-SHA256 of `"GET/realtime" + expires`, with expires
in Unix milliseconds, a little in the future. Times are always passed in: nothing reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from tradestack.venues._shared.credentials import (
    SecretInput,
    key_hint,
    keyed,
    mac,
    require_api_key,
    secret_bytes,
)

DEFAULT_RECV_WINDOW_MS = 5000


def query_string(params: Iterable[tuple[str, str]]) -> str:
    """A GET payload: `k=v&k=v` in the order given, which must be the order sent (no `?`)."""
    return "&".join(f"{key}={value}" for key, value in params)


class BybitSigner:
    """Signs Bybit v5 requests with an HMAC API secret. The secret never appears in the repr."""

    __slots__ = ("_keyed", "api_key", "recv_window_ms")

    def __init__(
        self, api_key: str, secret: SecretInput, *, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS
    ) -> None:
        self.api_key = require_api_key(api_key)
        self._keyed = keyed(secret_bytes(secret, "secret"), "sha256")
        if recv_window_ms <= 0:
            raise ValueError("recv_window_ms must be positive")
        self.recv_window_ms = recv_window_ms

    def sign(self, timestamp_ms: int, payload: str, recv_window_ms: int | None = None) -> str:
        """hex HMAC-SHA256 of timestamp + api_key + recv_window + payload."""
        window = self.recv_window_ms if recv_window_ms is None else recv_window_ms
        message = f"{timestamp_ms}{self.api_key}{window}{payload}"
        return mac(self._keyed, message.encode()).hex()

    def headers(self, timestamp_ms: int, payload: str, recv_window_ms: int | None = None) -> dict[str, str]:
        """The authentication headers of one REST request (add `Content-Type: application/json`)."""
        window = self.recv_window_ms if recv_window_ms is None else recv_window_ms
        return {
            "X-BAPI-API-KEY": self.api_key,
            "X-BAPI-SIGN": self.sign(timestamp_ms, payload, window),
            "X-BAPI-SIGN-TYPE": "2",
            "X-BAPI-TIMESTAMP": str(timestamp_ms),
            "X-BAPI-RECV-WINDOW": str(window),
        }

    def websocket_signature(self, expires_ms: int) -> str:
        return mac(self._keyed, f"GET/realtime{expires_ms}".encode()).hex()

    def websocket_auth(self, expires_ms: int) -> bytes:
        """The private WebSocket `auth` frame; `expires_ms` is when the signature stops being valid."""
        arguments = [self.api_key, expires_ms, self.websocket_signature(expires_ms)]
        return msgspec.json.encode({"op": "auth", "args": arguments})

    def __repr__(self) -> str:
        return f"BybitSigner(api_key={key_hint(self.api_key)}, secret=<redacted>)"
