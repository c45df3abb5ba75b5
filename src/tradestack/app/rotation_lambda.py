"""The exchange-key rotation Lambda: Secrets Manager's four steps through security/rotation.py.

`scripts/build_rotation_lambda.py` packages it as `build/tradestack_rotation.zip`, whose top-level
module `tradestack_rotation` re-exports `handler` (Terraform: `handler = "tradestack_rotation.handler"`).
The package holds tradestack's pure-Python code only: the Lambda runtime brings boto3, and nothing on
this import path needs more than the standard library.

Configuration is the function's environment, addresses only — never a secret:

    SECRETS_MANAGER_ENDPOINT   Secrets Manager's URL (the VPC interface endpoint; Terraform sets it)
    AWS_REGION                 set by Lambda itself
    KEY_ADMIN                  who creates and revokes keys at the venue: `simulated`
    KEY_ADMIN_URL              that key admin's base URL
    KEY_ADMIN_TOKEN_SECRET_ID  the Secrets Manager secret whose `admin_token` field authorises it
    KEY_IP_WHITELIST           comma-separated addresses the new key is restricted to (the NAT IPs)

Binance has no API that creates API keys for an ordinary account (its web UI does, and the Broker API
for broker sub-accounts), so `KEY_ADMIN=binance` is refused with that reason rather than half-working.
Audit records go to the function's log (CloudWatch) as one JSON line each.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from tradestack.security.audit import RotationStep
from tradestack.security.aws_secrets import client, parse_fields
from tradestack.security.rotation import RotationError, RotationHandler, lambda_entry
from tradestack.security.secrets import Secret
from tradestack.venues.sim_admin_client import SimKeyAdminClient, SimKeyAdminError


class SimVenueKeys:
    """The simulated exchange's key admin as a `security.rotation.VenueKeyAdmin`."""

    def __init__(self, admin: SimKeyAdminClient) -> None:
        self.admin = admin

    def create_key(self, label: str) -> tuple[str, Secret]:
        api_key, secret = self.admin.create_key(label)
        return api_key, Secret(secret)

    def enable_key(self, api_key: str) -> None:
        self.admin.enable_key(api_key)

    def test_key(self, api_key: str, api_secret: Secret) -> None:
        try:
            restrictions = self.admin.api_restrictions(api_key, api_secret.reveal())
        except SimKeyAdminError as error:
            raise RotationError(f"the pending key does not authenticate: {error}") from None
        if restrictions["enableWithdrawals"] or not restrictions["enableSpotAndMarginTrading"]:
            raise RotationError("the pending key's permissions are wrong (withdrawals on or trading off)")

    def revoke_key(self, api_key: str) -> None:
        self.admin.revoke_key(api_key)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise RotationError(
            f"the rotation Lambda needs {name} in its environment (see app/rotation_lambda.py)"
        )
    return value


def handler_from_environment(env: Mapping[str, str]) -> RotationHandler:
    kind = _required(env, "KEY_ADMIN")
    if kind == "binance":
        raise RotationError(
            "KEY_ADMIN=binance: Binance creates API keys only in its web UI (or the Broker API for "
            "broker sub-accounts); rotate by hand as docs/security.md describes"
        )
    if kind != "simulated":
        raise RotationError(f"KEY_ADMIN={kind!r}: supported key admins: simulated")
    secrets_client = client(
        _required(env, "AWS_REGION"), endpoint_url=env.get("SECRETS_MANAGER_ENDPOINT") or None
    )
    token_secret = secrets_client.get_secret_value(SecretId=_required(env, "KEY_ADMIN_TOKEN_SECRET_ID"))
    admin_token = (parse_fields(token_secret["SecretString"]) or {}).get("admin_token")
    if admin_token is None:
        raise RotationError("the KEY_ADMIN_TOKEN_SECRET_ID secret has no admin_token field")
    whitelist = tuple(ip.strip() for ip in _required(env, "KEY_IP_WHITELIST").split(",") if ip.strip())
    admin = SimKeyAdminClient(_required(env, "KEY_ADMIN_URL"), admin_token.reveal(), whitelist)
    return RotationHandler(secrets_client, SimVenueKeys(admin), audit=_log_audit)


def _log_audit(step: RotationStep) -> None:
    # CloudWatch keeps the function's output; the step holds ids and outcomes, never key material
    print(json.dumps({"audit": "rotation_step", **dataclasses.asdict(step)}, sort_keys=True), flush=True)


handler: Callable[[Mapping[str, Any], object], None] = lambda_entry(
    lambda: handler_from_environment(os.environ)
)
