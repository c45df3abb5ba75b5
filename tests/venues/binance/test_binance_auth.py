"""Binance Ed25519 signing and the other documented HMAC examples; binance-connector as reference signer.

Binance's docs show how to sign with an Ed25519 key but publish no key, so no fixed Ed25519 output:
the Ed25519 primitive is checked against RFC 8032's own vectors, and the whole signed query against
binance-connector (whose Ed25519 is pycryptodome's, an implementation independent of ours).
The HMAC examples here are the REST "mixed query string and body" one and the WebSocket API one;
the main REST example is in test_auth.py (from the shared corpus).
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qsl

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from hypothesis import given
from hypothesis import strategies as st

from support.venue_sdks import api_keys, draw_cases, hmac_secrets, mismatches, names, reference_signers
from tradestack.security.secrets import Secret
from tradestack.venues.binance.auth import BinanceSigner, HmacSigner, websocket_api_payload
from tradestack.venues.binance.auth_ed25519 import Ed25519Signer

REST_CASES = 200
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
# RFC 8032 section 7.1, TEST 1 and TEST 2: (secret key, public key, message, signature)
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "r",  # the message is the single byte 0x72
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
]
param_values = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~", min_size=1, max_size=20
)
param_lists = st.dictionaries(
    names.filter(lambda name: name not in {"timestamp", "signature", "apiKey"}), param_values, max_size=8
).map(lambda params: list(params.items()))
seeds = st.binary(min_size=32, max_size=32)


def pem(seed: bytes, password: bytes | None = None) -> str:
    encryption = NoEncryption() if password is None else BestAvailableEncryption(password)
    key = Ed25519PrivateKey.from_private_bytes(seed)
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption).decode()


@pytest.mark.parametrize(("secret_key", "public_key", "message", "signature"), RFC8032)
def test_ed25519_matches_rfc_8032(secret_key: str, public_key: str, message: str, signature: str) -> None:
    signer = Ed25519Signer.from_seed("key", bytes.fromhex(secret_key))
    assert signer.public_key_bytes().hex() == public_key
    assert base64.b64decode(signer.signature(message)).hex() == signature


@given(seeds, st.lists(st.tuples(names, param_values), max_size=6))
def test_ed25519_signed_query_verifies_with_the_public_key(
    seed: bytes, params: list[tuple[str, str]]
) -> None:
    signer = Ed25519Signer("key", Secret(pem(seed)))
    query = signer.signed_query([*params, ("timestamp", "1668481559918")])
    payload, _, encoded = query.rpartition("&signature=")
    (signature,) = [value for name, value in parse_qsl(f"signature={encoded}") if name == "signature"]
    Ed25519PublicKey.from_public_bytes(signer.public_key_bytes()).verify(
        base64.b64decode(signature), payload.encode()
    )
    assert "+" not in encoded and "/" not in encoded and "=" not in encoded


def test_encrypted_pem_signs_like_the_plain_one() -> None:
    seed = bytes(range(32))
    plain = Ed25519Signer("key", pem(seed))
    encrypted = Ed25519Signer("key", pem(seed, b"correct horse"), password=Secret("correct horse"))
    assert encrypted.signature("symbol=BTCUSDT") == plain.signature("symbol=BTCUSDT")
    with pytest.raises(ValueError, match="password"):
        Ed25519Signer("key", pem(seed, b"correct horse"), password="wrong")


def test_non_ed25519_keys_and_garbage_are_refused_without_echoing_them() -> None:
    rsa = generate_private_key(public_exponent=65537, key_size=1024)
    rsa_pem = rsa.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with pytest.raises(ValueError, match="not an Ed25519 key"):
        Ed25519Signer("key", rsa_pem)
    with pytest.raises(ValueError, match="PEM") as raised:
        Ed25519Signer("key", "-----BEGIN PRIVATE KEY-----\nSECRETJUNK\n-----END PRIVATE KEY-----\n")
    assert "SECRETJUNK" not in str(raised.value)
    with pytest.raises(ValueError, match="32 bytes"):
        Ed25519Signer.from_seed("key", b"short")


def test_the_private_key_never_appears_in_the_repr() -> None:
    key_pem = pem(bytes(range(32)))
    signer = Ed25519Signer("CAvIjXy3F44yW6Pou5k8", key_pem)
    body = key_pem.splitlines()[1]
    assert body not in repr(signer) and "CAvIjXy3F44yW6Pou5k8" not in repr(signer)


def test_both_signers_serve_the_gateway() -> None:
    signers: list[BinanceSigner] = [HmacSigner("key", "secret"), Ed25519Signer.from_seed("key", bytes(32))]
    for signer in signers:
        query = signer.signed_query([("symbol", "BTCUSDT"), ("timestamp", "1")])
        assert query.startswith("symbol=BTCUSDT&timestamp=1&signature=")


def test_rest_mixed_query_and_body_example() -> None:
    # rest-api.md, "SIGNED Endpoint Examples for POST /api/v3/order", Example 3: no & between the two parts
    payload = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
        + "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    )
    expected = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    assert HmacSigner(DOC_API_KEY, DOC_SECRET).signature(payload) == expected


def test_websocket_api_example() -> None:
    # WebSocket API "SIGNED request example (HMAC)": params sorted by name, apiKey included
    params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "newOrderRespType": "ACK",
        "recvWindow": "100",
        "timestamp": "1645423376532",
        "apiKey": DOC_API_KEY,
        "signature": "------ FILL ME ------",
    }
    payload = websocket_api_payload(params)
    assert payload == (
        f"apiKey={DOC_API_KEY}&newOrderRespType=ACK&price=52000.00&quantity=0.01000000&recvWindow=100"
        "&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
    )
    expected = "cc15477742bd704c29492d96c7ead9414dfd8e0ec4a00f947bb5bb454ddbd08a"
    assert HmacSigner(DOC_API_KEY, DOC_SECRET).signature(payload) == expected


@st.composite
def ed25519_requests(draw: st.DrawFn) -> dict[str, Any]:
    seed = draw(seeds)
    return {
        "api_key": draw(api_keys),
        "seed": seed.hex(),
        "private_key_pem": pem(seed),
        "timestamp": draw(st.integers(min_value=1_500_000_000_000, max_value=4_102_444_800_000)),
        "params": draw(param_lists),
    }


@st.composite
def hmac_requests(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "api_key": draw(api_keys),
        "secret": draw(hmac_secrets),
        "timestamp": draw(st.integers(min_value=1_500_000_000_000, max_value=4_102_444_800_000)),
        "params": draw(param_lists),
    }


def test_ed25519_signed_queries_match_binance_connector() -> None:
    reference = reference_signers()
    cases = draw_cases(ed25519_requests(), REST_CASES)
    results = reference("binance_rest", cases)
    pairs = []
    for case, theirs in zip(cases, results, strict=True):
        signer = Ed25519Signer(case["api_key"], Secret(case["private_key_pem"]))
        query = signer.signed_query([*case["params"], ("timestamp", str(case["timestamp"]))])
        pairs.append((case, {"query": query}, theirs))
    assert len(pairs) >= REST_CASES // 2
    assert not mismatches(pairs), mismatches(pairs)


def test_hmac_signed_queries_match_binance_connector() -> None:
    reference = reference_signers()
    cases = draw_cases(hmac_requests(), REST_CASES)
    results = reference("binance_rest", cases)
    pairs = []
    for case, theirs in zip(cases, results, strict=True):
        signer = HmacSigner(case["api_key"], case["secret"])
        query = signer.signed_query([*case["params"], ("timestamp", str(case["timestamp"]))])
        pairs.append((case, {"query": query}, theirs))
    assert not mismatches(pairs), mismatches(pairs)


def test_websocket_api_signatures_match_binance_connector() -> None:
    reference = reference_signers()
    cases = draw_cases(hmac_requests(), REST_CASES)
    results = reference("binance_websocket_api", cases)
    pairs = []
    for case, theirs in zip(cases, results, strict=True):
        params = {**dict(case["params"]), "timestamp": str(case["timestamp"]), "apiKey": case["api_key"]}
        signature = HmacSigner(case["api_key"], case["secret"]).signature(websocket_api_payload(params))
        pairs.append((case, signature, theirs["signature"]))
    assert not mismatches(pairs), mismatches(pairs)
