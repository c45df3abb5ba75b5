"""Kraken spot REST signing: base64 HMAC-SHA512 (base64-decoded secret) of path + SHA-256(nonce + body).

Docs ("Spot REST Authentication"): `API-Sign` = base64(HMAC-SHA512(base64decode(secret),
uri_path + SHA256(nonce + post_data))), where uri_path is the path only (`/0/private/AddOrder`),
nonce the same decimal string that appears as `nonce` inside post_data, and post_data the exact body
sent (form-encoded, or JSON when sent as JSON). `API-Key` carries the key. The nonce must increase
with every request made with a key (an unsigned 64-bit integer): `NonceSource` keeps that promise
from an injected clock. The WebSocket v2 token comes from the private REST call
`POST /0/private/GetWebSocketsToken`, signed like any other: there is no separate WebSocket signature.
"""

from __future__ import annotations

import hashlib
from base64 import b64encode
from collections.abc import Iterable
from urllib.parse import urlencode

from tradestack.venues._shared.credentials import (
    SecretInput,
    base64_secret,
    key_hint,
    keyed,
    mac,
    require_api_key,
)

WEBSOCKET_TOKEN_PATH = "/0/private/GetWebSocketsToken"
_MAX_NONCE = 2**64 - 1


def form_body(params: Iterable[tuple[str, str]]) -> str:
    """An `application/x-www-form-urlencoded` body in the order given (include `nonce`)."""
    return urlencode(list(params))


class NonceSource:
    """Strictly increasing nonces: Unix milliseconds from the caller's clock, or last + 1 if not larger.

    Pure apart from remembering the last nonce; the time is passed in. Millisecond nonces are what
    Kraken's docs use; a key that has ever been used with larger nonces (microseconds) needs a new
    key or a starting value above them (`last`).
    """

    __slots__ = ("_last",)

    def __init__(self, last: int = 0) -> None:
        if not 0 <= last <= _MAX_NONCE:
            raise ValueError("a Kraken nonce is an unsigned 64-bit integer")
        self._last = last

    def next(self, unix_ns: int) -> int:
        nonce = max(unix_ns // 1_000_000, self._last + 1)
        if nonce > _MAX_NONCE:
            raise OverflowError("the Kraken nonce would pass 2**64 - 1")
        self._last = nonce
        return nonce


class KrakenSigner:
    """Signs Kraken spot REST requests. The secret never appears in the repr."""

    __slots__ = ("_keyed", "api_key")

    def __init__(self, api_key: str, secret_base64: SecretInput) -> None:
        self.api_key = require_api_key(api_key)
        self._keyed = keyed(base64_secret(secret_base64, "secret_base64"), "sha512")

    def sign(self, uri_path: str, nonce: int | str, post_data: str) -> str:
        """base64 HMAC-SHA512 of uri_path + SHA256(nonce + post_data)."""
        inner = hashlib.sha256(f"{nonce}{post_data}".encode()).digest()
        return b64encode(mac(self._keyed, uri_path.encode() + inner)).decode()

    def headers(self, uri_path: str, nonce: int | str, post_data: str) -> dict[str, str]:
        """`API-Key` and `API-Sign` (add the body's Content-Type)."""
        return {"API-Key": self.api_key, "API-Sign": self.sign(uri_path, nonce, post_data)}

    def __repr__(self) -> str:
        return f"KrakenSigner(api_key={key_hint(self.api_key)}, secret=<redacted>)"
