"""`tradestack check-exchanges` against the simulated exchange served over TLS on loopback.

The simulator speaks plain HTTP/WS; a small TLS-terminating proxy of our own, with a certificate
from a throwaway test CA (trustme), puts it behind https:// and wss:// on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.deploy_tools import python_module
from tradestack.ops.cli import ops_app
from tradestack.ops.config_check import VenueEndpoints
from tradestack.ops.exchange_check import VenueFinding, check_venue, failed
from tradestack.ops.latency_audit import Status
from tradestack.security.secrets import FileSecretStore, Secret
from tradestack.venues.binance.auth import HmacSigner
from tradestack.venues.simulated import SimConfig, SimulatedExchange

STEPS = [
    "dns",
    "tcp_connect",
    "tls_handshake",
    "websocket",
    "rest_round_trip",
    "clock_skew",
    "api_key_permissions",
]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _start_tls_proxy(context: ssl.SSLContext, upstream_port: int) -> asyncio.Server:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))

    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)


@dataclass
class TlsVenue:
    endpoints: VenueEndpoints
    ca_file: Path
    client_context: ssl.SSLContext
    api_key: str
    api_secret: str
    risky_key: str
    risky_secret: str


@pytest.fixture(scope="module")
def tls_venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsVenue]:
    """The simulated exchange and the TLS proxy on their own event loop in a thread."""
    python_module("trustme")
    import trustme

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[SimulatedExchange, asyncio.Server]:
        exchange = SimulatedExchange(SimConfig())
        await exchange.start()
        proxy = await _start_tls_proxy(server_context, exchange.port)
        return exchange, proxy

    exchange, proxy = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    port = proxy.sockets[0].getsockname()[1]
    # A key as production needs it (trading, no withdrawals, usable from our address only) and one
    # that may withdraw.
    key, secret = exchange.create_api_key(ip_whitelist=("127.0.0.1",))
    risky_key, risky_secret = exchange.create_api_key(can_withdraw=True)
    endpoints = VenueEndpoints("binance", f"https://localhost:{port}", f"wss://localhost:{port}")
    try:
        yield TlsVenue(endpoints, ca_file, client_context, key, secret, risky_key, risky_secret)
    finally:

        async def stop() -> None:
            proxy.close()
            await exchange.stop()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def _by_step(findings: list[VenueFinding]) -> dict[str, VenueFinding]:
    return {finding.step: finding for finding in findings}


def test_every_step_runs_against_the_venue_over_tls(tls_venue: TlsVenue) -> None:
    signer = HmacSigner(tls_venue.api_key, tls_venue.api_secret)
    findings = asyncio.run(
        check_venue(tls_venue.endpoints, "BTCUSDT", ssl_context=tls_venue.client_context, signer=signer)
    )
    steps = _by_step(findings)
    assert list(steps) == STEPS
    for step in STEPS:
        assert steps[step].status is Status.OK, steps[step]
    assert steps["dns"].found.startswith("127.0.0.1")
    assert steps["tls_handshake"].found.startswith("TLSv1.3, certificate valid")
    assert "DNS:localhost" in steps["tls_handshake"].found
    assert steps["websocket"].milliseconds is not None
    assert abs(float(steps["clock_skew"].found.removesuffix(" ms"))) < 250
    assert steps["api_key_permissions"].found == "spot trading on, withdrawals off, IP restriction on"
    assert not failed(findings)


def test_a_key_that_can_withdraw_fails(tls_venue: TlsVenue) -> None:
    signer = HmacSigner(tls_venue.risky_key, tls_venue.risky_secret)
    findings = asyncio.run(
        check_venue(tls_venue.endpoints, "BTCUSDT", ssl_context=tls_venue.client_context, signer=signer)
    )
    permissions = _by_step(findings)["api_key_permissions"]
    assert permissions.status is Status.BAD
    assert permissions.found == "spot trading on, withdrawals on, IP restriction off"
    assert "withdrawals disabled" in permissions.fix
    assert failed(findings)


def test_an_untrusted_certificate_fails_tls_and_skips_the_rest(tls_venue: TlsVenue) -> None:
    findings = asyncio.run(
        check_venue(tls_venue.endpoints, "BTCUSDT", ssl_context=ssl.create_default_context())
    )
    steps = _by_step(findings)
    assert steps["tcp_connect"].status is Status.OK
    assert steps["tls_handshake"].status is Status.BAD
    assert "CERTIFICATE_VERIFY_FAILED" in steps["tls_handshake"].found
    assert steps["websocket"].found == "skipped: TLS failed"
    assert failed(findings)


def test_a_wrong_key_is_reported(tls_venue: TlsVenue) -> None:
    signer = HmacSigner(tls_venue.api_key, "not-the-secret")
    findings = asyncio.run(
        check_venue(tls_venue.endpoints, "BTCUSDT", ssl_context=tls_venue.client_context, signer=signer)
    )
    permissions = _by_step(findings)["api_key_permissions"]
    assert permissions.status is Status.BAD
    assert permissions.found.startswith("HTTP 4")


def test_an_unresolvable_host_fails_dns_without_raising() -> None:
    endpoints = VenueEndpoints("binance", "https://venue.invalid", "wss://venue.invalid")
    findings = asyncio.run(check_venue(endpoints, "BTCUSDT", step_seconds=2))
    steps = _by_step(findings)
    assert steps["dns"].status is Status.BAD
    assert all(f.found.startswith("skipped") for f in findings[1:])


def test_the_command_reads_endpoints_ca_and_keys(tls_venue: TlsVenue, tmp_path: Path) -> None:
    exchanges = tmp_path / "exchanges.yaml"
    rest, stream = tls_venue.endpoints.rest, tls_venue.endpoints.stream
    exchanges.write_text(f"venues:\n  binance:\n    rest: {rest}\n    stream: {stream}\n")
    store = FileSecretStore(tmp_path / "secrets.json")
    store.put("binance/api_key", Secret(tls_venue.api_key))
    store.put("binance/api_secret", Secret(tls_venue.api_secret))
    result = CliRunner().invoke(
        ops_app,
        [
            "check-exchanges",
            "--exchanges",
            str(exchanges),
            "--secrets",
            str(store.path),
            "--ca-file",
            str(tls_venue.ca_file),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [row["step"] for row in report["findings"]] == STEPS
    assert [row["status"] for row in report["findings"]] == ["ok"] * 7
    assert tls_venue.api_secret not in result.output
