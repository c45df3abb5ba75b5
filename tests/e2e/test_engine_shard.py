"""`tradestack engine` as a StatefulSet pod runs it: the shard from POD_NAME trades only its symbols,
and POST /drain (the pod's preStop) stops trading and cancels every open order."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conftest import eventually
from tradestack.security.secrets import FileSecretStore, Secret
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

pytestmark = pytest.mark.slow


@pytest.fixture
async def venue() -> AsyncIterator[SimulatedExchange]:
    sim = SimulatedExchange(SimConfig(flow=FlowConfig(interval_ms=50, seed=3)))
    await asyncio.wait_for(sim.start(), 10)
    try:
        yield sim
    finally:
        await asyncio.wait_for(sim.stop(), 10)


def http(method: str, url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


@pytest.mark.timeout(120)
async def test_shard_one_trades_eth_only_and_drains_on_request(
    venue: SimulatedExchange, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    key, secret = venue.create_api_key(ip_whitelist=("127.0.0.1",))
    store = FileSecretStore(data / "secrets.json")
    store.put("binance/api_key", Secret(key))
    store.put("binance/api_secret", Secret(secret))
    (tmp_path / "tradestack.yaml").write_text("http:\n  port: 0\n")
    (tmp_path / "shards.yaml").write_text(
        "shards:\n  - {index: 0, symbols: [BTCUSDT]}\n  - {index: 1, symbols: [ETHUSDT]}\n"
    )
    (tmp_path / "exchanges.yaml").write_text(
        f"venues:\n  binance: {{rest: '{venue.rest_url}', stream: '{venue.ws_url}'}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not re.search(r"KEY|SECRET|PASSPHRASE", k)}
    env["POD_NAME"] = "trading-engine-1"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradestack.cli", "engine",
        "--config", str(tmp_path / "tradestack.yaml"), "--data-dir", str(data),
        "--shards", str(tmp_path / "shards.yaml"), "--exchanges", str(tmp_path / "exchanges.yaml"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        base = ""
        while not base:
            line = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
            assert line, "engine exited early"
            found = re.search(r"metrics on (http://\S+)/metrics", line)
            base = found.group(1) if found else ""
        drain_stderr = asyncio.get_running_loop().create_task(process.stderr.read())
        await eventually(lambda: bool(venue.open_orders("ETHUSDT")), timeout=30, interval=0.05)
        assert venue.open_orders("BTCUSDT") == []  # shard 0's symbol: never touched by shard 1
        assert (await asyncio.to_thread(http, "GET", base + "/readyz"))[0] == 200

        status, body = await asyncio.to_thread(http, "POST", base + "/drain")
        assert status == 200 and json.loads(body) == {"drained": True, "open_orders": 0}
        assert venue.open_orders() == []
        assert (await asyncio.to_thread(http, "GET", base + "/readyz"))[0] == 503
        await asyncio.sleep(1)
        assert venue.open_orders() == []  # drained: nothing new is placed
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        await drain_stderr
        # every log line names the shard it came from
        lines = [json.loads(line) for line in (data / "logs" / "tradestack.jsonl").read_text().splitlines()]
        assert lines and all(line.get("shard") == 1 for line in lines)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
