"""End to end with the real tools: a real Prometheus scrapes a real `tradestack paper` run with our rules
loaded, a real Alertmanager (our routing) sends to a webhook on loopback. The venue's WebSocket is cut
(a TCP relay in front of the simulated exchange closes every stream and refuses new ones): the
WebSocket-down page must arrive at the pager receiver; healed, it must resolve.

The shipped rule's `for: 30s` is shortened in a test copy (its logic is unit-tested with promtool on the
shipped file); routing and grouping are the shipped Alertmanager config with faster timers and the
receivers pointed at the webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from conftest import eventually
from monitoring.support import (
    ALERTMANAGER_CONFIG,
    RULES,
    clean_env,
    free_port,
    http_get,
    python,
    require,
    stop,
    wait_http,
)
from tradestack.observability.http import READY, HttpServer
from tradestack.observability.metrics import Metrics
from tradestack.observability.status_page import RiskStatus, StatusSnapshot, install_status_page
from tradestack.ports import ManualClock
from tradestack.security.secrets import FileSecretStore, Secret
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

pytestmark = pytest.mark.slow

WEBSOCKET_DOWN_FOR = "2s"


class Relay:
    """A TCP relay to the venue that can be cut (streams closed, new connections refused) and healed."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def heal(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

    async def close(self) -> None:
        if self._server is not None:
            await self.cut()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()


class Webhook:
    """Alertmanager's webhook receiver on loopback: records every notification by receiver path."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{receiver}", self._receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        self.received.append((request.match_info["receiver"], await request.json()))
        return web.Response(text="ok")

    def alerts(self, receiver: str, alertname: str, status: str) -> list[dict[str, Any]]:
        return [
            alert
            for path, body in self.received
            if path == receiver
            for alert in body["alerts"]
            if alert["labels"]["alertname"] == alertname and alert["status"] == status
        ]


def rules_for_test(tmp_path: Path) -> Path:
    """The shipped rules with the WebSocket-down hold shortened from 30 s, everything else as shipped."""
    document = yaml.safe_load(RULES.read_text())
    changed = 0
    for group in document["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if rule.get("alert") == "TradingWebSocketDown":
                assert rule["for"] == "30s"
                rule["for"] = WEBSOCKET_DOWN_FOR
                changed += 1
    assert changed == 1
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(document))
    return path


def alertmanager_config_for_test(tmp_path: Path, webhook_url: str) -> Path:
    """The shipped routing, inhibition and grouping; receivers pointed at the webhook, timers in seconds."""
    document = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    for route in [document["route"], *document["route"]["routes"]]:
        route.update({"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"})
    for receiver in document["receivers"]:
        receiver["webhook_configs"] = [{"url": f"{webhook_url}/{receiver['name']}", "send_resolved": True}]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(document))
    return path


@contextlib.contextmanager
def process(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            stop(child)


@pytest.fixture
async def venue() -> AsyncIterator[SimulatedExchange]:
    sim = SimulatedExchange(SimConfig(flow=FlowConfig(interval_ms=50, seed=5)))
    await asyncio.wait_for(sim.start(), 10)
    try:
        yield sim
    finally:
        await asyncio.wait_for(sim.stop(), 10)


async def fetch(url: str) -> Any:
    return json.loads(await asyncio.to_thread(http_get, url, 3.0))


@pytest.mark.timeout(120)
async def test_websocket_down_pages_through_prometheus_and_alertmanager_then_resolves(
    venue: SimulatedExchange, tmp_path: Path
) -> None:
    prometheus = require("prometheus")
    alertmanager = require("prometheus-alertmanager")
    port = int(re.search(r":(\d+)$", venue.ws_url).group(1))  # type: ignore[union-attr]
    relay = Relay(port)
    await relay.heal()
    webhook = Webhook()
    await webhook.start()

    data_dir = tmp_path / "data"
    key, secret = venue.create_api_key(ip_whitelist=("127.0.0.1",))
    store = FileSecretStore(data_dir / "secrets.json")
    store.put("binance/api_key", Secret(key))
    store.put("binance/api_secret", Secret(secret))
    config = tmp_path / "engine.yaml"
    config.write_text("http:\n  port: 0\nfeed:\n  backoff_initial_seconds: 0.2\n  backoff_max_seconds: 1\n")
    engine = await asyncio.create_subprocess_exec(
        python(), "-m", "tradestack.cli", "paper", "--no-view", "--config", str(config),
        "--data-dir", str(data_dir), "--venue-rest", venue.rest_url,
        "--venue-ws", f"ws://127.0.0.1:{relay.port}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=clean_env(),
    )  # fmt: skip
    drain: asyncio.Task[None] | None = None
    try:
        assert engine.stderr is not None
        said: list[bytes] = []
        while True:
            line = await asyncio.wait_for(engine.stderr.readline(), 20)
            said.append(line)
            assert line, "engine exited:\n" + b"".join(said).decode()[-3000:]
            match = re.search(rb"metrics on http://(\S+)/metrics", line)
            if match:
                target = match.group(1).decode()
                break
        log = (tmp_path / "engine.log").open("wb")

        async def keep_draining() -> None:
            assert engine.stderr is not None
            while chunk := await engine.stderr.readline():
                log.write(chunk)
            log.close()

        drain = asyncio.get_running_loop().create_task(keep_draining())

        am_port, prom_port = free_port(), free_port()
        am_config = alertmanager_config_for_test(tmp_path, webhook.url)
        prom_config = tmp_path / "prometheus.yml"
        prom_config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(rules_for_test(tmp_path))],
                    "alerting": {
                        "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
                    },
                    "scrape_configs": [{"job_name": "tradestack", "static_configs": [{"targets": [target]}]}],
                }
            )
        )
        with (
            process(
                [alertmanager, f"--config.file={am_config}", f"--storage.path={tmp_path / 'am'}",
                 f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                tmp_path / "alertmanager.log",
            ) as am,
            process(
                [prometheus, f"--config.file={prom_config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{prom_port}", "--rules.alert.resend-delay=1s"],
                tmp_path / "prometheus.log",
            ) as prom,
        ):  # fmt: skip
            am_url, prom_url = f"http://127.0.0.1:{am_port}", f"http://127.0.0.1:{prom_port}"
            await asyncio.to_thread(wait_http, am_url + "/-/ready", 15, am)
            await asyncio.to_thread(wait_http, prom_url + "/-/ready", 15, prom)

            async def websocket_up() -> dict[str, float]:
                body = await fetch(f"{prom_url}/api/v1/query?query=trading_websocket_up")
                return {r["metric"]["stream"]: float(r["value"][1]) for r in body["data"]["result"]}

            async def connected() -> bool:
                return await websocket_up() == {"market": 1.0, "user": 1.0}

            await eventually(connected, timeout=30, interval=0.25)
            rules = await fetch(f"{prom_url}/api/v1/rules")
            loaded = {r["name"] for g in rules["data"]["groups"] for r in g["rules"]}
            assert {
                "TradingWebSocketDown",
                "TradingNoFills",
                "exchange:trading_fill_latency_seconds:p99_5m",
            } <= loaded
            assert webhook.alerts("pager", "TradingWebSocketDown", "firing") == []

            await relay.cut()
            await eventually(
                lambda: bool(webhook.alerts("pager", "TradingWebSocketDown", "firing")),
                timeout=30,
                interval=0.2,
            )
            paged = webhook.alerts("pager", "TradingWebSocketDown", "firing")
            assert {a["labels"]["stream"] for a in paged} <= {"market", "user"}
            assert all(
                a["labels"]["severity"] == "page" and a["labels"]["exchange"] == "binance" for a in paged
            )
            assert paged[0]["annotations"]["runbook_url"] == "docs/runbook.md#tradingwebsocketdown"
            assert (
                webhook.alerts("chat", "TradingWebSocketDown", "firing") == []
            )  # page goes to the pager only

            # The status page shows what Alertmanager has firing (the real Alertmanager's API).
            page_server = HttpServer(Metrics(ManualClock()).registry, lambda: READY, port=0)
            install_status_page(
                page_server,
                lambda: StatusSnapshot("test", 0.0, [], [], [], [], [], {}, RiskStatus(False, "", True, "0")),
                am_url,
            )
            await page_server.start()
            try:
                shown = await fetch(page_server.url + "/status.json")
            finally:
                await page_server.stop()
            assert "TradingWebSocketDown" in {a["alertname"] for a in shown["alerts"]["alerts"]}, shown[
                "alerts"
            ]

            await relay.heal()
            await eventually(
                lambda: bool(webhook.alerts("pager", "TradingWebSocketDown", "resolved")),
                timeout=40,
                interval=0.2,
            )
            await eventually(connected, timeout=10, interval=0.25)
    finally:
        if engine.returncode is None:
            engine.send_signal(2)
            try:
                await asyncio.wait_for(engine.wait(), 20)
            except TimeoutError:
                engine.kill()
                await engine.wait()
        if drain is not None:
            await asyncio.wait_for(drain, 10)
        await relay.close()
        await webhook.stop()
