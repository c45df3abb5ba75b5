"""Rotation of exchange API keys with two keys overlapping, as a Secrets Manager rotation handler.

Secrets Manager drives rotation in four steps, each called with the secret's ARN and a
ClientRequestToken that names the new version; any step may be called again (a retry, a crash):

  createSecret  create key B at the venue (idempotent on the token: the venue key carries the label
                `rotation-<token>`, so a rerun finds B instead of minting an orphan) and store it as
                the AWSPENDING version under the token.
  setSecret     enable B at the venue: trading on, withdrawals off, the IP whitelist applied.
  testSecret    sign a request with B and check its restrictions (trading yes, withdrawals no).
  finishSecret  move AWSCURRENT to the token (AWS marks the old version AWSPREVIOUS) and remove
                AWSPENDING from it.

Key A stays valid at the venue after finishSecret: engines read AWSCURRENT every refresh interval
(shorter than the overlap window) and at once on an authentication failure. Only when every engine
reports the new version (`revoke_previous(..., all_switched)`) is A revoked. Each step is written to
the audit trail. moto cannot invoke a rotation Lambda, so tests call the steps directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from tradestack.security.audit import RotationStep
from tradestack.security.aws_secrets import (
    CURRENT,
    PENDING,
    PREVIOUS,
    SecretsManagerClient,
    error_code,
    parse_fields,
)
from tradestack.security.secrets import Secret

API_KEY_FIELD = "api_key"
API_SECRET_FIELD = "api_secret"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class RotationError(RuntimeError):
    """A rotation step cannot proceed. Messages never hold secret values."""


class VenueKeyAdmin(Protocol):
    """API-key management at one venue (implemented in venues/, so security never imports them)."""

    def create_key(self, label: str) -> tuple[str, Secret]:
        """A new key with trading disabled; the SAME key again for a label already used."""
        ...

    def enable_key(self, api_key: str) -> None:
        """Allow spot trading, forbid withdrawals and transfers, apply the IP whitelist. Idempotent."""
        ...

    def test_key(self, api_key: str, api_secret: Secret) -> None:
        """Sign a request with the key; raise RotationError if it fails or the key can withdraw."""
        ...

    def revoke_key(self, api_key: str) -> None:
        """Delete the key at the venue. Idempotent: an unknown key is already revoked."""
        ...


AuditCallback = Callable[[RotationStep], None]


class RotationHandler:
    def __init__(
        self,
        secrets_client: SecretsManagerClient,
        venue: VenueKeyAdmin,
        *,
        audit: AuditCallback | None = None,
        require_rotation_enabled: bool = True,
    ) -> None:
        self._client = secrets_client
        self._venue = venue
        self._audit = audit
        self._require_enabled = require_rotation_enabled

    # -- the Lambda entry --------------------------------------------------------------------------
    def handle(self, event: Mapping[str, Any]) -> None:
        """`{"SecretId", "ClientRequestToken", "Step"}` as Secrets Manager sends it."""
        secret_id = str(event["SecretId"])
        token = str(event["ClientRequestToken"])
        step = str(event["Step"])
        if step not in STEPS:
            raise RotationError(f"unknown rotation step {step!r}")
        self.run_step(secret_id, token, step)

    def run_step(self, secret_id: str, token: str, step: str) -> None:
        action = {
            "createSecret": self.create_secret,
            "setSecret": self.set_secret,
            "testSecret": self.test_secret,
            "finishSecret": self.finish_secret,
        }[step]
        try:
            outcome = action(secret_id, token)
        except Exception as error:
            self._record(secret_id, step, token, "failed", type(error).__name__)
            raise
        self._record(secret_id, step, token, outcome)

    # -- the four steps ----------------------------------------------------------------------------
    def create_secret(self, secret_id: str, token: str) -> str:
        stages = self._stages(secret_id, token, allow_unknown=True)
        if stages is not None and CURRENT in stages:
            return "already current"
        current = self._value(secret_id, stage=CURRENT)
        if stages is not None and self._pending_value(secret_id, token) is not None:
            return "already created"
        api_key, api_secret = self._venue.create_key(label=f"rotation-{token}")
        fields = {name: value.reveal() for name, value in current.items()}
        fields[API_KEY_FIELD] = api_key
        fields[API_SECRET_FIELD] = api_secret.reveal()
        try:
            self._client.put_secret_value(
                SecretId=secret_id,
                ClientRequestToken=token,
                SecretString=json.dumps(fields, sort_keys=True),
                VersionStages=[PENDING],
            )
        except Exception as error:
            if error_code(error) is None:
                raise
            raise RotationError(
                f"createSecret: cannot store the pending version of {secret_id}: {_describe(error)}"
            ) from None
        return "created"

    def set_secret(self, secret_id: str, token: str) -> str:
        stages = self._known_stages(secret_id, token)
        if CURRENT in stages:
            return "already current"
        pending = self._pending(secret_id, token)
        self._venue.enable_key(pending[API_KEY_FIELD].reveal())
        return "enabled"

    def test_secret(self, secret_id: str, token: str) -> str:
        stages = self._known_stages(secret_id, token)
        if CURRENT in stages:
            return "already current"
        pending = self._pending(secret_id, token)
        self._venue.test_key(pending[API_KEY_FIELD].reveal(), pending[API_SECRET_FIELD])
        return "tested"

    def finish_secret(self, secret_id: str, token: str) -> str:
        versions = self._versions(secret_id)
        stages = versions.get(token)
        if stages is None:
            raise RotationError(f"finishSecret: version {token} of {secret_id} does not exist")
        current_version = next((v for v, labels in versions.items() if CURRENT in labels), None)
        outcome = "already current"
        if current_version != token:
            if PENDING not in stages:
                raise RotationError(f"finishSecret: version {token} of {secret_id} is not AWSPENDING")
            kwargs: dict[str, Any] = {
                "SecretId": secret_id,
                "VersionStage": CURRENT,
                "MoveToVersionId": token,
            }
            if current_version is not None:
                kwargs["RemoveFromVersionId"] = current_version
            self._client.update_secret_version_stage(**kwargs)
            outcome = "made current"
        if PENDING in self._versions(secret_id).get(token, []):
            self._client.update_secret_version_stage(
                SecretId=secret_id, VersionStage=PENDING, RemoveFromVersionId=token
            )
        return outcome

    # -- after the overlap ---------------------------------------------------------------------------
    def revoke_previous(self, secret_id: str, all_switched: Callable[[str], bool]) -> bool:
        """Revoke the AWSPREVIOUS key once `all_switched(current_version_id)` says every engine uses
        the current one. True when revoked (or nothing to revoke); False to try again later."""
        versions = self._versions(secret_id)
        current_version = next((v for v, labels in versions.items() if CURRENT in labels), None)
        previous_version = next((v for v, labels in versions.items() if PREVIOUS in labels), None)
        if current_version is None or previous_version is None:
            return True
        current = self._value(secret_id, version=current_version)
        previous = self._value(secret_id, version=previous_version)
        old_key = previous[API_KEY_FIELD].reveal()
        if old_key == current[API_KEY_FIELD].reveal():
            return True
        if not all_switched(current_version):
            self._record(secret_id, "revokePrevious", previous_version, "waiting for engines")
            return False
        self._venue.revoke_key(old_key)
        self._record(secret_id, "revokePrevious", previous_version, "revoked")
        return True

    def cancel(self, secret_id: str, token: str) -> None:
        """Abandon a rotation that did not finish: revoke the pending key, drop AWSPENDING."""
        stages = self._stages(secret_id, token, allow_unknown=True)
        if stages is None or CURRENT in stages:
            return
        pending = self._pending_value(secret_id, token)
        if pending is not None:
            self._venue.revoke_key(pending[API_KEY_FIELD].reveal())
        if PENDING in stages:
            self._client.update_secret_version_stage(
                SecretId=secret_id, VersionStage=PENDING, RemoveFromVersionId=token
            )
        self._record(secret_id, "cancel", token, "cancelled")

    # -- Secrets Manager reads ----------------------------------------------------------------------
    def _versions(self, secret_id: str) -> dict[str, list[str]]:
        meta = self._client.describe_secret(SecretId=secret_id)
        if self._require_enabled and not meta.get("RotationEnabled"):
            raise RotationError(f"rotation is not enabled for {secret_id}")
        raw = meta.get("VersionIdsToStages") or {}
        return {str(version): [str(stage) for stage in stages] for version, stages in raw.items()}

    def _stages(self, secret_id: str, token: str, allow_unknown: bool = False) -> list[str] | None:
        stages = self._versions(secret_id).get(token)
        if stages is None:
            if allow_unknown:
                return None
            raise RotationError(f"version {token} of {secret_id} does not exist; run createSecret first")
        if CURRENT not in stages and PENDING not in stages:
            raise RotationError(f"version {token} of {secret_id} is neither AWSCURRENT nor AWSPENDING")
        return stages

    def _known_stages(self, secret_id: str, token: str) -> list[str]:
        stages = self._stages(secret_id, token)
        assert stages is not None  # _stages raises for an unknown version unless allowed
        return stages

    def _value(
        self, secret_id: str, *, stage: str | None = None, version: str | None = None
    ) -> dict[str, Secret]:
        kwargs: dict[str, str] = {"SecretId": secret_id}
        if stage is not None:
            kwargs["VersionStage"] = stage
        if version is not None:
            kwargs["VersionId"] = version
        response = self._client.get_secret_value(**kwargs)
        fields = parse_fields(str(response.get("SecretString", "")))
        if fields is None or API_KEY_FIELD not in fields or API_SECRET_FIELD not in fields:
            raise RotationError(
                f"{secret_id} must hold a JSON object with {API_KEY_FIELD!r} and {API_SECRET_FIELD!r}"
            )
        return fields

    def _pending_value(self, secret_id: str, token: str) -> dict[str, Secret] | None:
        try:
            return self._value(secret_id, stage=PENDING, version=token)
        except Exception as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise

    def _pending(self, secret_id: str, token: str) -> dict[str, Secret]:
        pending = self._pending_value(secret_id, token)
        if pending is None:
            raise RotationError(f"no AWSPENDING value for version {token} of {secret_id}")
        return pending

    def _record(self, secret_id: str, step: str, token: str, outcome: str, detail: str = "") -> None:
        if self._audit is not None:
            self._audit(RotationStep(secret_id, step, token, outcome, detail))


def rotate(handler: RotationHandler, secret_id: str, token: str) -> None:
    """All four steps in order (what Secrets Manager does); each is safe to repeat."""
    for step in STEPS:
        handler.run_step(secret_id, token, step)


def lambda_entry(factory: Callable[[], RotationHandler]) -> Callable[[Mapping[str, Any], object], None]:
    """Wrap a handler factory as an AWS Lambda function: `lambda_handler = lambda_entry(build)`."""

    def lambda_handler(event: Mapping[str, Any], context: object) -> None:
        factory().handle(event)

    return lambda_handler


def _describe(error: BaseException) -> str:
    return error_code(error) or type(error).__name__
