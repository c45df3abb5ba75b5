"""The four-step rotation against moto's server: idempotent, and a crash anywhere converges on rerun."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from tradestack.security.audit import RotationStep
from tradestack.security.aws_secrets import SecretsManagerClient
from tradestack.security.rotation import RotationError, RotationHandler, lambda_entry, rotate
from tradestack.security.secrets import Secret

pytestmark = pytest.mark.timeout(120)


class Crash(Exception):
    """A process dying at this point."""


@dataclass
class FakeKey:
    secret: str
    label: str
    enabled: bool = False
    revoked: bool = False


@dataclass
class FakeVenue:
    """An in-memory venue key admin (the simulated exchange's is tested in test_key_admin.py)."""

    keys: dict[str, FakeKey] = field(default_factory=dict)

    def create_key(self, label: str) -> tuple[str, Secret]:
        for api_key, key in self.keys.items():
            if key.label == label and not key.revoked:
                return api_key, Secret(key.secret)
        api_key = secrets.token_hex(16)
        self.keys[api_key] = FakeKey(secrets.token_hex(16), label)
        return api_key, Secret(self.keys[api_key].secret)

    def enable_key(self, api_key: str) -> None:
        self.keys[api_key].enabled = True

    def test_key(self, api_key: str, api_secret: Secret) -> None:
        key = self.keys.get(api_key)
        if key is None or key.revoked or not key.enabled or key.secret != api_secret.reveal():
            raise RotationError("the pending key does not authenticate")

    def revoke_key(self, api_key: str) -> None:
        if api_key in self.keys:
            self.keys[api_key].revoked = True


_MUTATING = {"put_secret_value", "update_secret_version_stage", "create_key", "enable_key", "revoke_key"}


class Crasher:
    """Counts side-effecting calls on the client and the venue; the n-th one crashes the process
    just before or just after it takes effect."""

    def __init__(self, crash_at: int | None, after: bool) -> None:
        self.crash_at = crash_at
        self.after = after
        self.calls = 0

    def wrap(self, target: Any) -> Any:
        crasher = self

        class Proxy:
            def __getattr__(self, name: str) -> Any:
                attribute = getattr(target, name)
                if name not in _MUTATING:
                    return attribute

                def call(*args: Any, **kwargs: Any) -> Any:
                    crasher.calls += 1
                    crashing = crasher.crash_at == crasher.calls
                    if crashing and not crasher.after:
                        raise Crash(name)
                    result = attribute(*args, **kwargs)
                    if crashing:
                        raise Crash(name)
                    return result

                return call

        return Proxy()


def _setup(client: SecretsManagerClient, name: str, venue: FakeVenue) -> str:
    api_key, api_secret = venue.create_key("initial")
    venue.enable_key(api_key)
    client.create_secret(
        Name=name, SecretString=json.dumps({"api_key": api_key, "api_secret": api_secret.reveal()})
    )
    return api_key


def _stages(client: SecretsManagerClient, name: str) -> dict[str, list[str]]:
    raw: Mapping[str, list[str]] = client.describe_secret(SecretId=name)["VersionIdsToStages"]
    return {version: list(stages) for version, stages in raw.items()}


def _current(client: SecretsManagerClient, name: str) -> dict[str, str]:
    value: dict[str, str] = json.loads(
        client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]
    )
    return value


def _assert_converged(
    client: SecretsManagerClient, name: str, token: str, venue: FakeVenue, key_a: str
) -> None:
    stages = _stages(client, name)
    currents = [version for version, labels in stages.items() if "AWSCURRENT" in labels]
    assert currents == [token], stages
    assert not any("AWSPENDING" in labels for labels in stages.values()), stages
    assert any("AWSPREVIOUS" in labels for labels in stages.values()), stages
    current = _current(client, name)
    key_b = current["api_key"]
    assert key_b != key_a
    live = {api_key for api_key, key in venue.keys.items() if not key.revoked}
    assert live == {key_a, key_b}, "no orphan keys at the venue"
    assert venue.keys[key_b].enabled and venue.keys[key_a].enabled  # A still valid: the overlap


def test_a_rotation_runs_the_four_steps_and_is_idempotent(
    secrets_client: SecretsManagerClient, secret_name: str
) -> None:
    venue = FakeVenue()
    key_a = _setup(secrets_client, secret_name, venue)
    audited: list[RotationStep] = []
    handler = RotationHandler(secrets_client, venue, audit=audited.append, require_rotation_enabled=False)
    token = str(uuid.uuid4())

    rotate(handler, secret_name, token)
    _assert_converged(secrets_client, secret_name, token, venue, key_a)
    assert [step.step for step in audited] == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    assert all(step.outcome != "failed" for step in audited)

    # the same request token again: nothing changes, no new key at the venue
    keys_before = dict(venue.keys)
    rotate(handler, secret_name, token)
    _assert_converged(secrets_client, secret_name, token, venue, key_a)
    assert venue.keys.keys() == keys_before.keys()
    assert all(step.outcome == "already current" for step in audited[4:])

    # the old key is revoked only once every engine runs the new version
    current_version = next(
        v for v, labels in _stages(secrets_client, secret_name).items() if "AWSCURRENT" in labels
    )
    assert not handler.revoke_previous(secret_name, lambda version: False)
    assert not venue.keys[key_a].revoked
    assert handler.revoke_previous(secret_name, lambda version: version == current_version)
    assert venue.keys[key_a].revoked
    for step in audited:
        for value in (venue.keys[k].secret for k in venue.keys):
            assert value not in repr(step)


def test_lambda_events_drive_the_same_steps(secrets_client: SecretsManagerClient, secret_name: str) -> None:
    venue = FakeVenue()
    key_a = _setup(secrets_client, secret_name, venue)
    lambda_handler = lambda_entry(
        lambda: RotationHandler(secrets_client, venue, require_rotation_enabled=False)
    )
    token = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        lambda_handler({"SecretId": secret_name, "ClientRequestToken": token, "Step": step}, None)
    _assert_converged(secrets_client, secret_name, token, venue, key_a)
    with pytest.raises(RotationError, match="unknown rotation step"):
        lambda_handler({"SecretId": secret_name, "ClientRequestToken": token, "Step": "dropTable"}, None)


def test_rotation_refuses_when_not_enabled(secrets_client: SecretsManagerClient, secret_name: str) -> None:
    venue = FakeVenue()
    _setup(secrets_client, secret_name, venue)
    handler = RotationHandler(secrets_client, venue)  # moto reports RotationEnabled unset
    with pytest.raises(RotationError, match="not enabled"):
        rotate(handler, secret_name, str(uuid.uuid4()))


def _clean_run_calls(client: SecretsManagerClient, name: str) -> int:
    venue = FakeVenue()
    _setup(client, name, venue)
    crasher = Crasher(None, after=False)
    handler = RotationHandler(crasher.wrap(client), crasher.wrap(venue), require_rotation_enabled=False)
    rotate(handler, name, str(uuid.uuid4()))
    return crasher.calls


@pytest.mark.parametrize("after", [False, True], ids=["crash-before", "crash-after"])
def test_a_crash_at_any_side_effect_converges_on_rerun(
    secrets_client: SecretsManagerClient, secret_name: str, after: bool
) -> None:
    total = _clean_run_calls(secrets_client, f"{secret_name}-probe")
    assert total >= 5  # create_key, put pending, enable, move CURRENT, remove PENDING
    for crash_at in range(1, total + 1):
        name = f"{secret_name}-{crash_at}"
        venue = FakeVenue()
        key_a = _setup(secrets_client, name, venue)
        token = str(uuid.uuid4())
        crasher = Crasher(crash_at, after)
        crashing = RotationHandler(
            crasher.wrap(secrets_client), crasher.wrap(venue), require_rotation_enabled=False
        )
        with pytest.raises(Crash):
            rotate(crashing, name, token)
        # Secrets Manager retries the rotation with the same token: every step from the start
        fresh = RotationHandler(secrets_client, venue, require_rotation_enabled=False)
        rotate(fresh, name, token)
        _assert_converged(secrets_client, name, token, venue, key_a)
        rotate(fresh, name, token)  # and once more: still one AWSCURRENT, still two live keys
        _assert_converged(secrets_client, name, token, venue, key_a)


def test_an_abandoned_rotation_is_cancelled_without_orphans(
    secrets_client: SecretsManagerClient, secret_name: str
) -> None:
    venue = FakeVenue()
    key_a = _setup(secrets_client, secret_name, venue)
    handler = RotationHandler(secrets_client, venue, require_rotation_enabled=False)
    token = str(uuid.uuid4())
    handler.run_step(secret_name, token, "createSecret")
    handler.cancel(secret_name, token)
    live = {api_key for api_key, key in venue.keys.items() if not key.revoked}
    assert live == {key_a}
    assert not any("AWSPENDING" in labels for labels in _stages(secrets_client, secret_name).values())
    assert _current(secrets_client, secret_name)["api_key"] == key_a
