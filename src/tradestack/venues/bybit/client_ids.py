"""Bybit orderLinkId rules, and Bybit's text order ids as the integer `venue_order_id` we keep.

orderLinkId: "a max of 36 characters; numbers, letters (upper and lower case), dashes and
underscores". The engine's ids (`<prefix>-<block>-<seq>`) already fit and travel unchanged; an id
that does not is refused before anything is sent.

orderId: text at Bybit (decimal digits on spot, a UUID on other products). Digits that fit 63 bits
are their own handle (so a handle journaled before a restart still finds the order); anything else
gets a deterministic 63-bit digest, and `OrderDirectory` remembers which id a digest stands for.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from typing import Final

BYBIT_CLIENT_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,36}")
_DIGITS: Final = re.compile(r"[0-9]{1,19}")
_MAX_HANDLE: Final = 2**63 - 1


class InvalidClientId(ValueError):
    """A client id Bybit would refuse (10001 parameter error)."""


def to_bybit(client_id: str) -> str:
    """The orderLinkId an engine client id is sent as. Raises InvalidClientId."""
    if BYBIT_CLIENT_ID.fullmatch(client_id) is None:
        raise InvalidClientId(f"client id {client_id[:40]!r}: Bybit takes 1-36 of [A-Za-z0-9_-]")
    return client_id


def from_bybit(order_link_id: str) -> str:
    return order_link_id


def order_handle(order_id: str) -> int:
    """A Bybit order id as a non-negative 63-bit int; the same in every process, always."""
    if _DIGITS.fullmatch(order_id) is not None and int(order_id) <= _MAX_HANDLE:
        return int(order_id)
    digest = hashlib.blake2b(order_id.lower().encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


class OrderDirectory:
    """Handle -> order id for the ids that are not their own handle. Bounded: oldest forgotten."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._order_ids: OrderedDict[int, str] = OrderedDict()

    def learn(self, order_id: str) -> int:
        handle = order_handle(order_id)
        if str(handle) != order_id:
            self._order_ids[handle] = order_id
            self._order_ids.move_to_end(handle)
            while len(self._order_ids) > self.capacity:
                self._order_ids.popitem(last=False)
        return handle

    def order_id(self, handle: int) -> str | None:
        known = self._order_ids.get(handle)
        if known is not None:
            return known
        return str(handle) if 0 <= handle <= _MAX_HANDLE else None
