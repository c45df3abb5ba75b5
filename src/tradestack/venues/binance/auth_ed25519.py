"""Binance request signing with an Ed25519 key: base64 Ed25519 signature of the exact parameter string.

The signed payload is the same "total params" string as for HMAC keys (see `auth.py`): the query
string as sent, values percent-encoded, in the order sent. The signature is standard base64 (with
`+`, `/`, `=`), so it is percent-encoded when appended as `&signature=`. Ed25519 signatures are
deterministic (RFC 8032), which is what lets tests compare them byte for byte with a reference.
Binance's docs load the key from a PKCS#8 PEM file (`openssl genpkey -algorithm ed25519`); we
take the PEM text (or bytes, or a `Secret`), optionally encrypted, or the raw 32-byte seed.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tradestack.venues._shared.credentials import SecretInput, key_hint, require_api_key, secret_bytes
from tradestack.venues.binance.auth import Params, encode_params


class Ed25519Signer:
    """Signs payloads with an Ed25519 private key. Same interface as `HmacSigner`; no secret in repr."""

    __slots__ = ("_private_key", "api_key")

    def __init__(
        self, api_key: str, private_key_pem: SecretInput, password: SecretInput | None = None
    ) -> None:
        self.api_key = require_api_key(api_key)
        pem = secret_bytes(private_key_pem, "private_key_pem")
        secret_password = None if password is None else secret_bytes(password, "password")
        try:
            key = load_pem_private_key(pem, password=secret_password)
        except (ValueError, TypeError):
            # the exception text may quote the PEM; say what is wrong without it
            message = "private_key_pem is not a readable PEM private key (or the password is wrong)"
            raise ValueError(message) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"private_key_pem holds a {type(key).__name__}, not an Ed25519 key")
        self._private_key = key

    @classmethod
    def from_seed(cls, api_key: str, seed: bytes) -> Ed25519Signer:
        """From the raw 32-byte private key (RFC 8032 calls it the secret key)."""
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        signer = cls.__new__(cls)
        signer.api_key = require_api_key(api_key)
        signer._private_key = Ed25519PrivateKey.from_private_bytes(seed)
        return signer

    def public_key_bytes(self) -> bytes:
        """The raw 32-byte public key: what is registered with Binance (as PEM) and what verifies."""
        return self._private_key.public_key().public_bytes_raw()

    def signature(self, payload: str) -> str:
        """Standard base64 of the Ed25519 signature over the payload's bytes, as Binance expects."""
        return base64.b64encode(self._private_key.sign(payload.encode())).decode()

    def signed_query(self, params: Params) -> str:
        """The parameter string with `&signature=...` (percent-encoded) appended: ready to send."""
        payload = encode_params(params)
        return f"{payload}&signature={quote(self.signature(payload), safe='')}"

    def __repr__(self) -> str:
        return f"Ed25519Signer(api_key={key_hint(self.api_key)}, private_key=<redacted>)"
