"""Credential inputs for the venue signers: a `Secret`-like value, a str or bytes, never printed.

Venues sit beside `tradestack.security` in the layers and may not import it, so the signers accept
anything with a `reveal() -> str` method (the `Secret` type is one) as well as plain str or bytes.
Each signer reveals a secret once, at construction, keys its HMAC (or loads its private key) and
keeps only that keyed state; none of them keeps the revealed text or prints it in a repr.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Protocol


class Revealable(Protocol):
    """A secret that prints as `***` and gives its value only through `reveal()`."""

    def reveal(self) -> str: ...


SecretInput = Revealable | str | bytes


def secret_bytes(value: SecretInput, what: str) -> bytes:
    """The secret's bytes (UTF-8 for text). Empty secrets are refused, naming `what`, never the value."""
    if isinstance(value, bytes):
        raw = value
    else:
        raw = (value if isinstance(value, str) else value.reveal()).encode()
    if not raw:
        raise ValueError(f"{what} must not be empty")
    return raw


def secret_text(value: SecretInput, what: str) -> str:
    raw = secret_bytes(value, what)
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise ValueError(f"{what} must be UTF-8 text") from None


def base64_secret(value: SecretInput, what: str) -> bytes:
    """Decode a base64 API secret (Kraken, Coinbase Exchange hand them out that way)."""
    try:
        decoded = base64.b64decode(secret_bytes(value, what), validate=True)
    except binascii.Error:
        raise ValueError(f"{what} is not valid base64") from None
    if not decoded:
        raise ValueError(f"{what} must not be empty")
    return decoded


def require_api_key(api_key: str) -> str:
    if not api_key:
        raise ValueError("api_key must not be empty")
    return api_key


def keyed(key: bytes, digest: str) -> hmac.HMAC:
    """An HMAC keyed once; signers `.copy()` it per request, which skips re-deriving the pads."""
    return hmac.new(key, digestmod=digest)


def mac(keyed_state: hmac.HMAC, message: bytes) -> bytes:
    state = keyed_state.copy()
    state.update(message)
    return state.digest()


def key_hint(api_key: str) -> str:
    """The first characters of an API key, enough to tell keys apart in a repr."""
    return f"{api_key[:4]}…"
