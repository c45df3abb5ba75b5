"""Bybit API keys, the checks Bybit makes on every signed request, and its per-UID rate limits.

REST: `X-BAPI-SIGN` must equal hex(HMAC-SHA256(secret, timestamp + api_key + recv_window + payload)),
payload the query string as sent (GET) or the exact body text (POST). The request is valid while
server_time - recv_window <= timestamp < server_time + 1000 ms (else 10002). WebSocket `auth`: the
same HMAC over "GET/realtime" + expires (ms), refused once expires has passed. Independent of any
client signer: this is the venue's side.

Rate limits: per UID and endpoint in one-second windows; past a limit, retCode 10006. Every answer
carries X-Bapi-Limit, X-Bapi-Limit-Status (remaining) and X-Bapi-Limit-Reset-Timestamp (ms).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

WINDOW_MS: Final = 1000
FUTURE_TOLERANCE_MS: Final = 1000
MAX_RECV_WINDOW_MS: Final = 60_000
_ALPHABET = string.ascii_letters + string.digits

PUBLISHED_LIMITS: Final[Mapping[str, int]] = {
    "POST /v5/order/create": 20,
    "POST /v5/order/cancel": 20,
    "POST /v5/order/cancel-all": 20,
    "GET /v5/order/realtime": 50,
    "GET /v5/order/history": 50,
    "GET /v5/execution/list": 50,
    "GET /v5/account/wallet-balance": 50,
    "GET /v5/user/query-api": 10,
}


class BybitError(Exception):
    """Answered as HTTP `status` with {"retCode", "retMsg", "result": {}, "retExtInfo": {}, "time"}."""

    def __init__(self, code: int, msg: str, status: int = 200) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status


def sign(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    api_key: str
    secret: str
    uid: int
    ips: tuple[str, ...] = ("*",)  # "*": any address
    read_only: bool = False
    # Bybit's permission groups; a trading key has spot trading and nothing that moves funds
    permissions: dict[str, list[str]] = field(default_factory=lambda: {"Spot": ["SpotTrade"]})


class BybitKeys:
    """The keys of the sim's one account. Bybit keys are 18 characters, secrets 36."""

    def __init__(self, uid: int) -> None:
        self.uid = uid
        self._keys: dict[str, ApiKey] = {}

    def create(
        self,
        ips: tuple[str, ...] = ("*",),
        permissions: dict[str, list[str]] | None = None,
        read_only: bool = False,
    ) -> ApiKey:
        key = ApiKey(
            api_key="".join(secrets.choice(_ALPHABET) for _ in range(18)),
            secret="".join(secrets.choice(_ALPHABET) for _ in range(36)),
            uid=self.uid,
            ips=ips,
            read_only=read_only,
            permissions=permissions if permissions is not None else {"Spot": ["SpotTrade"]},
        )
        self._keys[key.api_key] = key
        return key

    def revoke(self, api_key: str) -> bool:
        return self._keys.pop(api_key, None) is not None

    def check_rest(self, headers: Mapping[str, str], payload: str, now_ms: int, remote: str) -> ApiKey:
        """The key that signed this request, or the BybitError Bybit answers."""
        api_key = headers.get("X-BAPI-API-KEY", "")
        signature = headers.get("X-BAPI-SIGN", "")
        timestamp = headers.get("X-BAPI-TIMESTAMP", "")
        window_text = headers.get("X-BAPI-RECV-WINDOW", "5000")
        if not api_key or not signature or not timestamp:
            raise BybitError(10003, "API key is invalid.", 401)
        if not timestamp.isdigit() or not window_text.isdigit():
            raise BybitError(10001, "Request parameter error.")
        sent_ms, window = int(timestamp), int(window_text)
        if not 0 < window <= MAX_RECV_WINDOW_MS:
            raise BybitError(10001, "Request parameter error: recv_window.")
        if not now_ms - window <= sent_ms < now_ms + FUTURE_TOLERANCE_MS:
            raise BybitError(
                10002,
                f"invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{sent_ms}],server_timestamp[{now_ms}],recv_window[{window}]",
            )
        key = self._keys.get(api_key)
        if key is None:
            raise BybitError(10003, "API key is invalid.", 401)
        expected = sign(key.secret, f"{timestamp}{api_key}{window_text}{payload}")
        if not hmac.compare_digest(expected, signature.lower()):
            raise BybitError(10004, "error sign! origin_string[...]", 401)
        if "*" not in key.ips and remote not in key.ips:
            raise BybitError(10010, "Unmatched IP, please check your API key's bound IP addresses.")
        return key

    def check_ws_auth(self, args: object, now_ms: int) -> tuple[ApiKey | None, str]:
        """(key, "") when `args` [api_key, expires, signature] authenticate, else (None, why)."""
        if not isinstance(args, list) or len(args) != 3:
            return None, "Params Error"
        api_key, expires, signature = args
        if not isinstance(api_key, str) or not isinstance(signature, str) or not isinstance(expires, int):
            return None, "Params Error"
        if expires <= now_ms:
            return None, "Params Error: request expired"
        key = self._keys.get(api_key)
        if key is None:
            return None, "Invalid apikey"
        if not hmac.compare_digest(sign(key.secret, f"GET/realtime{expires}"), signature):
            return None, "Invalid sign"
        return key, ""


class EndpointLimits:
    """Per (endpoint, UID) counters in one-second windows; `overrides` replace published limits."""

    def __init__(self, overrides: Mapping[str, int] | None = None) -> None:
        self.limits = {**PUBLISHED_LIMITS, **(overrides or {})}
        self._windows: dict[tuple[str, int], tuple[int, int]] = {}
        self.refused = 0

    def count(self, endpoint: str, uid: int, now_ms: int) -> dict[str, str]:
        """Count one request; the three headers to answer with. 10006 past the limit."""
        limit = self.limits.get(endpoint)
        if limit is None:
            return {}
        window = now_ms // WINDOW_MS
        start, used = self._windows.get((endpoint, uid), (window, 0))
        if start != window:
            used = 0
        reset_ms = (window + 1) * WINDOW_MS
        if used >= limit:
            self.refused += 1
            raise LimitReached(limit, reset_ms)
        used += 1
        self._windows[(endpoint, uid)] = (window, used)
        return headers(limit, limit - used, reset_ms)


class LimitReached(BybitError):
    def __init__(self, limit: int, reset_ms: int) -> None:
        super().__init__(10006, "Too many visits. Exceeded the API Rate Limit.")
        self.headers = headers(limit, 0, reset_ms)


def headers(limit: int, remaining: int, reset_ms: int) -> dict[str, str]:
    return {
        "X-Bapi-Limit": str(limit),
        "X-Bapi-Limit-Status": str(remaining),
        "X-Bapi-Limit-Reset-Timestamp": str(reset_ms),
    }
