"""Secrets: redacted value type, a 0600 file store that refuses loose files, no credentials in env."""

from __future__ import annotations

import json
import os
import pickle
import stat
from pathlib import Path

import pytest

from tradestack.security.redaction import is_secret_key, redact_secrets, redact_text
from tradestack.security.secrets import (
    CredentialsInEnvironment,
    FileSecretStore,
    InsecureSecretFile,
    Secret,
    SecretNotFound,
    SecretStore,
    SecretStoreError,
    check_environment,
    looks_like_exchange_credential,
)

pytestmark = pytest.mark.timeout(10)


def test_a_secret_never_prints_its_value() -> None:
    secret = Secret("hunter2")

    assert repr(secret) == "Secret('***')"
    assert str(secret) == "***"
    assert f"{secret}" == "***"
    assert "hunter2" not in repr({"key": secret, "keys": [secret]})
    assert secret.reveal() == "hunter2"
    assert secret == Secret("hunter2")
    assert secret != Secret("hunter3")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)


def test_the_file_store_creates_a_0600_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secrets.json"
    store: SecretStore = FileSecretStore(path)

    store.put("binance_api_key", Secret("key-123"))
    store.put("binance_api_secret", Secret("secret-456"))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store.get("binance_api_key").reveal() == "key-123"
    assert json.loads(path.read_text()) == {"binance_api_key": "key-123", "binance_api_secret": "secret-456"}
    assert [entry.name for entry in path.parent.iterdir()] == ["secrets.json"]  # no temporary left


def test_the_file_is_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        FileSecretStore(tmp_path / "secrets.json").put("name", Secret("value"))
    finally:
        os.umask(previous)

    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o644])
def test_a_file_others_can_read_or_write_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "secrets.json"
    store = FileSecretStore(path)
    store.put("binance_api_key", Secret("key-123"))
    path.chmod(mode)

    with pytest.raises(InsecureSecretFile) as raised:
        store.get("binance_api_key")

    message = str(raised.value)
    assert str(path) in message
    assert f"chmod 600 {path}" in message
    assert "key-123" not in message
    with pytest.raises(InsecureSecretFile):
        store.put("other", Secret("x"))  # not silently rewritten either


def test_a_file_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    FileSecretStore(path).put("name", Secret("value"))
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    os.chown(path, 65534, 65534)  # nobody

    with pytest.raises(InsecureSecretFile, match=r"owned by uid 65534, not by the current user"):
        FileSecretStore(path).get("name")


def test_missing_secrets_and_files_say_what_to_do(tmp_path: Path) -> None:
    store = FileSecretStore(tmp_path / "secrets.json")
    with pytest.raises(SecretNotFound, match="does not exist; create it with mode 0600"):
        store.get("binance_api_key")

    store.put("binance_api_key", Secret("key-123"))
    with pytest.raises(
        SecretNotFound, match=r"'binance_api_secret' not found in .* \(it holds: binance_api_key\)"
    ):
        store.get("binance_api_secret")


def test_a_corrupt_file_is_reported_without_its_content(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text('{"binance_api_key": "key-123",')
    path.chmod(0o600)

    with pytest.raises(SecretStoreError, match="not valid JSON") as raised:
        FileSecretStore(path).get("binance_api_key")
    assert "key-123" not in str(raised.value)


@pytest.mark.parametrize(
    "name",
    [
        "BINANCE_API_KEY",
        "BINANCE_API_SECRET",
        "BINANCE_SECRET_KEY",
        "BINANCE_KEY",
        "BINANCE_APIKEY",
        "BINANCE_SECRET",
        "BINANCE_TESTNET_API_KEY",
        "BINANCEUS_API_KEY",
        "COINBASE_API_PASSPHRASE",
        "COINBASE_API_SECRET",
        "KRAKEN_PRIVATE_KEY",
        "OKX_PASSPHRASE",
        "OKX_API_KEY",
        "BYBIT_API_SECRET",
        "TRADESTACK_API_KEY",
        "EXCHANGE_API_KEY",
        "FREQTRADE__EXCHANGE__KEY",
        "FREQTRADE__EXCHANGE__SECRET",
        "TESTNET_API_SECRET",
        "API_KEY",
        "API_SECRET",
        "SECRET_KEY",
        "PASSPHRASE",
        "binance_api_key",
    ],
)
def test_exchange_credentials_in_the_environment_are_flagged(name: str) -> None:
    assert looks_like_exchange_credential(name)


@pytest.mark.parametrize(
    "name",
    [
        "PATH",
        "HOME",
        "SSH_AUTH_SOCK",
        "GPG_KEY",
        "GPG_AGENT_INFO",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "GITHUB_TOKEN",
        "OPENAI_API_KEY",
        "GEMINI_API_KEY",
        "BINANCE_BASE_URL",
        "TRADESTACK_CORPUS",
        "PYTHONHASHSEED",
        "KEYTIMEOUT",
        "CI",
    ],
)
def test_unrelated_variables_are_left_alone(name: str) -> None:
    assert not looks_like_exchange_credential(name)


def test_check_environment_names_every_variable_and_no_value() -> None:
    environ = {
        "PATH": "/usr/bin",
        "BINANCE_API_KEY": "key-123",
        "BINANCE_API_SECRET": "secret-456",
        "SSH_AUTH_SOCK": "/tmp/agent",
    }

    with pytest.raises(CredentialsInEnvironment) as raised:
        check_environment(environ)

    assert raised.value.names == ["BINANCE_API_KEY", "BINANCE_API_SECRET"]
    message = str(raised.value)
    assert "BINANCE_API_KEY, BINANCE_API_SECRET" in message
    assert "secret store" in message
    assert "key-123" not in message
    assert "secret-456" not in message


def test_a_clean_environment_passes() -> None:
    check_environment({"PATH": "/usr/bin", "HOME": "/root", "GPG_KEY": "ABCD", "OPENAI_API_KEY": "sk-x"})


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("api_key", True),
        ("apiKey", True),
        ("X-MBX-APIKEY", True),
        ("secret", True),
        ("api_secret", True),
        ("signature", True),
        ("passphrase", True),
        ("password", True),
        ("listen_key", True),
        ("listenKey", True),
        ("token", True),
        ("private_key", True),
        ("Authorization", True),
        ("symbol", False),
        ("key", False),
        ("once_key", False),
        ("price", False),
        ("exchange", False),
    ],
)
def test_secret_looking_keys(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_the_redaction_processor_blanks_secret_values_as_a_second_guard() -> None:
    event = {
        "event": "order sent",
        "symbol": "BTCUSDT",
        "api_key": "key-123",
        "headers": {"X-MBX-APIKEY": "key-123", "Content-Type": "application/json"},
        "url": "https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1&signature=abc123def",
        "body": '{"apiKey": "key-123", "symbol": "BTCUSDT"}',
        "credentials": [Secret("x")],
        "nested": [{"secret": "s3"}, Secret("y")],
    }

    redacted = redact_secrets(None, "info", event)

    assert redacted["symbol"] == "BTCUSDT"
    assert redacted["api_key"] == "***"
    assert redacted["headers"] == {"X-MBX-APIKEY": "***", "Content-Type": "application/json"}
    assert redacted["url"].endswith("symbol=BTCUSDT&timestamp=1&signature=***")
    assert redacted["body"] == '{"apiKey": "***", "symbol": "BTCUSDT"}'
    assert redacted["credentials"] == "***"
    assert redacted["nested"] == [{"secret": "***"}, "***"]
    assert "key-123" not in repr(redacted)


def test_redact_text_leaves_ordinary_text_alone() -> None:
    text = "filled 0.001 BTCUSDT at 61737.63 (order 42)"
    assert redact_text(text) == text
