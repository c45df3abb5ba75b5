"""A structlog processor that blanks secret-looking values: the second guard behind `Secret`.

The first guard is the `Secret` type, which never prints itself. This one catches the mistakes:
a revealed key logged under `api_key=`, a signed query string in a URL, a `Secret` nested in a dict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from structlog.typing import EventDict, WrappedLogger

from tradestack.security.secrets import REDACTED, Secret

# A key is split into lowercase words at "_", "-", "." and camelCase boundaries; it is secret when
# a word is one of _SECRET_WORDS or two adjacent words form one of _SECRET_PAIRS.
_SECRET_WORDS = frozenset(
    {
        "secret",
        "secrets",
        "signature",
        "sign",  # venue signature headers: OK-ACCESS-SIGN, X-BAPI-SIGN, CB-ACCESS-SIGN, API-Sign
        "passphrase",
        "password",
        "passwd",
        "pwd",
        "token",
        "credential",
        "credentials",
        "authorization",
        "cookie",
        "apikey",
        "apisecret",
        "listenkey",
        "privkey",
    }
)
_SECRET_PAIRS = frozenset(
    {("api", "key"), ("listen", "key"), ("private", "key"), ("access", "key"), ("secret", "key")}
)
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

# Secrets inside strings: query parameters (`signature=...`) and JSON-ish pairs (`"apiKey": "..."`).
_NAMES = r"signature|api[_-]?key|api[_-]?secret|secret|listen[_-]?key|passphrase|password|token"
_IN_QUERY = re.compile(rf"(?i)\b({_NAMES})=([^&\s\"']+)")
_IN_JSON = re.compile(rf"(?i)(\"(?:{_NAMES})\"\s*:\s*\")([^\"]*)(\")")
_MAX_DEPTH = 4


def is_secret_key(key: str) -> bool:
    words = [word.lower() for word in _WORDS.findall(key)]
    if any(word in _SECRET_WORDS for word in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in pairwise(words))


def redact_text(text: str) -> str:
    if "=" in text:
        text = _IN_QUERY.sub(rf"\1={REDACTED}", text)
    if '"' in text:
        text = _IN_JSON.sub(rf"\g<1>{REDACTED}\g<3>", text)
    return text


def redact_value(value: Any, depth: int = 0) -> Any:
    """Return `value` with secrets blanked; containers are copied, never changed in place."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Secret):
        return REDACTED
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            key: REDACTED if isinstance(key, str) and is_secret_key(key) else redact_value(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(item, depth + 1) for item in value]
    return value


def redact_secrets(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: place it after exception formatting and before the renderer."""
    for key, value in event_dict.items():
        event_dict[key] = REDACTED if is_secret_key(key) else redact_value(value)
    return event_dict
