"""Kraken API keys and the checks Kraken makes on a private REST call, independent of any client.

`API-Sign` must be base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + post_data)))
with `nonce` the form field of the body as sent; the nonce must be larger than the key's last one
(`EAPI:Invalid nonce`), unless within the key's optional nonce window. WebSocket tokens
(GetWebSocketsToken) open a private subscription within 15 minutes of being issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from tradestack.venues.simulated_kraken.errors import KrakenError

TOKEN_TTL_MS = 15 * 60 * 1000


def sign(secret: str, uri_path: str, nonce: str, post_data: str) -> str:
    inner = hashlib.sha256(f"{nonce}{post_data}".encode()).digest()
    digest = hmac.new(base64.b64decode(secret), uri_path.encode() + inner, hashlib.sha512).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class ApiKey:
    api_key: str
    secret: str  # base64, as Kraken shows it
    nonce_window: int = 0


class KrakenKeys:
    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}
        self._last_nonce: dict[str, int] = {}
        self._tokens: dict[str, tuple[str, int]] = {}  # token -> (api key, issued ms)
        self.tokens_issued: list[str] = []
        self.refused: dict[str, int] = {}

    def create(self, nonce_window: int = 0) -> ApiKey:
        key = ApiKey(
            api_key=base64.b64encode(secrets.token_bytes(42)).decode(),
            secret=base64.b64encode(secrets.token_bytes(64)).decode(),
            nonce_window=nonce_window,
        )
        self._keys[key.api_key] = key
        return key

    def revoke(self, api_key: str) -> bool:
        return self._keys.pop(api_key, None) is not None

    def check(
        self, api_key: str | None, signature: str | None, uri_path: str, body: str, nonce: str
    ) -> ApiKey:
        """The key that signed this call, or the KrakenError Kraken answers."""
        key = self._keys.get(api_key or "")
        if key is None:
            raise self._refuse("EAPI:Invalid key")
        if not nonce.isdigit():
            raise self._refuse("EAPI:Invalid nonce")
        expected = sign(key.secret, uri_path, nonce, body)
        if not signature or not hmac.compare_digest(expected, signature):
            raise self._refuse("EAPI:Invalid signature")
        value, last = int(nonce), self._last_nonce.get(key.api_key, 0)
        if value <= last - key.nonce_window or (key.nonce_window == 0 and value <= last):
            raise self._refuse("EAPI:Invalid nonce")
        self._last_nonce[key.api_key] = max(value, last)
        return key

    def issue_token(self, key: ApiKey, now_ms: int) -> str:
        token = base64.b64encode(secrets.token_bytes(24)).decode()
        self._tokens[token] = (key.api_key, now_ms)
        self.tokens_issued.append(token)
        return token

    def redeem(self, token: str, now_ms: int) -> ApiKey | None:
        """The key a token was issued to, while it may still open a subscription."""
        found = self._tokens.get(token)
        if found is None or now_ms - found[1] > TOKEN_TTL_MS:
            return None
        return self._keys.get(found[0])

    def _refuse(self, error: str) -> KrakenError:
        self.refused[error] = self.refused.get(error, 0) + 1
        return KrakenError(error)
