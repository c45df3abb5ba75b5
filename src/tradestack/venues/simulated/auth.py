"""API keys, HMAC-SHA256 signatures and timing security, checked the way Binance documents them.

The sim's own verifier, independent of any client signer: `signature` is the hex HMAC-SHA256, keyed
with the secret, of totalParams = the query string concatenated with the request body, exactly as sent
(percent-encoding included), without the `signature` parameter itself. The signature is not case
sensitive. A request is on time if timestamp < serverTime + 1000 and serverTime - timestamp <=
recvWindow (default 5000, at most 60000).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass

from tradestack.venues.simulated import errors

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000
MAX_AHEAD_MS = 1000

_KEY_ALPHABET = string.ascii_letters + string.digits
_KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{64}$")


def hmac_sha256_hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signature_matches(secret: str, payload: str, signature: str) -> bool:
    return hmac.compare_digest(hmac_sha256_hex(secret, payload), signature.lower())


def split_signature(query: str, body: str) -> tuple[str, str | None]:
    """(totalParams without `signature`, the signature or None). Raises -1101 if it is sent twice."""
    found: list[str] = []
    kept = [_without_signature(part, found) for part in (query, body)]
    if len(found) > 1:
        raise errors.duplicate_parameter()
    return kept[0] + kept[1], (found[0] if found else None)


def _without_signature(raw: str, found: list[str]) -> str:
    if "signature=" not in raw:
        return raw
    pairs = []
    for pair in raw.split("&"):
        if pair.startswith("signature="):
            found.append(pair[len("signature=") :])
        else:
            pairs.append(pair)
    return "&".join(pairs)


def check_timing(timestamp_ms: int, recv_window_ms: int, server_ms: int) -> None:
    if recv_window_ms > MAX_RECV_WINDOW_MS or recv_window_ms <= 0:
        raise errors.bad_recv_window()
    if timestamp_ms >= server_ms + MAX_AHEAD_MS:
        raise errors.timestamp_ahead()
    if server_ms - timestamp_ms > recv_window_ms:
        raise errors.timestamp_outside_window()


@dataclass(slots=True)
class KeyPermissions:
    """What one key may do, reported by GET /sapi/v1/account/apiRestrictions. New keys trade and
    read, never withdraw; `ip_whitelist` empty means unrestricted (ipRestrict false)."""

    label: str = ""
    enable_reading: bool = True
    enable_spot_trading: bool = True
    enable_withdrawals: bool = False
    enable_internal_transfer: bool = False
    ip_whitelist: tuple[str, ...] = ()
    create_time_ms: int = 0
    last_used_ms: int = 0


class ApiKeys:
    """The keys that may act on the sim's account. Binance keys and secrets are 64 letters and digits.

    Keys can be created (idempotently per label), restricted, and revoked while others keep working:
    what a rotation with two overlapping keys needs.
    """

    def __init__(self, now_ms: Callable[[], int] | None = None) -> None:
        self._secrets: dict[str, str] = {}
        self.permissions: dict[str, KeyPermissions] = {}
        self._now_ms = now_ms or (lambda: 0)

    def create(self, label: str = "", permissions: KeyPermissions | None = None) -> tuple[str, str]:
        if label:
            for api_key, held in self.permissions.items():
                if held.label == label:
                    return api_key, self._secrets[api_key]
        api_key = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(64))
        secret = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(64))
        self._secrets[api_key] = secret
        granted = permissions or KeyPermissions()
        granted.label = label
        granted.create_time_ms = self._now_ms()
        self.permissions[api_key] = granted
        return api_key, secret

    def add(self, api_key: str, secret: str, ip_whitelist: tuple[str, ...] = ()) -> None:
        """Register a known pair (e.g. the documented example key)."""
        self._secrets[api_key] = secret
        self.permissions.setdefault(
            api_key, KeyPermissions(create_time_ms=self._now_ms(), ip_whitelist=ip_whitelist)
        )

    def revoke(self, api_key: str) -> bool:
        """Delete a key: every later request with it gets -2015. False if it was not there."""
        self.permissions.pop(api_key, None)
        return self._secrets.pop(api_key, None) is not None

    def secret_for(self, api_key: str | None, ip: str | None = None, trade: bool = False) -> str:
        """The secret of a known key; -2014 if the header is missing or malformed, -2015 if unknown,
        revoked, called from an IP outside its whitelist, or (trade=True) not allowed to trade."""
        if not api_key or not _KEY_FORMAT.match(api_key):
            raise errors.bad_api_key_format()
        secret = self._secrets.get(api_key)
        if secret is None:
            raise errors.rejected_api_key()
        granted = self.permissions.get(api_key)
        if granted is not None:
            if granted.ip_whitelist and ip is not None and ip not in granted.ip_whitelist:
                raise errors.rejected_api_key()
            if trade and not granted.enable_spot_trading:
                raise errors.rejected_api_key()
            granted.last_used_ms = self._now_ms()
        return secret
