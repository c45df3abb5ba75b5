"""OKX v5 error shapes and codes, as the sim answers them.

A request-level failure is `{"code": "<code>", "msg": "...", "data": []}` with an HTTP status (401 for
authentication, 429 for rate limits, 400 for malformed parameters, 200 for business errors). An
order-level failure keeps `code` "1" ("All operations failed") or "2" (partial, batches) and puts
`sCode`/`sMsg` on each entry of `data`. Codes are strings on the wire.
"""

from __future__ import annotations

from tradestack.venues.simulated.errors import BinanceError


class OkxError(Exception):
    """A request-level failure: answered as HTTP `status` with {"code", "msg", "data": []}."""

    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status


class OrderRejected(Exception):
    """An order-level failure: `sCode`/`sMsg` on the order's entry of `data`."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


# -- authentication (HTTP 401) --
def key_empty() -> OkxError:
    return OkxError("50103", 'Request header "OK-ACCESS-KEY" cannot be empty.', 401)


def passphrase_empty() -> OkxError:
    return OkxError("50104", 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.', 401)


def wrong_passphrase() -> OkxError:
    return OkxError("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401)


def sign_empty() -> OkxError:
    return OkxError("50106", 'Request header "OK-ACCESS-SIGN" cannot be empty.', 401)


def timestamp_empty() -> OkxError:
    return OkxError("50107", 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.', 401)


def timestamp_expired() -> OkxError:
    return OkxError("50102", "Timestamp request expired.", 401)


def invalid_key() -> OkxError:
    return OkxError("50111", "Invalid OK-ACCESS-KEY.", 401)


def invalid_timestamp() -> OkxError:
    return OkxError("50112", "Invalid OK-ACCESS-TIMESTAMP.", 401)


def invalid_sign() -> OkxError:
    return OkxError("50113", "Invalid Sign.", 401)


# -- rate limits (HTTP 429) --
def rate_limited() -> OkxError:
    return OkxError(
        "50011",
        "Rate limit reached. Please refer to API documentation and throttle requests accordingly.",
        429,
    )


# -- parameters (HTTP 400) --
def empty_parameter(name: str) -> OkxError:
    return OkxError("50014", f"Parameter {name} can not be empty.", 400)


def parameter_error(name: str) -> OkxError:
    return OkxError("51000", f"Parameter {name} error", 400)


def instrument_missing() -> OkxError:
    return OkxError("51001", "Instrument ID does not exist.", 200)


def order_missing() -> OkxError:
    return OkxError("51603", "Order does not exist.", 200)


# -- order level (sCode) --
def s_parameter(name: str) -> OrderRejected:
    return OrderRejected("51000", f"Parameter {name} error")


def s_instrument() -> OrderRejected:
    return OrderRejected("51001", "Instrument ID does not exist.")


def s_insufficient(currency: str) -> OrderRejected:
    return OrderRejected("51008", f"Order failed. Insufficient {currency} balance in account.")


def s_duplicate_client_id() -> OrderRejected:
    return OrderRejected("51016", "Duplicated clOrdId.")


def s_below_minimum() -> OrderRejected:
    return OrderRejected("51020", "Your order should meet or exceed the minimum order amount.")


def s_lot_size() -> OrderRejected:
    return OrderRejected("51121", "Order quantity must be a multiple of the lot size.")


def s_cancel_failed() -> OrderRejected:
    return OrderRejected(
        "51400", "Order cancellation failed as the order has been filled, canceled or does not exist."
    )


def s_order_missing() -> OrderRejected:
    return OrderRejected("51603", "Order does not exist.")


def from_venue(error: BinanceError, quote: str, base: str, side_is_buy: bool) -> OrderRejected:
    """The shared venue core speaks Binance codes: say the same thing the way OKX does."""
    msg = error.msg
    if error.code == -2010 and "Duplicate" in msg:
        return s_duplicate_client_id()
    if error.code == -2010 and "insufficient" in msg:
        return s_insufficient(quote if side_is_buy else base)
    if error.code == -1013:
        if msg.endswith("PRICE_FILTER"):
            return s_parameter("px")
        if msg.endswith("LOT_SIZE"):
            return s_lot_size()
        if msg.endswith("NOTIONAL"):
            return s_below_minimum()
        return OrderRejected("51004", "Order count exceeds the limit.")
    if error.code == -2011:
        return s_cancel_failed()
    return OrderRejected("51000", msg)
