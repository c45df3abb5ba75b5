"""Binance request signing: hex HMAC-SHA256 of the exact parameter string that is sent.

Binance signs the "total params" string: the query string followed by the request body, with
non-ASCII characters percent-encoded, in the order the parameters are sent. We always send every
parameter in the query string, so the signed payload is exactly the query we put on the wire.
Ed25519 keys (Binance's recommended key type) sign the same payload: `auth_ed25519.Ed25519Signer`
has the same interface (`BinanceSigner`), so the REST gateway can use either.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Protocol
from urllib.parse import quote

Params = Iterable[tuple[str, str]]


def encode_params(params: Params) -> str:
    """`k=v&k=v` in the given order, values percent-encoded (plain ASCII symbols pass unchanged)."""
    return "&".join(f"{key}={quote(value, safe='')}" for key, value in params)


def websocket_api_payload(params: Mapping[str, str]) -> str:
    """The WebSocket API's signed payload: every param but `signature` (with `apiKey`), sorted by name."""
    return encode_params(sorted((key, value) for key, value in params.items() if key != "signature"))


class BinanceSigner(Protocol):
    """What the REST gateway needs from a signer: `HmacSigner` and `Ed25519Signer` both are one."""

    api_key: str

    def signature(self, payload: str) -> str: ...

    def signed_query(self, params: Params) -> str: ...


class HmacSigner:
    """Signs payloads with an HMAC-SHA256 API secret. The repr never shows the secret."""

    __slots__ = ("_keyed", "api_key")

    def __init__(self, api_key: str, secret_key: str | bytes) -> None:
        secret = secret_key.encode() if isinstance(secret_key, str) else secret_key
        if not api_key or not secret:
            raise ValueError("api_key and secret_key must not be empty")
        self.api_key = api_key
        # Keyed once; copying the keyed state per request skips re-deriving the HMAC pads.
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)

    def signature(self, payload: str) -> str:
        """Lower-case hex HMAC-SHA256 of the payload, as Binance expects in `signature`."""
        digest = self._keyed.copy()
        digest.update(payload.encode())
        return digest.hexdigest()

    def signed_query(self, params: Params) -> str:
        """The parameter string with `&signature=...` appended: ready to send as the query."""
        payload = encode_params(params)
        return f"{payload}&signature={self.signature(payload)}"

    def __repr__(self) -> str:
        return f"HmacSigner(api_key={self.api_key[:4]}…, secret=<redacted>)"
