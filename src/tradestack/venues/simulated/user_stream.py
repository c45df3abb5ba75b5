"""Listen keys for the user data stream: created, kept alive and closed over REST, expiring after an
hour without keepalive, as Binance documents (user-data-stream.md).

The account is single, so there is at most one active key: a POST while one is active returns it and
extends it, as Binance does.
"""

from __future__ import annotations

import secrets
import string

from tradestack.ports import Clock
from tradestack.venues.simulated import errors

_ALPHABET = string.ascii_letters + string.digits
LISTEN_KEY_LENGTH = 60


class ListenKeys:
    def __init__(self, ttl_s: float, clock: Clock) -> None:
        self._ttl_ns = int(ttl_s * 1e9)
        self._clock = clock
        self._expiry: dict[str, int] = {}  # key -> monotonic ns

    def create(self) -> str:
        for key in self._expiry:
            return self.keepalive(key)
        key = "".join(secrets.choice(_ALPHABET) for _ in range(LISTEN_KEY_LENGTH))
        self._expiry[key] = self._clock.monotonic_ns() + self._ttl_ns
        return key

    def keepalive(self, key: str) -> str:
        if not self.is_active(key):
            raise errors.unknown_listen_key()
        self._expiry[key] = self._clock.monotonic_ns() + self._ttl_ns
        return key

    def close(self, key: str) -> None:
        if not self.is_active(key):
            raise errors.unknown_listen_key()
        del self._expiry[key]

    def is_active(self, key: str) -> bool:
        expiry = self._expiry.get(key)
        return expiry is not None and self._clock.monotonic_ns() < expiry

    def active(self) -> list[str]:
        return [key for key in self._expiry if self.is_active(key)]

    def take_expired(self) -> list[str]:
        """Forget and return the keys that have expired."""
        now = self._clock.monotonic_ns()
        expired = [key for key, expiry in self._expiry.items() if now >= expiry]
        for key in expired:
            del self._expiry[key]
        return expired
