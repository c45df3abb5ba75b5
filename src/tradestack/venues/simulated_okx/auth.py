"""OKX API keys (key, secret, passphrase) and the checks OKX makes, independent of any client signer.

REST: `OK-ACCESS-SIGN` must equal base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body)),
with `timestamp` the `OK-ACCESS-TIMESTAMP` header (ISO 8601 UTC, milliseconds), requestPath the path
and query string exactly as sent, body the exact body text. A timestamp more than 30 s away from the
server's time is expired (50102). WebSocket login: the same HMAC over timestamp + "GET" +
"/users/self/verify", with the timestamp in Unix seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import uuid
from base64 import b64encode
from dataclasses import dataclass
from datetime import UTC, datetime

from tradestack.venues.simulated_okx import errors

TIMESTAMP_TOLERANCE_MS = 30_000
_ALPHABET = string.ascii_uppercase + string.digits


def sign(secret: str, prehash: str) -> str:
    return b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()


def parse_rest_timestamp(text: str) -> int:
    """`2020-12-08T09:08:57.715Z` -> Unix milliseconds; 50112 when it is not that shape."""
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise errors.invalid_timestamp() from None
    return int(moment.replace(microsecond=0).timestamp()) * 1000 + moment.microsecond // 1000


@dataclass(frozen=True, slots=True)
class ApiKey:
    api_key: str
    secret: str
    passphrase: str
    uid: str
    ip: tuple[str, ...] = ()  # the key's IP whitelist ("ip" in account/config); empty: any address
    perm: str = "read_only,trade"  # OKX's permission list; "withdraw" is never granted by default


class OkxKeys:
    """The keys of the sim's one account. OKX keys are UUIDs; secrets 32 hex-like characters."""

    def __init__(self, uid: str, tolerance_ms: int = TIMESTAMP_TOLERANCE_MS) -> None:
        self.uid = uid
        self.tolerance_ms = tolerance_ms
        self._keys: dict[str, ApiKey] = {}

    def create(self, passphrase: str = "", ip: tuple[str, ...] = (), perm: str = "read_only,trade") -> ApiKey:
        key = ApiKey(
            api_key=str(uuid.UUID(bytes=secrets.token_bytes(16), version=4)),
            secret="".join(secrets.choice(_ALPHABET) for _ in range(32)),
            passphrase=passphrase or "".join(secrets.choice(string.ascii_letters) for _ in range(12)),
            uid=self.uid,
            ip=ip,
            perm=perm,
        )
        self._keys[key.api_key] = key
        return key

    def revoke(self, api_key: str) -> bool:
        return self._keys.pop(api_key, None) is not None

    def check_rest(
        self,
        api_key: str | None,
        signature: str | None,
        timestamp: str | None,
        passphrase: str | None,
        method: str,
        request_path: str,
        body: str,
        now_ms: int,
    ) -> ApiKey:
        """The key that signed this request, or the OkxError OKX answers."""
        if not api_key:
            raise errors.key_empty()
        if not signature:
            raise errors.sign_empty()
        if not timestamp:
            raise errors.timestamp_empty()
        if not passphrase:
            raise errors.passphrase_empty()
        sent_ms = parse_rest_timestamp(timestamp)
        if abs(now_ms - sent_ms) > self.tolerance_ms:
            raise errors.timestamp_expired()
        key = self._keys.get(api_key)
        if key is None:
            raise errors.invalid_key()
        if not hmac.compare_digest(key.passphrase, passphrase):
            raise errors.wrong_passphrase()
        expected = sign(key.secret, f"{timestamp}{method.upper()}{request_path}{body}")
        if not hmac.compare_digest(expected, signature):
            raise errors.invalid_sign()
        return key

    def check_login(
        self, api_key: str, passphrase: str, timestamp: str, signature: str, now_ms: int
    ) -> tuple[ApiKey | None, str, str]:
        """(key, "0", "") on success, else (None, code, msg) as the WebSocket `error` event says it."""
        if not timestamp.isdigit():
            return None, "60004", f"Invalid timestamp: {timestamp[:40]}"
        if abs(now_ms - int(timestamp) * 1000) > self.tolerance_ms:
            return None, "60006", "Timestamp request expired."
        key = self._keys.get(api_key)
        if key is None:
            return None, "60005", f"Invalid OK-ACCESS-KEY: {api_key[:40]}"
        if not hmac.compare_digest(key.passphrase, passphrase):
            return None, "60024", "Wrong passphrase."
        if not hmac.compare_digest(sign(key.secret, f"{timestamp}GET/users/self/verify"), signature):
            return None, "60007", "Invalid sign."
        return key, "0", ""
