"""API-key management on the simulated exchange: Binance's apiRestrictions, and a sim-only admin API.

* `GET /sapi/v1/account/apiRestrictions` (USER_DATA, signed), Binance's shape: what the calling key
  may do (enableWithdrawals, ipRestrict, enableSpotAndMarginTrading, ...).
* `/sim/admin/apiKeys` — not a Binance endpoint (Binance keys are made in its web UI or through the
  broker sub-account API): create a key (idempotent per `label`), change its permissions, list keys
  with their last use, revoke one. Guarded by the `X-SIM-ADMIN-TOKEN` header; never returns a secret
  except once, in the response that creates it.

Its client is `venues/sim_admin_client.py`: a rotation Lambda imports that without this server.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tradestack.venues.sim_admin_client import ADMIN_HEADER
from tradestack.venues.simulated import errors
from tradestack.venues.simulated.auth import ApiKeys, KeyPermissions
from tradestack.venues.simulated.errors import BinanceError
from tradestack.venues.simulated.rest import error_response, json_response

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
