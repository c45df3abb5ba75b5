"""OKX clOrdId rules, and the engine's client order ids written in them, reversibly.

OKX: "a combination of case-sensitive alphanumerics, all numbers, or all letters of up to 32
characters". The engine's ids are `<prefix>-<block>-<seq>` (domain/orders/client_ids.py): the `-` is
not allowed, so such an id travels as `<prefix>Z<block>Z<seq>` and is read back the same way (block
and seq are digits, so the last two `Z` are always the separators). Any other id must already satisfy
OKX's rule and travels unchanged; a valid id that looks like an encoded one is refused, so reading
back is never ambiguous.
"""

from __future__ import annotations

import re

OKX_CLIENT_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_ENGINE = re.compile(r"([A-Za-z0-9]+)-([0-9]+)-([0-9]+)")
_ENCODED = re.compile(r"([A-Za-z0-9]+)Z([0-9]+)Z([0-9]+)")


class InvalidClientId(ValueError):
    """A client id OKX would refuse (51000 Parameter clOrdId error)."""


def to_okx(client_id: str) -> str:
    """The clOrdId an engine client id is sent as. Raises InvalidClientId."""
    engine = _ENGINE.fullmatch(client_id)
    if engine is not None:
        encoded = f"{engine[1]}Z{engine[2]}Z{engine[3]}"
        if len(encoded) > 32:
            raise InvalidClientId(f"client id {client_id!r} is longer than OKX's 32 characters")
        return encoded
    if OKX_CLIENT_ID.fullmatch(client_id) is None:
        raise InvalidClientId(f"client id {client_id[:40]!r}: OKX takes 1-32 letters and digits")
    if _ENCODED.fullmatch(client_id) is not None:
        raise InvalidClientId(f"client id {client_id!r} would read back as an engine id")
    return client_id


def from_okx(cl_ord_id: str) -> str:
    """The engine client id an OKX clOrdId stands for ("" stays "": an order placed without one)."""
    encoded = _ENCODED.fullmatch(cl_ord_id)
    if encoded is None:
        return cl_ord_id
    return f"{encoded[1]}-{encoded[2]}-{encoded[3]}"
