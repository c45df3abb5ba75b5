"""Binance's error codes, messages and HTTP statuses, as its spot API documents them (errors.md)."""

from __future__ import annotations


class BinanceError(Exception):
    """Answered as HTTP `status` with the body {"code": code, "msg": msg}."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}


NUMBER_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
CLIENT_ID_RANGE = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"


def too_many_requests(limit: int, retry_after: int) -> BinanceError:
    return BinanceError(
        -1003,
        f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
        429,
        {"Retry-After": str(retry_after)},
    )


def too_many_orders(limit: int, interval: str) -> BinanceError:
    # Binance: "you will receive a 429 error without the Retry-After header"
    return BinanceError(-1015, f"Too many new orders; current limit is {limit} orders per {interval}.", 429)


def timestamp_ahead() -> BinanceError:
    return BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def timestamp_outside_window() -> BinanceError:
    return BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


def bad_signature() -> BinanceError:
    return BinanceError(-1022, "Signature for this request is not valid.")


def illegal_characters(name: str, legal: str) -> BinanceError:
    return BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def duplicate_parameter() -> BinanceError:
    return BinanceError(-1101, "Duplicate values for a parameter detected.")


def mandatory(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def one_of_mandatory(first: str, second: str) -> BinanceError:
    return BinanceError(-1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!")


def not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def bad_precision() -> BinanceError:
    return BinanceError(-1111, "Precision is over the maximum defined for this asset.")


def invalid_time_in_force() -> BinanceError:
    return BinanceError(-1115, "Invalid timeInForce.")


def invalid_order_type() -> BinanceError:
    return BinanceError(-1116, "Invalid orderType.")


def invalid_side() -> BinanceError:
    return BinanceError(-1117, "Invalid side.")


def invalid_symbol() -> BinanceError:
    return BinanceError(-1121, "Invalid symbol.")


def unknown_listen_key() -> BinanceError:
    return BinanceError(-1125, "This listenKey does not exist.")


def invalid_parameter(name: str) -> BinanceError:
    return BinanceError(-1130, f"Data sent for parameter '{name}' is not valid.")


def bad_recv_window() -> BinanceError:
    return BinanceError(-1131, "recvWindow must be less than 60000")


def filter_failure(name: str) -> BinanceError:
    return BinanceError(-1013, f"Filter failure: {name}")


def new_order_rejected(msg: str) -> BinanceError:
    return BinanceError(-2010, msg)


def duplicate_order() -> BinanceError:
    return new_order_rejected("Duplicate order sent.")


def insufficient_balance() -> BinanceError:
    return new_order_rejected("Account has insufficient balance for requested action.")


def would_take() -> BinanceError:
    return new_order_rejected("Order would immediately match and take.")


def unknown_order() -> BinanceError:
    return BinanceError(-2011, "Unknown order sent.")


def no_such_order() -> BinanceError:
    return BinanceError(-2013, "Order does not exist.")


def bad_api_key_format() -> BinanceError:
    return BinanceError(-2014, "API-key format invalid.", 401)


def rejected_api_key() -> BinanceError:
    return BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
