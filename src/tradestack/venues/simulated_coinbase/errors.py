"""Coinbase Exchange error shapes, as the sim answers them: `{"message": "..."}` with an HTTP status.

Coinbase Exchange has no error codes: the status says the class (400 bad request or insufficient
funds, 401 authentication, 404 not found, 429 rate limit, 5xx server) and `message` the detail.
"""

from __future__ import annotations

from tradestack.venues.simulated.errors import BinanceError


class CoinbaseError(Exception):
    """Answered as HTTP `status` with {"message": message}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def bad_request(message: str) -> CoinbaseError:
    return CoinbaseError(400, message)


def unauthorized(message: str) -> CoinbaseError:
    return CoinbaseError(401, message)


def not_found() -> CoinbaseError:
    return CoinbaseError(404, "NotFound")


def already_done() -> CoinbaseError:
    return CoinbaseError(400, "Order already done")


def rate_limited(private: bool) -> CoinbaseError:
    return CoinbaseError(429, f"{'Private' if private else 'Public'} rate limit exceeded")


class PostOnlyRejected(Exception):
    """A post-only order that would take: Coinbase answers the order with status "rejected"."""


def from_venue(error: BinanceError, min_size: str) -> CoinbaseError:
    """The shared venue core speaks Binance codes: say the same thing the way Coinbase does."""
    message = error.msg
    if error.code == -2010 and "Duplicate" in message:
        return bad_request("duplicate client_oid")
    if error.code == -2010 and "insufficient" in message:
        return bad_request("Insufficient funds")
    if error.code == -1013:
        if message.endswith("PRICE_FILTER"):
            return bad_request("Invalid price: not a multiple of quote_increment, or out of range")
        if message.endswith("LOT_SIZE"):
            return bad_request(f"Invalid size: not a multiple of base_increment, or below {min_size}")
        if message.endswith("NOTIONAL"):
            return bad_request("Order size is too small")
        return bad_request("Too many open orders")
    if error.code == -2011:
        return not_found()
    return bad_request(message)
