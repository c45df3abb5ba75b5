"""Kraken's error texts: every failure is `{"error": ["<class>:<message>"], "result": {}}`."""

from __future__ import annotations

from tradestack.venues.simulated.errors import BinanceError


class KrakenError(Exception):
    """Answered as HTTP `status` with {"error": [error]}."""

    def __init__(self, error: str, status: int = 200) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


def invalid_arguments(name: str) -> KrakenError:
    return KrakenError(f"EGeneral:Invalid arguments:{name}")


def from_venue(error: BinanceError) -> KrakenError:
    """The shared venue core speaks Binance codes: say the same thing the way Kraken does."""
    msg = error.msg
    if error.code == -2010 and "Duplicate" in msg:
        return KrakenError("EOrder:Duplicate order")  # a cl_ord_id already on an open order
    if error.code == -2010 and "insufficient" in msg:
        return KrakenError("EOrder:Insufficient funds")
    if error.code == -2010 and "take" in msg:
        return KrakenError("EOrder:Post only order")
    if error.code == -1013:
        if msg.endswith("PRICE_FILTER"):
            return KrakenError("EOrder:Invalid price")
        if msg.endswith("LOT_SIZE") or msg.endswith("NOTIONAL"):
            return KrakenError("EOrder:Order minimum not met")
        return KrakenError("EOrder:Orders limit exceeded")
    if error.code in (-2011, -2013):
        return KrakenError("EOrder:Unknown order")
    return KrakenError(f"EGeneral:Invalid arguments:{msg}")
