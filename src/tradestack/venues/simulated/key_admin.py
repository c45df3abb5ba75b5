"""API-key management on the simulated exchange: Binance's apiRestrictions, and a sim-only admin API.

* `GET /sapi/v1/account/apiRestrictions` (USER_DATA, signed), Binance's shape: what the calling key
  may do (enableWithdrawals, ipRestrict, enableSpotAndMarginTrading, ...).
* `/sim/admin/apiKeys` — not a Binance endpoint (Binance keys are made in its web UI or through the
  broker sub-account API): create a key (idempotent per `label`), change its permissions, list keys
  with their last use, revoke one. Guarded by the `X-SIM-ADMIN-TOKEN` header; never returns a secret
  except once, in the response that creates it.

`SimKeyAdminClient` is a small synchronous client of those routes, for a rotation handler (a
Lambda is synchronous). It returns plain strings: venues do not import security's types; the
application adapts it to `security.rotation.VenueKeyAdmin`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tradestack.venues.simulated import errors
from tradestack.venues.simulated.auth import ApiKeys, KeyPermissions
from tradestack.venues.simulated.errors import BinanceError
from tradestack.venues.simulated.rest import error_response, json_response

ADMIN_HEADER = "X-SIM-ADMIN-TOKEN"
Signed = Callable[[web.Request], Any]


def restrictions_body(permissions: KeyPermissions) -> dict[str, Any]:
    """Binance's GET /sapi/v1/account/apiRestrictions response for one key."""
    return {
        "ipRestrict": bool(permissions.ip_whitelist),
        "createTime": permissions.create_time_ms,
        "enableReading": permissions.enable_reading,
        "enableWithdrawals": permissions.enable_withdrawals,
        "enableInternalTransfer": permissions.enable_internal_transfer,
        "enableMargin": False,
        "enableFutures": False,
        "permitsUniversalTransfer": permissions.enable_internal_transfer,
        "enableVanillaOptions": False,
        "enableFixApiTrade": False,
        "enableFixReadOnly": False,
        "enableSpotAndMarginTrading": permissions.enable_spot_trading,
        "enablePortfolioMarginTrading": False,
    }


class KeyAdmin:
    def __init__(self, keys: ApiKeys, signed: Signed) -> None:
        self.keys = keys
        self._signed = signed
        self.admin_token = secrets.token_hex(24)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/sapi/v1/account/apiRestrictions", self.api_restrictions),
            web.get("/sim/admin/apiKeys", self.list_keys),
            web.post("/sim/admin/apiKeys", self.create_key),
            web.put("/sim/admin/apiKeys/{api_key}", self.update_key),
            web.delete("/sim/admin/apiKeys/{api_key}", self.revoke_key),
        ]

    async def api_restrictions(self, request: web.Request) -> web.Response:
        try:
            await self._signed(request)
        except BinanceError as error:
            return error_response(error)
        api_key = request.headers.get("X-MBX-APIKEY", "")
        return json_response(restrictions_body(self.keys.permissions[api_key]))

    # ---- sim-only admin ------------------------------------------------------------------------------

    def _admin(self, request: web.Request) -> None:
        token = request.headers.get(ADMIN_HEADER, "")
        if not hmac.compare_digest(token.encode(), self.admin_token.encode()):
            raise web.HTTPUnauthorized(text="admin token required")

    async def list_keys(self, request: web.Request) -> web.Response:
        self._admin(request)
        return json_response(
            [
                {
                    "apiKey": api_key,
                    "label": held.label,
                    "lastUsed": held.last_used_ms,
                    **restrictions_body(held),
                }
                for api_key, held in self.keys.permissions.items()
            ]
        )

    async def create_key(self, request: web.Request) -> web.Response:
        self._admin(request)
        body = await _json(request)
        permissions = KeyPermissions(
            enable_spot_trading=bool(body.get("enableSpotAndMarginTrading", False)),
            enable_withdrawals=bool(body.get("enableWithdrawals", False)),
            enable_internal_transfer=bool(body.get("enableInternalTransfer", False)),
            ip_whitelist=tuple(str(ip) for ip in body.get("ipWhitelist", [])),
        )
        api_key, secret = self.keys.create(str(body.get("label", "")), permissions)
        return json_response({"apiKey": api_key, "secretKey": secret})

    async def update_key(self, request: web.Request) -> web.Response:
        self._admin(request)
        held = self.keys.permissions.get(request.match_info["api_key"])
        if held is None:
            return error_response(errors.rejected_api_key())
        body = await _json(request)
        if "enableSpotAndMarginTrading" in body:
            held.enable_spot_trading = bool(body["enableSpotAndMarginTrading"])
        if "enableWithdrawals" in body:
            held.enable_withdrawals = bool(body["enableWithdrawals"])
        if "enableInternalTransfer" in body:
            held.enable_internal_transfer = bool(body["enableInternalTransfer"])
        if "ipWhitelist" in body:
            held.ip_whitelist = tuple(str(ip) for ip in body["ipWhitelist"])
        return json_response(restrictions_body(held))

    async def revoke_key(self, request: web.Request) -> web.Response:
        self._admin(request)
        return json_response({"revoked": self.keys.revoke(request.match_info["api_key"])})


async def _json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


class SimKeyAdminError(RuntimeError):
    pass


class SimKeyAdminClient:
    """Synchronous client of the sim's key admin routes (for a rotation handler), bounded timeouts."""

    def __init__(
        self,
        base_url: str,
        admin_token: str,
        ip_whitelist: tuple[str, ...] = ("127.0.0.1",),
        timeout_s: float = 5.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = admin_token
        self._ip_whitelist = ip_whitelist
        self._timeout = timeout_s

    def __repr__(self) -> str:
        return f"SimKeyAdminClient({self._base!r}, admin_token=<redacted>)"

    def create_key(self, label: str) -> tuple[str, str]:
        """A key with trading OFF until enable_key; the same key again for a label already used."""
        body = self._admin(
            "POST", "/sim/admin/apiKeys", {"label": label, "ipWhitelist": list(self._ip_whitelist)}
        )
        return str(body["apiKey"]), str(body["secretKey"])

    def enable_key(self, api_key: str) -> None:
        self._admin(
            "PUT",
            f"/sim/admin/apiKeys/{api_key}",
            {
                "enableSpotAndMarginTrading": True,
                "enableWithdrawals": False,
                "enableInternalTransfer": False,
                "ipWhitelist": list(self._ip_whitelist),
            },
        )

    def api_restrictions(self, api_key: str, api_secret: str) -> dict[str, Any]:
        """Signed GET /sapi/v1/account/apiRestrictions with the given key."""
        query = urlencode({"timestamp": str(int(time.time() * 1000)), "recvWindow": "5000"})
        signature = hmac.new(api_secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        request = urllib.request.Request(
            f"{self._base}/sapi/v1/account/apiRestrictions?{query}&signature={signature}",
            headers={"X-MBX-APIKEY": api_key},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                result: dict[str, Any] = json.loads(response.read())
                return result
        except urllib.error.HTTPError as error:
            raise SimKeyAdminError(f"apiRestrictions refused the key: HTTP {error.code}") from None

    def revoke_key(self, api_key: str) -> None:
        self._admin("DELETE", f"/sim/admin/apiKeys/{api_key}", None)

    def keys(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._admin("GET", "/sim/admin/apiKeys", None)
        return result

    def _admin(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self._base}{path}",
            data=data,
            method=method,
            headers={ADMIN_HEADER: self._token, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise SimKeyAdminError(
                f"{method} {path.split('/apiKeys')[0]}/apiKeys: HTTP {error.code}"
            ) from None
