"""AWS Secrets Manager as the secret store: cached, refreshed well inside the rotation overlap.

Exchange credentials are one Secrets Manager secret holding a JSON object, so the key and its
secret always change together in one version:

    secret id "tradestack/binance"  ->  {"api_key": "...", "api_secret": "..."}

`get("tradestack/binance#api_key")` reads one field; `get_fields("tradestack/binance")` reads every
field from ONE version (use it for a key pair: two `get` calls could straddle a refresh).

Values are always read by stage `AWSCURRENT` (never "whatever GetSecretValue returns by default":
moto, and some SDK caches, can hand back the old value after a stage move). Each secret is cached
for `refresh_interval_s`, which must be shorter than the rotation overlap window (the time the old
key stays valid at the venue after AWSCURRENT moves), so every engine picks up the new key before
the old one is revoked. On an authentication failure the caller calls `refresh()`: the cache is
dropped and AWSCURRENT fetched again at once.

boto3 is loaded at run time (`client()`), so this module types against a small protocol and the
package needs no boto3 stubs.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tradestack.security.secrets import Secret, SecretNotFound, SecretStoreError

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
PREVIOUS = "AWSPREVIOUS"
FIELD_SEPARATOR = "#"


class SecretsManagerClient(Protocol):
    """The part of boto3's `secretsmanager` client tradestack uses."""

    def get_secret_value(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def put_secret_value(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def create_secret(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def describe_secret(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def update_secret_version_stage(self, **kwargs: Any) -> Mapping[str, Any]: ...


def client(
    region: str,
    endpoint_url: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: Secret | None = None,
    connect_timeout_s: float = 3.0,
    read_timeout_s: float = 5.0,
) -> SecretsManagerClient:
    """A boto3 Secrets Manager client with bounded timeouts and retries.

    Credentials: the instance role (IMDS / IRSA) in production, so leave them None; tests pass the
    dummy credentials moto accepts. `endpoint_url` points at a VPC endpoint or at moto.
    """
    boto3 = importlib.import_module("boto3")
    config = importlib.import_module("botocore.config").Config(
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    kwargs: dict[str, Any] = {"region_name": region, "config": config}
    if endpoint_url is not None:
        kwargs["endpoint_url"] = endpoint_url
    if access_key_id is not None and secret_access_key is not None:
        kwargs["aws_access_key_id"] = access_key_id
        kwargs["aws_secret_access_key"] = secret_access_key.reveal()
    made: SecretsManagerClient = boto3.client("secretsmanager", **kwargs)
    return made


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError (ResourceNotFoundException...), else None."""
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        detail = response.get("Error")
        if isinstance(detail, Mapping):
            code = detail.get("Code")
            return str(code) if code is not None else None
    return None


def is_client_error(error: BaseException) -> bool:
    return error_code(error) is not None


@dataclass(frozen=True, slots=True)
class _Cached:
    version_id: str
    fields: dict[str, Secret] | None  # None: the value is not a JSON object
    whole: Secret
    fetched: float


AccessObserver = Callable[[str, str, str], None]  # (secret id, version id, reason)


class AwsSecretsManagerStore:
    """The `SecretStore` port over Secrets Manager, with a per-secret cache.

    `on_access(secret_id, version_id, reason)` is called on every fetch from AWS (not on cache hits):
    bind it to the audit log (`SecretAccessed`). Thread-safe.
    """

    def __init__(
        self,
        secrets_client: SecretsManagerClient,
        *,
        refresh_interval_s: float = 60.0,
        overlap_window_s: float = 900.0,
        monotonic: Callable[[], float] = time.monotonic,
        on_access: AccessObserver | None = None,
    ) -> None:
        if refresh_interval_s <= 0:
            raise ValueError("refresh_interval_s must be positive")
        if refresh_interval_s >= overlap_window_s:
            raise ValueError(
                f"refresh_interval_s ({refresh_interval_s}) must be shorter than the rotation overlap "
                f"window ({overlap_window_s}): an engine must see the new key before the old one is revoked"
            )
        self._client = secrets_client
        self.refresh_interval_s = refresh_interval_s
        self.overlap_window_s = overlap_window_s
        self._monotonic = monotonic
        self._on_access = on_access
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    # -- SecretStore ----------------------------------------------------------------------------
    def get(self, name: str) -> Secret:
        secret_id, _, field = name.partition(FIELD_SEPARATOR)
        cached = self._current(secret_id, "read")
        if not field:
            return cached.whole
        if cached.fields is None or field not in cached.fields:
            raise SecretNotFound(
                f"secret {secret_id!r} has no field {field!r}: its value must be a JSON object holding it"
            )
        return cached.fields[field]

    def put(self, name: str, secret: Secret) -> None:
        """Store a whole value as AWSCURRENT (creating the secret if needed). Not for rotation."""
        secret_id, _, field = name.partition(FIELD_SEPARATOR)
        if field:
            raise ValueError("put writes a whole secret; use put_fields for a JSON secret")
        self._put(secret_id, secret.reveal())

    # -- pairs ----------------------------------------------------------------------------------
    def get_fields(self, secret_id: str) -> dict[str, Secret]:
        cached = self._current(secret_id, "read")
        if cached.fields is None:
            raise SecretStoreError(f"secret {secret_id!r} does not hold a JSON object of strings")
        return dict(cached.fields)

    def put_fields(self, secret_id: str, fields: Mapping[str, Secret]) -> None:
        self._put(secret_id, json.dumps({name: value.reveal() for name, value in fields.items()}))

    def version(self, secret_id: str) -> str:
        """The AWSCURRENT version id in use (a cache hit when fresh)."""
        return self._current(secret_id, "read").version_id

    def refresh(self, secret_id: str) -> str:
        """Drop the cache and fetch AWSCURRENT now (after an authentication failure). The version id."""
        with self._lock:
            self._cache.pop(secret_id, None)
        return self._current(secret_id, "authentication failure").version_id

    # -- internals ------------------------------------------------------------------------------
    def _current(self, secret_id: str, reason: str) -> _Cached:
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(secret_id)
            if cached is not None and now - cached.fetched < self.refresh_interval_s:
                return cached
        fetched = self._fetch(secret_id, now, reason if cached is None else "refresh")
        with self._lock:
            self._cache[secret_id] = fetched
        return fetched

    def _fetch(self, secret_id: str, now: float, reason: str) -> _Cached:
        try:
            response = self._client.get_secret_value(SecretId=secret_id, VersionStage=CURRENT)
        except Exception as error:
            code = error_code(error)
            if code == "ResourceNotFoundException":
                raise SecretNotFound(f"secret {secret_id!r} not found in AWS Secrets Manager") from None
            if code is not None:
                raise SecretStoreError(f"AWS Secrets Manager refused {secret_id!r}: {code}") from None
            raise SecretStoreError(
                f"AWS Secrets Manager unreachable reading {secret_id!r}: {type(error).__name__}"
            ) from None
        value = response.get("SecretString")
        if not isinstance(value, str) or not value:
            raise SecretStoreError(f"secret {secret_id!r} has no SecretString")
        version_id = str(response.get("VersionId", ""))
        if self._on_access is not None:
            self._on_access(secret_id, version_id, reason)
        return _Cached(version_id, parse_fields(value), Secret(value), now)

    def _put(self, secret_id: str, value: str) -> None:
        try:
            self._client.put_secret_value(SecretId=secret_id, SecretString=value, VersionStages=[CURRENT])
        except Exception as error:
            if error_code(error) != "ResourceNotFoundException":
                raise SecretStoreError(
                    f"cannot write {secret_id!r}: {error_code(error) or type(error).__name__}"
                ) from None
            self._client.create_secret(Name=secret_id, SecretString=value)
        with self._lock:
            self._cache.pop(secret_id, None)


def parse_fields(value: str) -> dict[str, Secret] | None:
    """A JSON object of strings as Secrets; None for anything else. Never echoes the value."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return None
    return {str(key): Secret(item) for key, item in data.items()}
