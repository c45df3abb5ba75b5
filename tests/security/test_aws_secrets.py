"""The Secrets Manager store against moto's server (real boto3 over HTTP on 127.0.0.1)."""

from __future__ import annotations

import json

import pytest

from tradestack.security.aws_secrets import AwsSecretsManagerStore, SecretsManagerClient
from tradestack.security.secrets import Secret, SecretNotFound, SecretStore

pytestmark = pytest.mark.timeout(60)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _pair(key: str, secret: str) -> str:
    return json.dumps({"api_key": key, "api_secret": secret})


def test_reads_fields_of_awscurrent_and_caches_them(
    secrets_client: SecretsManagerClient, secret_name: str
) -> None:
    secrets_client.create_secret(Name=secret_name, SecretString=_pair("KEY-A", "SECRET-A"))
    clock = Clock()
    accesses: list[tuple[str, str, str]] = []
    store = AwsSecretsManagerStore(
        secrets_client,
        refresh_interval_s=30,
        overlap_window_s=600,
        monotonic=clock,
        on_access=lambda *access: accesses.append(access),
    )
    port: SecretStore = store  # it is the SecretStore port

    assert port.get(f"{secret_name}#api_key").reveal() == "KEY-A"
    pair = store.get_fields(secret_name)
    assert pair["api_secret"].reveal() == "SECRET-A"
    assert "SECRET-A" not in repr(pair)
    assert len(accesses) == 1  # one fetch, then the cache
    assert accesses[0][0] == secret_name and accesses[0][2] == "read"

    secrets_client.put_secret_value(
        SecretId=secret_name, SecretString=_pair("KEY-B", "SECRET-B"), VersionStages=["AWSCURRENT"]
    )
    assert store.get(f"{secret_name}#api_key").reveal() == "KEY-A"  # cached
    clock.now = 31
    assert store.get(f"{secret_name}#api_key").reveal() == "KEY-B"  # refreshed after the interval
    assert len(accesses) == 2


def test_an_authentication_failure_refetches_at_once(
    secrets_client: SecretsManagerClient, secret_name: str
) -> None:
    secrets_client.create_secret(Name=secret_name, SecretString=_pair("KEY-A", "SECRET-A"))
    store = AwsSecretsManagerStore(secrets_client, refresh_interval_s=300, overlap_window_s=900)
    first = store.version(secret_name)
    secrets_client.put_secret_value(
        SecretId=secret_name, SecretString=_pair("KEY-B", "SECRET-B"), VersionStages=["AWSCURRENT"]
    )
    assert store.get_fields(secret_name)["api_key"].reveal() == "KEY-A"

    second = store.refresh(secret_name)

    assert second != first
    assert store.get_fields(secret_name)["api_key"].reveal() == "KEY-B"


def test_the_refresh_interval_must_be_inside_the_overlap_window(secrets_client: SecretsManagerClient) -> None:
    with pytest.raises(ValueError, match="shorter than the rotation overlap"):
        AwsSecretsManagerStore(secrets_client, refresh_interval_s=900, overlap_window_s=600)


def test_missing_secrets_and_fields_are_named_without_values(
    secrets_client: SecretsManagerClient, secret_name: str
) -> None:
    store = AwsSecretsManagerStore(secrets_client, refresh_interval_s=1, overlap_window_s=10)
    with pytest.raises(SecretNotFound, match="not found"):
        store.get(secret_name)
    store.put(secret_name, Secret(_pair("KEY-C", "SECRET-C")))
    with pytest.raises(SecretNotFound, match="no field 'passphrase'") as raised:
        store.get(f"{secret_name}#passphrase")
    assert "SECRET-C" not in str(raised.value)
    store.put_fields(secret_name, {"api_key": Secret("KEY-D"), "api_secret": Secret("SECRET-D")})
    assert store.get(f"{secret_name}#api_secret").reveal() == "SECRET-D"


def test_an_unreachable_endpoint_is_a_store_error_without_details() -> None:
    from tradestack.security.aws_secrets import client
    from tradestack.security.secrets import SecretStoreError

    dead = client(
        "us-east-1",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="testing",
        secret_access_key=Secret("testing"),
        connect_timeout_s=0.2,
        read_timeout_s=0.2,
    )
    store = AwsSecretsManagerStore(dead, refresh_interval_s=1, overlap_window_s=10)
    with pytest.raises(SecretStoreError, match="unreachable"):
        store.get("tradestack/anything")
