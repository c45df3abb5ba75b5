"""Coinbase Exchange request signing: base64 HMAC-SHA256, base64-decoded secret, with a passphrase.

This is the Exchange API (api.exchange.coinbase.com, ws-feed.exchange.coinbase.com), not Advanced
Trade, which signs with JWTs. REST (docs "Exchange REST API Authentication"): `CB-ACCESS-SIGN` =
base64(HMAC-SHA256(base64decode(secret), timestamp + METHOD + requestPath + body)), where timestamp
is the `CB-ACCESS-TIMESTAMP` header (seconds since the epoch, decimals allowed), METHOD upper case,
requestPath the path with its query string, body the exact JSON text sent (empty when none).
ws-feed: an authenticated `subscribe` carries `signature`, `key`, `passphrase` and `timestamp`, the
signature being the same HMAC over `timestamp + "GET" + "/users/self/verify"`. Times are passed in.
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Sequence

import msgspec

from tradestack.venues._shared.credentials import (
    SecretInput,
    base64_secret,
    key_hint,
    keyed,
    mac,
    require_api_key,
    secret_text,
)

WEBSOCKET_SIGN_PATH = "/users/self/verify"


def exchange_timestamp(unix_ns: int) -> str:
    """`CB-ACCESS-TIMESTAMP` from nanoseconds since the epoch: seconds with three decimals."""
    seconds, rest = divmod(unix_ns, 1_000_000_000)
    return f"{seconds}.{rest // 1_000_000:03d}"


class CoinbaseExchangeSigner:
    """Signs Coinbase Exchange requests. The secret and the passphrase never appear in the repr."""

    __slots__ = ("_keyed", "_passphrase", "api_key")

    def __init__(self, api_key: str, secret_base64: SecretInput, passphrase: SecretInput) -> None:
        self.api_key = require_api_key(api_key)
        self._keyed = keyed(base64_secret(secret_base64, "secret_base64"), "sha256")
        self._passphrase = secret_text(passphrase, "passphrase")

    def sign(self, timestamp: str, method: str, request_path: str, body: str = "") -> str:
        """base64 HMAC-SHA256 of timestamp + METHOD + requestPath (with `?query`) + body."""
        prehash = f"{timestamp}{method.upper()}{request_path}{body}"
        return b64encode(mac(self._keyed, prehash.encode())).decode()

    def headers(self, timestamp: str, method: str, request_path: str, body: str = "") -> dict[str, str]:
        """The authentication headers of one REST request (add `Content-Type: application/json`)."""
        return {
            "CB-ACCESS-KEY": self.api_key,
            "CB-ACCESS-SIGN": self.sign(timestamp, method, request_path, body),
            "CB-ACCESS-TIMESTAMP": timestamp,
            "CB-ACCESS-PASSPHRASE": self._passphrase,
        }

    def websocket_subscribe(
        self, timestamp: str, product_ids: Sequence[str], channels: Sequence[str]
    ) -> bytes:
        """An authenticated ws-feed `subscribe` frame (needed for `user` and `full` private fields)."""
        message = {
            "type": "subscribe",
            "product_ids": list(product_ids),
            "channels": list(channels),
            "signature": self.sign(timestamp, "GET", WEBSOCKET_SIGN_PATH),
            "key": self.api_key,
            "passphrase": self._passphrase,
            "timestamp": timestamp,
        }
        return msgspec.json.encode(message)

    def __repr__(self) -> str:
        return (
            f"CoinbaseExchangeSigner(api_key={key_hint(self.api_key)}, secret=<redacted>, "
            "passphrase=<redacted>)"
        )
