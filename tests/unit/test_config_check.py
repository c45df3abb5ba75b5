"""ops/config_check: the ports each venue's connector may reach, in exchanges.yaml and in the
connectors' NetworkPolicies. 443 for every venue; OKX's public WebSocket also on 8443, and only it."""

from __future__ import annotations

from typing import Any

import pytest

from tradestack.ops.config_check import (
    VenueEndpoints,
    _check_connector_egress,
    _check_engine_egress,
    check_endpoints,
    egress_ports,
)

OKX = VenueEndpoints("okx", "https://www.okx.com", "wss://ws.okx.com:8443/ws/v5/public")
OTHER_VENUES = ("binance", "binance-futures", "coinbase", "bybit", "kraken")
PUBLIC = {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}


def _policy(venue: str | None, *ports: int, end_port: int | None = None) -> dict[str, Any]:
    labels = {"app.kubernetes.io/component": "connector"}
    if venue is not None:
        labels["tradestack.io/exchange"] = venue
    entries: list[dict[str, Any]] = [{"protocol": "TCP", "port": port} for port in ports]
    if end_port is not None:
        entries[-1]["endPort"] = end_port
    return {
        "kind": "NetworkPolicy",
        "metadata": {"name": f"connector-{venue or 'all'}-egress"},
        "spec": {
            "podSelector": {"matchLabels": labels},
            "policyTypes": ["Egress"],
            "egress": [{"to": [PUBLIC], "ports": entries}],
        },
    }


def test_the_allowance_is_443_for_every_venue_and_8443_for_the_okx_stream_only() -> None:
    assert egress_ports("okx", "stream") == {443, 8443}
    assert egress_ports("okx", "rest") == {443}
    assert egress_ports("okx") == {443, 8443}
    for venue in (*OTHER_VENUES, "a-venue-not-in-the-table"):
        for kind in ("rest", "stream", None):
            assert egress_ports(venue, kind) == {443}, (venue, kind)
    assert egress_ports(None) == {443}  # a policy over every connector


def test_an_okx_stream_on_8443_passes() -> None:
    assert check_endpoints({"okx": OKX}) == []
    explicit = VenueEndpoints("okx", "https://www.okx.com:443", "wss://ws.okx.com:443/ws/v5/public")
    assert check_endpoints({"okx": explicit}) == []


@pytest.mark.parametrize("venue", OTHER_VENUES)
def test_8443_is_refused_for_every_other_venue_naming_the_field(venue: str) -> None:
    endpoints = VenueEndpoints(venue, "https://api.example.com", "wss://stream.example.com:8443/ws")
    problems = check_endpoints({venue: endpoints})
    assert [p.path for p in problems] == [f"exchanges.yaml: venues.{venue}.stream"]
    assert "uses port 8443" in problems[0].message
    assert f"{venue} connector's stream may only reach port 443" in problems[0].message
    assert "endpoint on port 443 (" in problems[0].hint


@pytest.mark.parametrize(
    ("rest", "stream", "field", "port", "allowed"),
    [
        ("https://www.okx.com", "wss://ws.okx.com:9443/ws/v5/public", "stream", 9443, "443 or 8443"),
        ("https://www.okx.com", "wss://ws.okx.com:80/ws/v5/public", "stream", 80, "443 or 8443"),
        ("https://www.okx.com:8443", "wss://ws.okx.com:8443/ws/v5/public", "rest", 8443, "443"),
    ],
)
def test_any_other_port_for_okx_is_refused_naming_the_field(
    rest: str, stream: str, field: str, port: int, allowed: str
) -> None:
    problems = check_endpoints({"okx": VenueEndpoints("okx", rest, stream)})
    assert [p.path for p in problems] == [f"exchanges.yaml: venues.okx.{field}"]
    assert f"uses port {port}" in problems[0].message
    assert f"okx connector's {field} may only reach port {allowed}" in problems[0].message
    assert f"endpoint on port {allowed} (" in problems[0].hint


def test_tls_is_still_required_before_the_port() -> None:
    problems = check_endpoints({"okx": VenueEndpoints("okx", "https://www.okx.com", "ws://ws.okx.com:8443")})
    assert [p.path for p in problems] == ["exchanges.yaml: venues.okx.stream"]
    assert "does not use TLS" in problems[0].message


def test_the_okx_policy_may_open_443_and_8443_and_the_others_443_only() -> None:
    assert _check_connector_egress([_policy("okx", 443, 8443)]) == []
    assert _check_connector_egress([_policy(venue, 443) for venue in OTHER_VENUES]) == []


@pytest.mark.parametrize("venue", OTHER_VENUES)
def test_a_policy_opening_8443_for_another_venue_is_refused_naming_the_field(venue: str) -> None:
    problems = _check_connector_egress([_policy(venue, 443, 8443)])
    assert [p.path for p in problems] == [f"NetworkPolicy/connector-{venue}-egress: egress[0].ports"]
    assert f"the {venue} connector may reach ports ['443', '8443'], not only 443" in problems[0].message
    assert "allow egress on TCP 443 only" in problems[0].hint


@pytest.mark.parametrize(
    ("policy", "reached"),
    [
        (_policy("okx", 443, 9443), "ports ['443', '9443']"),
        (_policy("okx", 80), "ports ['80']"),
        (_policy("okx"), "every port"),
        (_policy("okx", 443, end_port=8443), "port ranges 443-8443"),
    ],
)
def test_an_okx_policy_opening_anything_else_is_refused_naming_the_field(
    policy: dict[str, Any], reached: str
) -> None:
    problems = _check_connector_egress([policy])
    assert [p.path for p in problems] == ["NetworkPolicy/connector-okx-egress: egress[0].ports"]
    assert f"the okx connector may reach {reached}, not only 443 or 8443" in problems[0].message
    assert "allow egress on TCP 443 or 8443 only" in problems[0].hint


def test_a_policy_over_every_connector_may_open_443_only() -> None:
    assert _check_connector_egress([_policy(None, 443)]) == []
    problems = _check_connector_egress([_policy(None, 443, 8443)])
    assert [p.path for p in problems] == ["NetworkPolicy/connector-all-egress: egress[0].ports"]
    assert "every connector may reach ports ['443', '8443'], not only 443" in problems[0].message


def _engine_policy(*outward: int, to_connectors: tuple[int, ...] = (9500,)) -> dict[str, Any]:
    return {
        "kind": "NetworkPolicy",
        "metadata": {"name": "trading-engine"},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "trading-engine"}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/component": "connector"}}}],
                    "ports": [{"protocol": "TCP", "port": port} for port in to_connectors],
                },
                {"ports": [{"protocol": "TCP", "port": port} for port in outward]},
            ],
        },
    }


def test_engines_trading_okx_must_go_out_on_8443_for_the_private_stream() -> None:
    assert _check_engine_egress("binance", [_engine_policy(443)]) == []
    assert _check_engine_egress("okx", [_engine_policy(443, 8443)]) == []
    problems = _check_engine_egress("okx", [_engine_policy(443)])
    assert [p.path for p in problems] == ["NetworkPolicy/trading-engine: egress"]
    assert "8443" in problems[0].message and "add TCP 8443" in problems[0].hint


def test_a_port_open_towards_pods_only_does_not_reach_the_venue() -> None:
    problems = _check_engine_egress("okx", [_engine_policy(443, to_connectors=(9500, 8443))])
    assert [p.path for p in problems] == ["NetworkPolicy/trading-engine: egress"]
