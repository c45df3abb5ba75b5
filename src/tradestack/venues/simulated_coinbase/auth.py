"""Coinbase Exchange API keys (key, base64 secret, passphrase) and the checks Coinbase makes,
independent of any client signer.

REST: `CB-ACCESS-SIGN` must equal base64(HMAC-SHA256(base64decode(secret), timestamp + METHOD +
requestPath + body)), `timestamp` being the `CB-ACCESS-TIMESTAMP` header (seconds since the epoch,
decimals allowed), requestPath the path and query exactly as sent, body the exact text. A timestamp
more than 30 s from the server's clock is refused. ws-feed: a signed `subscribe` carries `key`,
`passphrase`, `timestamp`, `signature`, the same HMAC over timestamp + "GET" + "/users/self/verify".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

from tradestack.venues.simulated_coinbase import errors

TIMESTAMP_TOLERANCE_NS = 30_000_000_000
_TIMESTAMP = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")


def sign(secret_base64: str, prehash: str) -> str:
    key = base64.b64decode(secret_base64)
    return base64.b64encode(hmac.new(key, prehash.encode(), hashlib.sha256).digest()).decode()


def timestamp_ns(text: str) -> int | None:
    if _TIMESTAMP.fullmatch(text) is None:
        return None
    whole, _, fraction = text.partition(".")
    return int(whole) * 1_000_000_000 + int(fraction.ljust(9, "0") or "0")


@dataclass(frozen=True, slots=True)
class ApiKey:
    api_key: str
    secret: str  # base64, as Coinbase hands it out
    passphrase: str
    profile_id: str
    user_id: str


class CoinbaseKeys:
    """The keys of the sim's one profile."""

    def __init__(self, profile_id: str, user_id: str, tolerance_ns: int = TIMESTAMP_TOLERANCE_NS) -> None:
        self.profile_id = profile_id
        self.user_id = user_id
        self.tolerance_ns = tolerance_ns
        self._keys: dict[str, ApiKey] = {}

    def create(self, passphrase: str = "") -> ApiKey:
        key = ApiKey(
            api_key=secrets.token_hex(16),
            secret=base64.b64encode(secrets.token_bytes(64)).decode(),
            passphrase=passphrase or secrets.token_hex(6),
            profile_id=self.profile_id,
            user_id=self.user_id,
        )
        self._keys[key.api_key] = key
        return key

    def revoke(self, api_key: str) -> bool:
        return self._keys.pop(api_key, None) is not None

    def check(
        self,
        api_key: str | None,
        signature: str | None,
        timestamp: str | None,
        passphrase: str | None,
        prehash_tail: str,
        now_ns: int,
    ) -> ApiKey:
        """The key that signed `timestamp + prehash_tail`, or the CoinbaseError Coinbase answers."""
        for name, value in (
            ("CB-ACCESS-KEY", api_key),
            ("CB-ACCESS-SIGN", signature),
            ("CB-ACCESS-TIMESTAMP", timestamp),
            ("CB-ACCESS-PASSPHRASE", passphrase),
        ):
            if not value:
                raise errors.bad_request(f"{name} header is required")
        assert api_key and signature and timestamp and passphrase
        sent_ns = timestamp_ns(timestamp)
        if sent_ns is None:
            raise errors.bad_request("invalid timestamp")
        if abs(now_ns - sent_ns) > self.tolerance_ns:
            raise errors.bad_request("request timestamp expired")
        key = self._keys.get(api_key)
        if key is None:
            raise errors.unauthorized("Invalid API Key")
        if not hmac.compare_digest(key.passphrase, passphrase):
            raise errors.unauthorized("Invalid Passphrase")
        if not hmac.compare_digest(sign(key.secret, f"{timestamp}{prehash_tail}"), signature):
            raise errors.unauthorized("invalid signature")
        return key


def new_uuid() -> str:
    return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
