"""Deterministic client order ids that are never reused, even across crashes.

Ids come from blocks reserved durably before use: `<prefix>-<block>-<seq>`. A restart reserves a fresh
block above every block ever reserved, so an id handed out before a crash (journaled or not) can never be
issued again. Reserving is the journal's job; this class only hands ids out of reserved blocks.
"""

from __future__ import annotations

import re
from collections import deque

# Binance's newClientOrderId rule; the other venues accept a superset of this alphabet and length.
VALID_ID = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$")


class IdsExhausted(RuntimeError):
    """No reserved block is left: the journal must reserve one before another order can be sent."""


class ClientOrderIds:
    def __init__(self, prefix: str, block_size: int = 1000) -> None:
        if not re.fullmatch(r"[A-Za-z0-9]{1,12}", prefix):
            raise ValueError(f"client id prefix {prefix!r} must be 1-12 letters or digits")
        self.prefix = prefix
        self.block_size = block_size
        self._blocks: deque[int] = deque()
        self._block = -1
        self._next = block_size  # forces taking a block on first use

    def add_block(self, block: int) -> None:
        """Make a durably reserved block available."""
        self._blocks.append(block)

    @property
    def remaining(self) -> int:
        return self.block_size - self._next + self.block_size * len(self._blocks)

    def next_id(self) -> str:
        if self._next >= self.block_size:
            if not self._blocks:
                raise IdsExhausted("no reserved client id block left")
            self._block = self._blocks.popleft()
            self._next = 0
        seq = self._next
        self._next += 1
        return f"{self.prefix}-{self._block}-{seq}"

    def owns(self, client_id: str) -> bool:
        return client_id.startswith(self.prefix + "-")


def block_of(client_id: str) -> int | None:
    parts = client_id.split("-")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return int(parts[1])
