"""Secrets: a value type that will not print itself, a store port, a file store, an environment guard.

Credentials reach the process only through a `SecretStore` resolved at bootstrap, never through the
environment: environment variables are inherited by every child process, readable in
/proc/<pid>/environ and copied into crash reports and CI logs.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from secrets import token_hex
from typing import NoReturn, Protocol

REDACTED = "***"


class Secret:
    """A secret string. repr/str/format print `***`; call `reveal()` at the one place that signs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret takes a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, format_spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # hashing would leak equality through dict lookups

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled; resolve it from the SecretStore where it is needed")


class SecretStoreError(Exception):
    """A secret could not be read or written. Messages name the file and the fix, never the value."""


class SecretNotFound(SecretStoreError):
    pass


class InsecureSecretFile(SecretStoreError):
    pass


class SecretStore(Protocol):
    def get(self, name: str) -> Secret: ...

    def put(self, name: str, secret: Secret) -> None: ...


class FileSecretStore:
    """Secrets as a JSON object {name: value} in one file, mode 0600, owned by the current user.

    Writes are atomic (temporary file, fsync, rename, fsync of the directory). A file other users
    could read or write, or one owned by someone else, is refused rather than repaired: if its
    permissions were ever wider, the secrets in it must be treated as exposed.
    Not safe for concurrent writers in several processes (last rename wins).
    """

    def __init__(self, path: Path) -> None:
        self._path = path

    @property
    def path(self) -> Path:
        return self._path

    def get(self, name: str) -> Secret:
        entries = self._read()
        if entries is None:
            raise SecretNotFound(
                f"secret {name!r} not found: the secret file {self._path} does not exist; create it with "
                f'mode 0600 holding a JSON object such as {{{json.dumps(name)}: "..."}}'
            )
        value = entries.get(name)
        if value is None:
            known = ", ".join(sorted(entries)) or "none"
            raise SecretNotFound(
                f"secret {name!r} not found in {self._path} (it holds: {known}); add it to that file"
            )
        if not value:
            raise SecretStoreError(f"secret {name!r} in {self._path} is empty; set its value")
        return Secret(value)

    def put(self, name: str, secret: Secret) -> None:
        if not name:
            raise ValueError("a secret needs a non-empty name")
        entries = self._read() or {}
        entries[name] = secret.reveal()
        self._write(entries)

    def names(self) -> list[str]:
        """The names held, for listings that must not show values."""
        return sorted(self._read() or {})

    def _read(self) -> dict[str, str] | None:
        try:
            fd = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as file:
            # fstat the open descriptor, not the path, so the file checked is the file read.
            _check_private(self._path, os.fstat(file.fileno()))
            raw = file.read()
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            # The decoder's message gives a position only, never the content.
            raise SecretStoreError(f"secret file {self._path} is not valid JSON: {error}") from None
        if not isinstance(data, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in data.items()
        ):
            raise SecretStoreError(
                f"secret file {self._path} must hold a JSON object of string names to string values"
            )
        return data

    def _write(self, entries: Mapping[str, str]) -> None:
        directory = self._path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = directory / f".{self._path.name}.{token_hex(8)}.tmp"
        payload = json.dumps(dict(entries), indent=2, sort_keys=True).encode() + b"\n"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            try:
                os.fchmod(fd, 0o600)  # the umask can only narrow 0600, but say it outright
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self._path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_directory(directory)


def _check_private(path: Path, status: os.stat_result) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise InsecureSecretFile(f"secret file {path} is not a regular file")
    if status.st_uid != os.geteuid():
        raise InsecureSecretFile(
            f"secret file {path} is owned by uid {status.st_uid}, not by the current user "
            f"(uid {os.geteuid()}); fix: chown $(id -u) {path} && chmod 600 {path}"
        )
    if status.st_mode & 0o077:
        mode = stat.S_IMODE(status.st_mode)
        raise InsecureSecretFile(
            f"secret file {path} has mode {mode:04o}, readable or writable by group or others; "
            f"fix: chmod 600 {path} (and rotate the keys in it if others may have read them)"
        )


def _fsync_directory(directory: Path) -> None:
    # Makes the rename durable: without it a crash can bring back the old file.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- credentials in the environment -------------------------------------------------------------

# A name is split into words on "_" (so FREQTRADE__EXCHANGE__SECRET splits too). It is flagged when
#   (a) one word names a venue or trading context (a word starting with a venue name, or one of the
#       context words) AND one word names a credential (contains KEY, SECRET, PASSPHRASE, PASSWORD,
#       or is TOKEN, PASS, PWD): BINANCE_API_KEY, BINANCE_SECRET, OKX_PASSPHRASE, COINBASEPRO_KEY,
#       TRADESTACK_API_SECRET, FREQTRADE__EXCHANGE__KEY, TESTNET_API_KEY; or
#   (b) the whole name is a bare API credential: API_KEY, API_SECRET, SECRET_KEY, PASSPHRASE...
# Credentials of other services are not ours to judge and are left alone: OPENAI_API_KEY,
# GEMINI_API_KEY (Google's, not the exchange's), AWS_SECRET_ACCESS_KEY (the AWS secret store needs
# it), GPG_KEY, GITHUB_TOKEN, as are PATH, SSH_AUTH_SOCK and venue settings such as BINANCE_BASE_URL.
_VENUE_PREFIXES = ("BINANCE", "COINBASE", "KRAKEN", "OKX", "BYBIT")
_CONTEXT_WORDS = frozenset({"EXCHANGE", "TRADESTACK", "TRADING", "TESTNET", "CCXT", "FREQTRADE"})
_CREDENTIAL_FRAGMENTS = ("KEY", "SECRET", "PASSPHRASE", "PASSWORD")
_CREDENTIAL_WORDS = frozenset({"TOKEN", "PASS", "PWD"})
_BARE_CREDENTIALS = frozenset(
    {
        "API_KEY",
        "APIKEY",
        "API_SECRET",
        "APISECRET",
        "API_SECRET_KEY",
        "SECRET_KEY",
        "API_PASSPHRASE",
        "PASSPHRASE",
        "API_KEY_ID",
        "API_PRIVATE_KEY",
    }
)
_WORD_SPLIT = re.compile(r"_+")


class CredentialsInEnvironment(SecretStoreError):
    def __init__(self, names: list[str]) -> None:
        self.names = names
        listed = ", ".join(names)
        super().__init__(
            f"exchange credentials found in the environment: {listed}. tradestack does not read credentials "
            "from environment variables, because every child process inherits them and they leak into "
            "/proc, crash reports and CI logs. Unset them (unset " + " ".join(names) + ") and put the "
            "credentials in the secret store named by `secrets` in the config (default: secrets.json in "
            "the data dir, mode 0600)."
        )


def looks_like_exchange_credential(name: str) -> bool:
    """The rule above, for one variable name."""
    upper = name.upper()
    if upper in _BARE_CREDENTIALS:
        return True
    words = [word for word in _WORD_SPLIT.split(upper) if word]
    has_context = any(word.startswith(_VENUE_PREFIXES) or word in _CONTEXT_WORDS for word in words)
    if not has_context:
        return False
    return any(
        word in _CREDENTIAL_WORDS or any(fragment in word for fragment in _CREDENTIAL_FRAGMENTS)
        for word in words
    )


def check_environment(environ: Mapping[str, str]) -> None:
    """Refuse to run with exchange credentials in the environment. Names the variables, never values."""
    found = sorted(name for name in environ if looks_like_exchange_credential(name))
    if found:
        raise CredentialsInEnvironment(found)
