"""OKX v5 signing, compared byte for byte with python-okx's own signing (OKX's docs give no vector)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.venue_sdks import (
    api_keys,
    draw_cases,
    hmac_secrets,
    mismatches,
    param_dicts,
    passphrases,
    reference_signers,
    unix_ns,
)
from tradestack.security.redaction import redact_value
from tradestack.security.secrets import Secret
from tradestack.venues.okx.auth import OkxSigner, rest_timestamp, websocket_timestamp

REST_CASES = 300
WEBSOCKET_CASES = 100
PATHS = st.sampled_from(
    [
        "/api/v5/trade/order",
        "/api/v5/trade/cancel-order",
        "/api/v5/trade/amend-order",
        "/api/v5/trade/orders-pending",
        "/api/v5/account/balance",
        "/api/v5/account/positions",
    ]
)


@st.composite
def rest_requests(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "api_key": draw(api_keys),
        "secret": draw(hmac_secrets),
        "passphrase": draw(passphrases),
        "timestamp": rest_timestamp(draw(unix_ns)),
        "method": draw(st.sampled_from(["GET", "POST"])),
        "path": draw(PATHS),
        "params": draw(param_dicts),
    }


def wire(case: dict[str, Any]) -> tuple[str, str]:
    """The request path (with query) and body we would send for the case."""
    params: dict[str, str] = case["params"]
    if case["method"] == "GET":
        query = "&".join(f"{key}={value}" for key, value in params.items())
        return case["path"] + (f"?{query}" if query else ""), ""
    return case["path"], json.dumps(params)


def test_rest_headers_match_python_okx_byte_for_byte() -> None:
    reference = reference_signers()
    cases = draw_cases(rest_requests(), REST_CASES)
    results = reference("okx_rest", cases)
    pairs = []
    for case, theirs in zip(cases, results, strict=True):
        request_path, body = wire(case)
        signer = OkxSigner(case["api_key"], Secret(case["secret"]), Secret(case["passphrase"]))
        ours = {
            "request_path": request_path,
            "body": body,
            "headers": signer.headers(case["timestamp"], case["method"], request_path, body),
        }
        pairs.append((case, ours, theirs))
    assert len(pairs) >= REST_CASES // 2
    assert not mismatches(pairs), mismatches(pairs)


def test_websocket_login_matches_python_okx() -> None:
    reference = reference_signers()
    strategy = st.fixed_dictionaries(
        {"api_key": api_keys, "secret": hmac_secrets, "passphrase": passphrases, "timestamp": unix_ns}
    )
    cases = [
        {**case, "timestamp": int(websocket_timestamp(case["timestamp"]))}
        for case in draw_cases(strategy, WEBSOCKET_CASES)
    ]
    results = reference("okx_websocket_login", cases)
    pairs = []
    for case, theirs in zip(cases, results, strict=True):
        signer = OkxSigner(case["api_key"], case["secret"], case["passphrase"])
        ours = json.loads(signer.websocket_login(str(case["timestamp"])))
        # python-okx sends the timestamp as a JSON number; OKX's docs show a string: same value
        theirs["args"][0]["timestamp"] = str(theirs["args"][0]["timestamp"])
        pairs.append((case, ours, theirs))
    assert not mismatches(pairs), mismatches(pairs)


def test_signature_follows_the_documented_prehash() -> None:
    signer = OkxSigner("key", b"22582BD0CFF14C41EDBF1AB98506286D", "pass phrase")
    prehash = '2020-12-08T09:08:57.715ZPOST/api/v5/trade/order{"instId":"BTC-USDT"}'
    expected = base64.b64encode(
        hmac.new(b"22582BD0CFF14C41EDBF1AB98506286D", prehash.encode(), hashlib.sha256).digest()
    ).decode()
    assert (
        signer.sign("2020-12-08T09:08:57.715Z", "post", "/api/v5/trade/order", '{"instId":"BTC-USDT"}')
        == expected
    )


@given(unix_ns)
def test_rest_timestamp_is_iso_8601_utc_milliseconds(nanoseconds: int) -> None:
    moment = datetime.fromtimestamp(nanoseconds // 10**9, tz=UTC).replace(
        microsecond=(nanoseconds % 10**9) // 10**6 * 1000
    )
    assert rest_timestamp(nanoseconds) == moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_known_timestamps() -> None:
    assert rest_timestamp(1_607_418_537_715_999_999) == "2020-12-08T09:08:57.715Z"
    assert websocket_timestamp(1_538_054_050_999_000_000) == "1538054050"


def test_demo_keys_add_the_simulated_trading_header() -> None:
    headers = OkxSigner("key", "secret", "phrase", simulated=True).headers(
        "t", "GET", "/api/v5/account/balance"
    )
    assert headers["x-simulated-trading"] == "1"
    assert "x-simulated-trading" not in OkxSigner("key", "secret", "phrase").headers("t", "GET", "/")


def test_secrets_stay_out_of_repr_and_redacted_logs() -> None:
    signer = OkxSigner("abcd-1234-key", "SECRETSECRET", "PASSPHRASE9")
    assert "SECRET" not in repr(signer) and "PASSPHRASE9" not in repr(signer)
    assert "abcd-1234-key" not in repr(signer)
    logged = redact_value(signer.headers("2020-12-08T09:08:57.715Z", "GET", "/api/v5/account/balance"))
    assert logged["OK-ACCESS-SIGN"] == logged["OK-ACCESS-PASSPHRASE"] == logged["OK-ACCESS-KEY"] == "***"


@pytest.mark.parametrize(
    ("api_key", "secret", "passphrase"), [("", "s", "p"), ("k", "", "p"), ("k", "s", "")]
)
def test_empty_credentials_are_refused(api_key: str, secret: str, passphrase: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        OkxSigner(api_key, secret, passphrase)
