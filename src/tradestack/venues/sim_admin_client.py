"""A small synchronous client of the simulated exchange's key admin routes (venues/simulated/key_admin.py).

For a rotation handler: a Lambda is synchronous, and this module imports the standard library only, so
the rotation Lambda's package needs neither aiohttp nor the simulator (the `simulated` package's own
`__init__` starts the server's imports). It returns plain strings: venues do not import security's
types; the application adapts it to `security.rotation.VenueKeyAdmin` (app/rotation_lambda.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

ADMIN_HEADER = "X-SIM-ADMIN-TOKEN"


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
