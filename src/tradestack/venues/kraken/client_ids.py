"""Kraken ids: the engine's client ids as `cl_ord_id`, and Kraken's txids as integer handles.

`cl_ord_id` (Kraken's "Spot Client Order Identifiers"): a long UUID (36 characters with dashes), a
short UUID (32 hex digits) or free text of at most 18 characters; unique among the client's open
orders. The engine's ids (`ts1-12-345`) are short text and travel unchanged; an id Kraken would refuse
is refused here before anything is sent.

Txids: Kraken's order ids are strings ("OQCLML-BW3P3-BUCMWZ"), the domain's `venue_order_id` an int
kept in a 64-bit column. `order_handle` is a deterministic 63-bit digest of the txid (the same in
every process and after restarts); `OrderDirectory` remembers which txid a handle stands for, and
which client id each txid was sent with.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict

MAX_FREE_TEXT = 18
_FREE_TEXT = re.compile(r"[.A-Za-z0-9:/_-]{1,18}")
_LONG_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SHORT_UUID = re.compile(r"[0-9a-fA-F]{32}")


class InvalidClientId(ValueError):
    """A client id Kraken would refuse as `cl_ord_id` (EGeneral:Invalid arguments:cl_ord_id)."""


def is_valid_cl_ord_id(text: str) -> bool:
    return any(rule.fullmatch(text) is not None for rule in (_FREE_TEXT, _LONG_UUID, _SHORT_UUID))


def to_kraken(client_id: str) -> str:
    """The `cl_ord_id` an engine client id is sent as (itself). Raises InvalidClientId."""
    if not is_valid_cl_ord_id(client_id):
        raise InvalidClientId(
            f"client id {client_id[:40]!r}: Kraken takes a UUID or 1-{MAX_FREE_TEXT} characters of "
            "[.A-Za-z0-9:/_-]"
        )
    return client_id


def order_handle(txid: str) -> int:
    """A Kraken txid as a non-negative 63-bit int; the same everywhere, always."""
    digest = hashlib.blake2b(txid.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


class OrderDirectory:
    """What this process learned about Kraken orders: handle -> txid, txid -> client id. Shared by
    KrakenTrading and KrakenUserStream; bounded (the oldest entries are forgotten past `capacity`)."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._txids: OrderedDict[int, str] = OrderedDict()
        self._client_ids: OrderedDict[str, str] = OrderedDict()

    def learn(self, txid: str, client_id: str | None = None) -> int:
        """Record a txid (and its client id when known); returns its handle."""
        handle = order_handle(txid)
        self._txids[handle] = txid
        self._txids.move_to_end(handle)
        if client_id:
            self._client_ids[txid] = client_id
            self._client_ids.move_to_end(txid)
        while len(self._txids) > self.capacity:
            self._txids.popitem(last=False)
        while len(self._client_ids) > self.capacity:
            self._client_ids.popitem(last=False)
        return handle

    def txid(self, handle: int) -> str | None:
        return self._txids.get(handle)

    def client_id(self, txid: str) -> str | None:
        return self._client_ids.get(txid)
