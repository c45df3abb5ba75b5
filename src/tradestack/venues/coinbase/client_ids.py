"""Coinbase Exchange ids: the engine's client ids written as UUIDs (client_oid), reversibly, and
Coinbase's UUID order ids as the integer `venue_order_id` the domain keeps.

client_oid: Coinbase takes only a UUID ("Invalid client_oid" otherwise). The engine's ids are
`<prefix>-<block>-<seq>` (domain/orders/client_ids.py), other ids any of 1-36 `[.A-Za-z0-9:/_-]`.
An id is packed into the 122 free bits of a version-4-shaped UUID (version nibble 4, RFC variant):

    payload (122 bits) = MAGIC (12 bits) | form (1 bit) | body (109 bits)
    form 1, engine id: prefix length-1 (4 bits) | prefix, 6 bits a character | seq (14 bits) | block
    form 0, any id   : length-1 (5 bits) | the id as a base-67 numeral (at most 16 characters)

Decoding re-encodes and compares, so a UUID is read as one of ours only when it is exactly what we
would send: from_coinbase(to_coinbase(x)) == x for every id we accept, and a foreign UUID (another
tool's client_oid) reads back as itself. A UUID given as a client id travels unchanged unless it
would read back as something else (refused: InvalidClientId). Ids that fit neither form are refused
before anything is sent.

Order ids: Coinbase's are UUID strings, the domain's `venue_order_id` an int stored in a 64-bit
column. `order_handle` is a deterministic 63-bit digest of the UUID (the same in every process and
after restarts, so journaled orders still match); `OrderDirectory` remembers which UUID a handle
stands for, and the client id of each order id this process has seen.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import OrderedDict
from typing import Final

MAGIC: Final = 0xC5B  # 12 bits that mark a UUID as one of ours
_PREFIX_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ANY_ALPHABET: Final = "-./0123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_PREFIX_INDEX: Final = {char: index for index, char in enumerate(_PREFIX_ALPHABET)}
_ANY_INDEX: Final = {char: index for index, char in enumerate(_ANY_ALPHABET)}
_BODY_BITS: Final = 109
_SEQ_BITS: Final = 14
_MAX_ANY: Final = 16  # 67**16 < 2**103
_ENGINE = re.compile(r"([A-Za-z0-9]{1,12})-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)")
_ANY = re.compile(r"[.A-Za-z0-9:/_-]{1,36}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class InvalidClientId(ValueError):
    """A client id that cannot travel as a Coinbase client_oid (400 "Invalid client_oid")."""


def to_coinbase(client_id: str) -> str:
    """The client_oid an engine client id is sent as (lower-case UUID text). Raises InvalidClientId."""
    if _UUID.fullmatch(client_id) is not None:
        if from_coinbase(client_id) != client_id:
            raise InvalidClientId(f"client id {client_id!r} would read back as another id")
        return client_id
    body = _encode(client_id)
    if body is None:
        raise InvalidClientId(
            f"client id {client_id[:40]!r}: not <prefix(1-12)>-<block>-<seq> within 109 bits, "
            f"nor 1-{_MAX_ANY} of [.A-Za-z0-9:/_-]"
        )
    return str(_to_uuid((MAGIC << _BODY_BITS) | body))


def from_coinbase(client_oid: str) -> str:
    """The client id a client_oid stands for; a UUID that is not one of ours is returned as it is."""
    if not client_oid:
        return ""
    try:
        value = uuid.UUID(client_oid)
    except ValueError:
        return client_oid
    if value.version != 4 or value.variant != uuid.RFC_4122:
        return client_oid
    payload = _payload(value.int)
    if payload >> _BODY_BITS != MAGIC:
        return client_oid
    decoded = _decode(payload & ((1 << _BODY_BITS) - 1))
    if decoded is None or _encode(decoded) != payload & ((1 << _BODY_BITS) - 1):
        return client_oid
    if str(value) != client_oid.lower():
        return client_oid
    return decoded


def order_handle(order_id: str) -> int:
    """A Coinbase order id (UUID text) as a non-negative 63-bit int; the same everywhere, always."""
    digest = hashlib.blake2b(order_id.lower().encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


class OrderDirectory:
    """What this process learned about Coinbase orders: handle -> order id, order id -> client id.

    Shared by CoinbaseTrading (acks, queries, fills) and CoinbaseUserStream (`received`). Bounded:
    the oldest entries are forgotten past `capacity`.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._order_ids: OrderedDict[int, str] = OrderedDict()
        self._client_ids: OrderedDict[str, str] = OrderedDict()

    def learn(self, order_id: str, client_id: str | None = None) -> int:
        """Record an order id (and its client id when known); returns its handle."""
        handle = order_handle(order_id)
        self._order_ids[handle] = order_id
        self._order_ids.move_to_end(handle)
        if client_id is not None:
            self._client_ids[order_id] = client_id
            self._client_ids.move_to_end(order_id)
        while len(self._order_ids) > self.capacity:
            self._order_ids.popitem(last=False)
        while len(self._client_ids) > self.capacity:
            self._client_ids.popitem(last=False)
        return handle

    def order_id(self, handle: int) -> str | None:
        return self._order_ids.get(handle)

    def client_id(self, order_id: str) -> str | None:
        return self._client_ids.get(order_id)


# --- the packing -------------------------------------------------------------------------------------


def _encode(client_id: str) -> int | None:
    engine = _ENGINE.fullmatch(client_id)
    if engine is not None:
        prefix, block, seq = engine[1], int(engine[2]), int(engine[3])
        block_bits = _BODY_BITS - 1 - 4 - 6 * len(prefix) - _SEQ_BITS
        if seq < 1 << _SEQ_BITS and block < 1 << block_bits:
            value = 1
            value = (value << 4) | (len(prefix) - 1)
            for char in prefix:
                value = (value << 6) | _PREFIX_INDEX[char]
            value = (value << _SEQ_BITS) | seq
            return (value << block_bits) | block
    if len(client_id) > _MAX_ANY or _ANY.fullmatch(client_id) is None:
        return None
    number = 0
    for char in client_id:
        number = number * len(_ANY_ALPHABET) + _ANY_INDEX[char]
    return ((len(client_id) - 1) << 103) | number  # form bit 0 at 108, length in 103..107


def _decode(body: int) -> str | None:
    if body >> (_BODY_BITS - 1):
        rest = _BODY_BITS - 1 - 4
        length = ((body >> rest) & 0xF) + 1
        if length > 12:
            return None
        chars = []
        for index in range(length):
            code = (body >> (rest - 6 * (index + 1))) & 0x3F
            if code >= len(_PREFIX_ALPHABET):
                return None
            chars.append(_PREFIX_ALPHABET[code])
        block_bits = rest - 6 * length - _SEQ_BITS
        seq = (body >> block_bits) & ((1 << _SEQ_BITS) - 1)
        block = body & ((1 << block_bits) - 1)
        return f"{''.join(chars)}-{block}-{seq}"
    length = ((body >> 103) & 0x1F) + 1
    number = body & ((1 << 103) - 1)
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_ANY_ALPHABET))
        chars.append(_ANY_ALPHABET[index])
    if number:
        return None
    return "".join(reversed(chars))


def _to_uuid(payload: int) -> uuid.UUID:
    """122 payload bits around the version nibble (4) and the RFC 4122 variant bits (10)."""
    high = payload >> 74  # 48 bits
    middle = (payload >> 62) & 0xFFF  # 12 bits
    low = payload & ((1 << 62) - 1)  # 62 bits
    return uuid.UUID(int=(high << 80) | (4 << 76) | (middle << 64) | (0b10 << 62) | low)


def _payload(value: int) -> int:
    high = value >> 80
    middle = (value >> 64) & 0xFFF
    low = value & ((1 << 62) - 1)
    return (high << 74) | (middle << 62) | low
