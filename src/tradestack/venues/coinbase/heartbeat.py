"""Coinbase Exchange ws-feed `heartbeat` messages. Pure.

`{"type":"heartbeat","last_trade_id":20,"product_id":"BTC-USD","sequence":90,"time":"..."}`, one a
second per subscribed product. `sequence` is the product's full-feed sequence (it never goes back);
`last_trade_id` is the product's last trade: above the last `match` we saw, matches were lost.
"""

from __future__ import annotations

from typing import Final

import msgspec

PREFIX: Final = b'{"type":"heartbeat"'


class Heartbeat(msgspec.Struct, frozen=True):
    product_id: str
    sequence: int
    last_trade_id: int
    time: str = ""


_DECODE = msgspec.json.Decoder(Heartbeat).decode


def parse_heartbeat(frame: bytes) -> Heartbeat | None:
    """The heartbeat in `frame`, or None when it is not a well-formed one."""
    try:
        return _DECODE(frame)
    except msgspec.DecodeError:
        return None
