"""Coinbase Exchange signing, compared byte for byte with coinbasepro's request auth (no doc vector exists).

coinbase-advanced-py (1.8.4) is the Advanced Trade SDK: it signs with JWTs (`jwt_generator`) and has
no Exchange HMAC. `coinbasepro` 0.4.2 (a community Exchange client, last released 2025; `cbpro` is
older and unmaintained) signs Exchange requests with the base64-decoded secret and the passphrase;
the ws-feed's signature is the same HMAC over `GET /users/self/verify`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.venue_sdks import (
    api_keys,
    draw_cases,
    mismatches,
    param_dicts,
    passphrases,
    reference_signers,
    unix_ns,
)
from tradestack.security.redaction import redact_value
from tradestack.security.secrets import Secret
from tradestack.venues.coinbase.auth import CoinbaseExchangeSigner, exchange_timestamp

REST_CASES = 300
WEBSOCKET_CASES = 100
base64_secrets = st.binary(min_size=16, max_size=64).map(lambda raw: base64.b64encode(raw).decode())
PATHS = st.sampled_from(["/orders", "/orders/abc-123", "/fills", "/accounts", "/orders/client:my-id-1"])


@st.composite
def rest_requests(draw: st.DrawFn) -> dict[str, Any]:
    method = draw(st.sampled_from(["GET", "POST", "DELETE"]))
    params = draw(param_dicts)
    query = "&".join(f"{key}={value}" for key, value in params.items())
    has_body = method == "POST"
    return {
        "api_key": draw(api_keys),
        "secret": draw(base64_secrets),
        "passphrase": draw(passphrases),
        "timestamp": draw(
            st.one_of(unix_ns.map(exchange_timestamp), unix_ns.map(lambda ns: str(ns // 10**9)))
        ),
        "method": method,
        "request_path": draw(PATHS) + ("" if has_body or not query else f"?{query}"),
        "body": json.dumps(params) if has_body else "",
    }


def test_rest_headers_match_coinbasepro_byte_for_byte() -> None:
    reference = reference_signers()
    cases = draw_cases(rest_requests(), REST_CASES)
    results = reference("coinbase_rest", cases)
    pairs = []
    for case, theirs in zip(cases, results, strict=True):
        signer = CoinbaseExchangeSigner(case["api_key"], Secret(case["secret"]), Secret(case["passphrase"]))
        headers = signer.headers(case["timestamp"], case["method"], case["request_path"], case["body"])
        pairs.append((case, {"path_url": case["request_path"], "headers": headers}, theirs))
    assert len(pairs) >= REST_CASES // 2
    assert not mismatches(pairs), mismatches(pairs)


def test_websocket_subscribe_signature_matches_coinbasepro() -> None:
    reference = reference_signers()
    strategy = st.fixed_dictionaries(
        {
            "api_key": api_keys,
            "secret": base64_secrets,
            "passphrase": passphrases,
            "timestamp": unix_ns.map(exchange_timestamp),
        }
    )
    cases = [
        {**case, "method": "GET", "request_path": "/users/self/verify", "body": ""}
        for case in draw_cases(strategy, WEBSOCKET_CASES)
    ]
    results = reference("coinbase_rest", cases)
    pairs = []
    for case, theirs in zip(cases, results, strict=True):
        signer = CoinbaseExchangeSigner(case["api_key"], case["secret"], case["passphrase"])
        frame = json.loads(signer.websocket_subscribe(case["timestamp"], ["BTC-USD"], ["user", "heartbeat"]))
        ours = {"signature": frame["signature"], "key": frame["key"], "passphrase": frame["passphrase"]}
        ours["timestamp"] = frame["timestamp"]
        headers = theirs["headers"]
        expected = {
            "signature": headers["CB-ACCESS-SIGN"],
            "key": headers["CB-ACCESS-KEY"],
            "passphrase": headers["CB-ACCESS-PASSPHRASE"],
            "timestamp": headers["CB-ACCESS-TIMESTAMP"],
        }
        pairs.append((case, ours, expected))
    assert not mismatches(pairs), mismatches(pairs)


def test_subscribe_frame_shape() -> None:
    secret = base64.b64encode(b"0123456789abcdef").decode()
    frame = json.loads(
        CoinbaseExchangeSigner("key", secret, "phrase").websocket_subscribe("1", ["ETH-USD"], ["user"])
    )
    assert frame["type"] == "subscribe"
    assert frame["product_ids"] == ["ETH-USD"] and frame["channels"] == ["user"]
    message = b"1GET/users/self/verify"
    expected = base64.b64encode(hmac.new(b"0123456789abcdef", message, hashlib.sha256).digest()).decode()
    assert frame["signature"] == expected


@given(unix_ns)
def test_timestamp_is_seconds_with_millisecond_decimals(nanoseconds: int) -> None:
    stamp = exchange_timestamp(nanoseconds)
    seconds, millis = stamp.split(".")
    assert int(seconds) == nanoseconds // 10**9 and len(millis) == 3
    assert int(millis) == nanoseconds % 10**9 // 10**6


def test_secrets_stay_out_of_repr_and_redacted_logs() -> None:
    secret = base64.b64encode(b"very secret bytes").decode()
    signer = CoinbaseExchangeSigner("key-0123456789", secret, "PASSPHRASE9")
    assert (
        secret not in repr(signer)
        and "PASSPHRASE9" not in repr(signer)
        and "key-0123456789" not in repr(signer)
    )
    logged = redact_value(signer.headers("1700000000.000", "GET", "/accounts"))
    assert logged["CB-ACCESS-SIGN"] == logged["CB-ACCESS-PASSPHRASE"] == logged["CB-ACCESS-KEY"] == "***"


def test_bad_secrets_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="base64") as raised:
        CoinbaseExchangeSigner("key", "not*base64!", "phrase")
    assert "not*base64" not in str(raised.value)
    with pytest.raises(ValueError, match="empty"):
        CoinbaseExchangeSigner("key", base64.b64encode(b"x").decode(), "")
