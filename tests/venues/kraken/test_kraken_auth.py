"""Kraken spot REST signing: Kraken's documented API-Sign example, and krakenex's signer on many requests."""

from __future__ import annotations

import base64
import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.venue_sdks import api_keys, draw_cases, mismatches, names, reference_signers
from tradestack.security.redaction import redact_value
from tradestack.security.secrets import Secret
from tradestack.venues.kraken.auth import KrakenSigner, NonceSource, form_body

REST_CASES = 300
base64_secrets = st.binary(min_size=32, max_size=64).map(lambda raw: base64.b64encode(raw).decode())
# form values Kraken sees: pairs, decimals, flags, client ids, comma lists, and a few that need encoding
form_values = st.text("abcdefghijklmnopqrstuvwxyzXBTUSD0123456789-_.,:/+ @", min_size=1, max_size=24)


def documented_vector(corpus: Path) -> dict[str, Any]:
    vectors = json.loads((corpus / "exchange_docs_vectors" / "signing_vectors.json").read_text())["vectors"]
    (vector,) = [v for v in vectors if v["id"] == "kraken-spot-rest-api-sign"]
    return dict(vector)


@pytest.mark.corpus
def test_api_sign_matches_the_documented_example(corpus: Path) -> None:
    vector = documented_vector(corpus)
    inputs = vector["inputs"]
    signer = KrakenSigner("documented-key", Secret(inputs["secret_b64"]))
    signature = signer.sign(inputs["uri_path"], inputs["nonce"], inputs["post_body"])
    assert signature == vector["expected"]["API-Sign"]
    assert signer.sign(inputs["uri_path"], int(inputs["nonce"]), inputs["post_body"]) == signature
    params = [("nonce", inputs["nonce"]), ("ordertype", "limit"), ("pair", "XBTUSD")]
    params += [("price", "37500"), ("type", "buy"), ("volume", "1.25")]
    assert form_body(params) == inputs["post_body"]


@st.composite
def rest_requests(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "api_key": draw(api_keys),
        "secret": draw(base64_secrets),
        "nonce": draw(st.integers(min_value=1, max_value=2**63)),
        "method": draw(
            st.sampled_from(["AddOrder", "CancelOrder", "EditOrder", "Balance", "GetWebSocketsToken"])
        ),
        "params": draw(st.lists(st.tuples(names.filter(lambda n: n != "nonce"), form_values), max_size=6)),
    }


def test_headers_and_body_match_krakenex_byte_for_byte() -> None:
    reference = reference_signers()
    cases = draw_cases(rest_requests(), REST_CASES)
    for case in cases:
        case["params"] = list(dict(case["params"]).items())  # krakenex takes a dict: one value per name
    results = reference("kraken_rest", cases)
    pairs = []
    for case, theirs in zip(cases, results, strict=True):
        signer = KrakenSigner(case["api_key"], case["secret"])
        path = f"/0/private/{case['method']}"
        # krakenex appends the nonce after the caller's parameters
        body = form_body([*case["params"], ("nonce", str(case["nonce"]))])
        ours = {"urlpath": path, "body": body, "headers": signer.headers(path, case["nonce"], body)}
        pairs.append((case, ours, theirs))
    assert len(pairs) >= REST_CASES // 2
    assert not mismatches(pairs), mismatches(pairs)


@given(st.lists(st.integers(min_value=0, max_value=2**62), min_size=1, max_size=50))
def test_nonces_always_increase_even_when_the_clock_does_not(clock_ns: list[int]) -> None:
    source = NonceSource()
    nonces = [source.next(now) for now in clock_ns]
    assert all(later > earlier for earlier, later in pairwise(nonces))
    assert all(nonce >= now // 1_000_000 for nonce, now in zip(nonces, clock_ns, strict=True))


def test_nonce_is_milliseconds_and_continues_past_a_given_start() -> None:
    assert NonceSource().next(1_616_492_376_594_123_456) == 1_616_492_376_594
    assert NonceSource(last=1_616_492_376_594_999).next(1_616_492_376_594_123_456) == 1_616_492_376_595_000
    with pytest.raises(OverflowError):
        NonceSource(last=2**64 - 1).next(0)
    with pytest.raises(ValueError, match="64-bit"):
        NonceSource(last=-1)


def test_secrets_stay_out_of_repr_and_redacted_logs() -> None:
    secret = base64.b64encode(b"kraken private key bytes").decode()
    signer = KrakenSigner("KEY-abcdefgh", secret)
    assert secret not in repr(signer) and "KEY-abcdefgh" not in repr(signer)
    logged = redact_value(signer.headers("/0/private/Balance", 1, "nonce=1"))
    assert logged == {"API-Key": "***", "API-Sign": "***"}


def test_bad_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="base64"):
        KrakenSigner("key", "%%%")
    with pytest.raises(ValueError, match="empty"):
        KrakenSigner("", base64.b64encode(b"x").decode())
