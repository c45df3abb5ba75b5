"""Binance HMAC-SHA256 signing, checked against the example in Binance's own API documentation."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tradestack.venues.binance.auth import HmacSigner, encode_params


def documented_vector(corpus: Path) -> dict[str, Any]:
    vectors = json.loads((corpus / "exchange_docs_vectors" / "signing_vectors.json").read_text())["vectors"]
    (vector,) = [v for v in vectors if v["id"] == "binance-spot-rest-hmac-ascii"]
    return dict(vector)


@pytest.mark.corpus
def test_signature_matches_the_documented_example(corpus: Path) -> None:
    vector = documented_vector(corpus)
    inputs, expected = vector["inputs"], vector["expected"]
    params = [(key, value) for key, value in inputs["params_in_order"]]
    signer = HmacSigner(inputs["apiKey"], inputs["secretKey"])

    assert encode_params(params) == inputs["payload"]
    assert signer.signature(inputs["payload"]) == expected["signature_hex"]
    assert signer.signed_query(params) == urlsplit(expected["url"]).query
    assert {"X-MBX-APIKEY": signer.api_key} == expected["header"]


@pytest.mark.corpus
def test_signing_is_repeatable_with_one_keyed_state(corpus: Path) -> None:
    inputs = documented_vector(corpus)["inputs"]
    signer = HmacSigner(inputs["apiKey"], inputs["secretKey"].encode())
    first = signer.signature(inputs["payload"])
    signer.signature("something else in between")
    assert signer.signature(inputs["payload"]) == first


def test_non_ascii_values_are_percent_encoded_and_signed_as_sent() -> None:
    signer = HmacSigner("key", "secret")
    query = signer.signed_query([("symbol", "１２３４５６"), ("side", "BUY")])
    payload, signature = query.split("&signature=")
    assert payload == "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY"
    assert signature == hmac.new(b"secret", payload.encode(), hashlib.sha256).hexdigest()


def test_the_secret_never_appears_in_the_repr() -> None:
    signer = HmacSigner("vmPUZE6mv9SD5VNH", "NhqPtmdSJYdKjVHjA7PZ")
    assert "NhqP" not in repr(signer)
    assert "vmPUZE6mv9SD5VNH" not in repr(signer)


def test_empty_credentials_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        HmacSigner("key", "")
