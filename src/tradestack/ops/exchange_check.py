"""`tradestack check-exchanges`: can this host reach each venue, fast, securely, with the right key?

Per venue, in order, each step timed: DNS, TCP connect, TLS handshake and the certificate, the
WebSocket upgrade and its first message, a REST round trip with the clock skew it reveals, and the
API key's permissions (it must trade and must not withdraw). A step that cannot run because an
earlier one failed says so ("skipped"); nothing raises.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from tradestack.ops.config_check import VenueEndpoints
from tradestack.ops.latency_audit import Severity, Status
from tradestack.venues.binance.auth import HmacSigner

CONNECT_BUDGET_MS = 50.0  # a venue farther than this is in the wrong region
MAX_CLOCK_SKEW_MS = 250.0  # Binance rejects orders outside recvWindow (default 5000 ms); stay far inside
MIN_CERT_DAYS = 14


@dataclass(frozen=True, slots=True)
class VenueFinding:
    venue: str
    step: str
    status: Status
    severity: Severity
    expected: str
    found: str
    milliseconds: float | None = None
    fix: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        data["severity"] = str(self.severity)
        return data


@dataclass(frozen=True, slots=True)
class BinanceDialect:
    """Paths of a Binance-compatible venue (the only dialect tradestack speaks so far)."""

    time_path: str = "/api/v3/time"
    account_path: str = "/api/v3/account"
    restrictions_path: str = "/sapi/v1/account/apiRestrictions"
    stream_template: str = "/ws/{symbol}@bookTicker"


DIALECTS = {"binance": BinanceDialect()}


class _Steps:
    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.findings: list[VenueFinding] = []

    def add(
        self,
        step: str,
        ok: bool | None,
        severity: Severity,
        expected: str,
        found: str,
        milliseconds: float | None = None,
        fix: str = "",
    ) -> bool:
        status = Status.UNKNOWN if ok is None else (Status.OK if ok else Status.BAD)
        self.findings.append(
            VenueFinding(self.venue, step, status, severity, expected, found, milliseconds, fix)
        )
        return bool(ok)

    def skip(self, steps: Sequence[str], reason: str) -> None:
        for step in steps:
            self.add(step, None, Severity.CRITICAL, "runs", f"skipped: {reason}")


def _ms(start: float, clock: Callable[[], float]) -> float:
    return round((clock() - start) * 1000, 3)


async def check_venue(
    endpoints: VenueEndpoints,
    symbol: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
    signer: HmacSigner | None = None,
    step_seconds: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    wall_clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
) -> list[VenueFinding]:
    """Every step against one venue. `ssl_context` defaults to the system's trust store."""
    dialect = DIALECTS.get(endpoints.venue, BinanceDialect())
    context = ssl_context or ssl.create_default_context()
    steps = _Steps(endpoints.venue)
    rest = urlsplit(endpoints.rest)
    host = rest.hostname or ""
    port = rest.port or (443 if rest.scheme == "https" else 80)
    later = ["tcp_connect", "tls_handshake", "websocket", "rest_round_trip", "api_key_permissions"]

    # DNS
    loop = asyncio.get_running_loop()
    start = clock()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), step_seconds)
    except (OSError, TimeoutError) as error:
        steps.add("dns", False, Severity.CRITICAL, f"{host} resolves", f"{type(error).__name__}: {error}")
        steps.skip(later, "DNS failed")
        return steps.findings
    addresses = sorted({str(info[4][0]) for info in infos})
    steps.add("dns", True, Severity.CRITICAL, f"{host} resolves", ", ".join(addresses), _ms(start, clock))
    address = addresses[0]

    # TCP
    start = clock()
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), step_seconds)
        elapsed = _ms(start, clock)
        writer.close()
        await writer.wait_closed()
    except (OSError, TimeoutError) as error:
        steps.add("tcp_connect", False, Severity.CRITICAL, f"{address}:{port} accepts", str(error))
        steps.skip(later[1:], "TCP connect failed")
        return steps.findings
    steps.add(
        "tcp_connect",
        elapsed <= CONNECT_BUDGET_MS,
        Severity.WARNING,
        f"connect <= {CONNECT_BUDGET_MS:g} ms",
        f"{address}:{port} in {elapsed:.3f} ms",
        elapsed,
        "run in the venue's region (Binance: ap-northeast-1)",
    )

    # TLS
    start = clock()
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(address, port, ssl=context, server_hostname=host), step_seconds
        )
        elapsed = _ms(start, clock)
        tls = writer.get_extra_info("ssl_object")
        certificate = tls.getpeercert() if tls is not None else None
        version = tls.version() if tls is not None else None
        writer.close()
        await writer.wait_closed()
    except (OSError, TimeoutError, ssl.SSLError) as error:
        steps.add(
            "tls_handshake",
            False,
            Severity.CRITICAL,
            "a certificate valid for the host, from a trusted CA",
            f"{type(error).__name__}: {error}",
            fix="check the system trust store and that nothing intercepts TLS",
        )
        steps.skip(later[2:], "TLS failed")
        return steps.findings
    days_left = _days_left(certificate)
    steps.add(
        "tls_handshake",
        days_left is not None and days_left >= MIN_CERT_DAYS and version in ("TLSv1.2", "TLSv1.3"),
        Severity.CRITICAL,
        f"TLS 1.2+, certificate verified for {host}, valid >= {MIN_CERT_DAYS} days",
        f"{version}, certificate valid {days_left} more days ({_subject(certificate)})",
        elapsed,
    )

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=step_seconds)) as session:
        await _check_websocket(steps, session, endpoints, dialect, symbol, context, step_seconds, clock)
        await _check_rest(steps, session, endpoints, dialect, context, clock, wall_clock_ms)
        await _check_key(steps, session, endpoints, dialect, context, signer, wall_clock_ms)
    return steps.findings


async def _check_websocket(
    steps: _Steps,
    session: aiohttp.ClientSession,
    endpoints: VenueEndpoints,
    dialect: BinanceDialect,
    symbol: str,
    context: ssl.SSLContext,
    step_seconds: float,
    clock: Callable[[], float],
) -> None:
    url = endpoints.stream + dialect.stream_template.format(symbol=symbol.lower())
    start = clock()
    try:
        async with session.ws_connect(url, ssl=context, autoping=True, heartbeat=None) as ws:
            upgraded = _ms(start, clock)
            message = await ws.receive(timeout=step_seconds)
            first = _ms(start, clock)
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        steps.add(
            "websocket", False, Severity.CRITICAL, "upgrade and a first message", str(error) or "timeout"
        )
        return
    got_data = message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)
    steps.add(
        "websocket",
        got_data,
        Severity.CRITICAL,
        f"upgrade, then a {symbol} message within {step_seconds:g} s",
        f"upgraded in {upgraded:.3f} ms, first message after {first:.3f} ms"
        if got_data
        else f"upgraded in {upgraded:.3f} ms, then {message.type.name}",
        first,
    )


async def _check_rest(
    steps: _Steps,
    session: aiohttp.ClientSession,
    endpoints: VenueEndpoints,
    dialect: BinanceDialect,
    context: ssl.SSLContext,
    clock: Callable[[], float],
    wall_clock_ms: Callable[[], int],
) -> None:
    try:
        before_wall = wall_clock_ms()
        start = clock()
        async with session.get(endpoints.rest + dialect.time_path, ssl=context) as response:
            body = await response.json()
        elapsed = _ms(start, clock)
        after_wall = wall_clock_ms()
        server_ms = int(body["serverTime"])
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError, TypeError) as error:
        steps.add("rest_round_trip", False, Severity.CRITICAL, "GET time answers", f"{type(error).__name__}")
        return
    skew = server_ms - (before_wall + after_wall) / 2
    steps.add(
        "rest_round_trip",
        True,
        Severity.WARNING,
        "answers",
        f"{response.status} in {elapsed:.3f} ms",
        elapsed,
    )
    steps.add(
        "clock_skew",
        abs(skew) <= MAX_CLOCK_SKEW_MS,
        Severity.CRITICAL,
        f"|venue - local| <= {MAX_CLOCK_SKEW_MS:g} ms",
        f"{skew:+.1f} ms",
        fix="sync the clock (chrony with the Amazon Time Sync Service, 169.254.169.123)",
    )


async def _check_key(
    steps: _Steps,
    session: aiohttp.ClientSession,
    endpoints: VenueEndpoints,
    dialect: BinanceDialect,
    context: ssl.SSLContext,
    signer: HmacSigner | None,
    wall_clock_ms: Callable[[], int],
) -> None:
    """The key's own restrictions (Binance: GET /sapi/v1/account/apiRestrictions): it must trade,
    must not withdraw, and must be usable only from our NAT addresses. A venue without that endpoint
    is asked for the account's canTrade/canWithdraw instead (no IP restriction to read there)."""
    expected = "spot trading on, withdrawals off, IP-restricted"
    if signer is None:
        steps.add("api_key_permissions", None, Severity.CRITICAL, expected, "no API key given")
        return
    fix = "use a key with spot trading only: withdrawals disabled, IP-restricted to the NAT addresses"
    status, body = await _signed_get(
        session, endpoints.rest + dialect.restrictions_path, context, signer, wall_clock_ms
    )
    if status == 404:
        expected = "canTrade true, canWithdraw false"
        status, body = await _signed_get(
            session, endpoints.rest + dialect.account_path, context, signer, wall_clock_ms
        )
        if status == 200 and isinstance(body, dict):
            can_trade, can_withdraw = body.get("canTrade"), body.get("canWithdraw")
            steps.add(
                "api_key_permissions",
                can_trade is True and can_withdraw is False,
                Severity.CRITICAL,
                expected,
                f"canTrade {str(can_trade).lower()}, canWithdraw {str(can_withdraw).lower()}",
                fix=fix,
            )
            return
    if status != 200 or not isinstance(body, dict):
        found = f"HTTP {status}: {body.get('msg') if isinstance(body, dict) else body}"
        steps.add("api_key_permissions", False, Severity.CRITICAL, expected, found, fix="check the key")
        return
    trading = body.get("enableSpotAndMarginTrading")
    withdrawals = body.get("enableWithdrawals")
    restricted = body.get("ipRestrict")
    steps.add(
        "api_key_permissions",
        trading is True and withdrawals is False and restricted is True,
        Severity.CRITICAL,
        expected,
        f"spot trading {_on(trading)}, withdrawals {_on(withdrawals)}, IP restriction {_on(restricted)}",
        fix=fix,
    )


def _on(value: object) -> str:
    return "on" if value is True else "off" if value is False else "unknown"


async def _signed_get(
    session: aiohttp.ClientSession,
    url: str,
    context: ssl.SSLContext,
    signer: HmacSigner,
    wall_clock_ms: Callable[[], int],
) -> tuple[int, object]:
    query = signer.signed_query([("timestamp", str(wall_clock_ms())), ("recvWindow", "5000")])
    try:
        async with session.get(
            f"{url}?{query}", ssl=context, headers={"X-MBX-APIKEY": signer.api_key}
        ) as response:
            try:
                body: object = await response.json(content_type=None)
            except ValueError:
                body = await response.text()
            return response.status, body
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        return 0, type(error).__name__


def _days_left(certificate: dict[str, Any] | None) -> int | None:
    if not certificate or "notAfter" not in certificate:
        return None
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(certificate["notAfter"]), UTC)
    return (expires - datetime.now(UTC)).days


def _subject(certificate: dict[str, Any] | None) -> str:
    if not certificate:
        return "no certificate"
    names = [value for kind, value in certificate.get("subjectAltName", ()) if kind == "DNS"]
    return "DNS:" + ",".join(names) if names else "no DNS names"


def failed(findings: Sequence[VenueFinding]) -> bool:
    return any(f.status is not Status.OK and f.severity is Severity.CRITICAL for f in findings)
