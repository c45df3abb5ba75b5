"""OKX v5 request signing: base64 HMAC-SHA256 with a passphrase, for REST and the private WebSocket.

REST (docs "REST Authentication"): `OK-ACCESS-SIGN` = base64(HMAC-SHA256(secret,
timestamp + METHOD + requestPath + body)), where `timestamp` is the `OK-ACCESS-TIMESTAMP` header
itself (ISO 8601 UTC with milliseconds, `2020-12-08T09:08:57.715Z`), METHOD is upper case,
requestPath includes the query string as sent (`/api/v5/account/balance?ccy=BTC`) and body is the
exact JSON text sent (empty for GET). The passphrase is the one chosen when the key was created.
WebSocket login: the same HMAC over `timestamp + "GET" + "/users/self/verify"`, timestamp in Unix
seconds. The timestamp is always passed in: these functions never read a clock.
"""

from __future__ import annotations

from base64 import b64encode
from datetime import UTC, datetime

import msgspec

from tradestack.venues._shared.credentials import (
    SecretInput,
    key_hint,
    keyed,
    mac,
    require_api_key,
    secret_bytes,
    secret_text,
)

WEBSOCKET_LOGIN_PATH = "/users/self/verify"


def rest_timestamp(unix_ns: int) -> str:
    """`OK-ACCESS-TIMESTAMP` from nanoseconds since the epoch: ISO 8601 UTC, milliseconds, `Z`."""
    seconds, rest = divmod(unix_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{rest // 1_000_000:03d}Z"


def websocket_timestamp(unix_ns: int) -> str:
    """The WebSocket login timestamp: whole Unix seconds (OKX refuses one older than 30 s)."""
    return str(unix_ns // 1_000_000_000)


class OkxSigner:
    """Signs OKX v5 requests. The secret and the passphrase never appear in the repr."""

    __slots__ = ("_keyed", "_passphrase", "api_key", "simulated")

    def __init__(
        self, api_key: str, secret_key: SecretInput, passphrase: SecretInput, *, simulated: bool = False
    ) -> None:
        self.api_key = require_api_key(api_key)
        self._keyed = keyed(secret_bytes(secret_key, "secret_key"), "sha256")
        self._passphrase = secret_text(passphrase, "passphrase")
        # demo trading keys need `x-simulated-trading: 1` on every REST request
        self.simulated = simulated

    def sign(self, timestamp: str, method: str, request_path: str, body: str = "") -> str:
        """base64 HMAC-SHA256 of timestamp + METHOD + requestPath (with `?query`) + body."""
        prehash = f"{timestamp}{method.upper()}{request_path}{body}"
        return b64encode(mac(self._keyed, prehash.encode())).decode()

    def headers(self, timestamp: str, method: str, request_path: str, body: str = "") -> dict[str, str]:
        """The authentication headers of one REST request (add `Content-Type: application/json`)."""
        headers = {
            "OK-ACCESS-KEY": self.api_key,
            "OK-ACCESS-SIGN": self.sign(timestamp, method, request_path, body),
            "OK-ACCESS-TIMESTAMP": timestamp,
            "OK-ACCESS-PASSPHRASE": self._passphrase,
        }
        if self.simulated:
            headers["x-simulated-trading"] = "1"
        return headers

    def websocket_login(self, timestamp: str) -> bytes:
        """The private WebSocket `login` frame for a timestamp in Unix seconds (`websocket_timestamp`)."""
        argument = {
            "apiKey": self.api_key,
            "passphrase": self._passphrase,
            "timestamp": timestamp,
            "sign": self.sign(timestamp, "GET", WEBSOCKET_LOGIN_PATH),
        }
        return msgspec.json.encode({"op": "login", "args": [argument]})

    def __repr__(self) -> str:
        return f"OkxSigner(api_key={key_hint(self.api_key)}, secret=<redacted>, passphrase=<redacted>)"
