"""`secrets.store: aws`: a trading shard reads its key from Secrets Manager (moto's real server over
HTTP) at AWSCURRENT, and follows a rotation there without an authentication failure."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import eventually
from tradestack.security.aws_secrets import AwsSecretsManagerStore, SecretsManagerClient
from tradestack.security.secrets import Secret
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

pytestmark = pytest.mark.slow


def fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


def scrape(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return ""


@pytest.mark.timeout(120)
async def test_a_shard_trades_with_its_key_from_aws_and_follows_a_rotation(
    tmp_path: Path, moto_url: str, secrets_client: SecretsManagerClient, secret_name: str
) -> None:
    sim = SimulatedExchange(SimConfig(flow=FlowConfig(interval_ms=50, seed=9)))
    await asyncio.wait_for(sim.start(), 10)
    aws = AwsSecretsManagerStore(secrets_client, refresh_interval_s=0.5, overlap_window_s=60)
    key_a, secret_a = sim.create_api_key(ip_whitelist=("127.0.0.1",))
    aws.put_fields(secret_name, {"api_key": Secret(key_a), "api_secret": Secret(secret_a)})
    (tmp_path / "tradestack.yaml").write_text(
        "http: {port: 0}\n"
        f"secrets: {{store: aws, aws_secret_id: '{secret_name}', aws_region: us-east-1,"
        f" aws_endpoint_url: '{moto_url}', refresh_interval_seconds: 0.5, overlap_window_seconds: 60}}\n"
    )
    (tmp_path / "shards.yaml").write_text("shards:\n  - {index: 0, symbols: [BTCUSDT, ETHUSDT]}\n")
    (tmp_path / "exchanges.yaml").write_text(
        f"venues:\n  binance: {{rest: '{sim.rest_url}', stream: '{sim.ws_url}'}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not re.search(r"KEY|SECRET|PASSPHRASE|TOKEN", k)}
    # boto3's own credentials: the pod's IAM role in production; moto accepts anything
    env |= {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POD_NAME": "trading-engine-0",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradestack.cli", "engine",
        "--config", str(tmp_path / "tradestack.yaml"), "--data-dir", str(tmp_path / "data"),
        "--shards", str(tmp_path / "shards.yaml"), "--exchanges", str(tmp_path / "exchanges.yaml"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        base = ""
        said: list[str] = []
        while not base:
            line = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
            said.append(line)
            assert line, "engine exited early:\n" + "".join(said[-20:])
            found = re.search(r"metrics on (http://\S+)/metrics", line)
            base = found.group(1) if found else ""
        drain = asyncio.get_running_loop().create_task(process.stderr.read())
        await eventually(lambda: len(sim.trades()) >= 1, timeout=40, interval=0.05)
        metrics = await asyncio.to_thread(scrape, base + "/metrics")
        assert f'fingerprint="{fingerprint(key_a)}"' in metrics

        key_b, secret_b = sim.create_api_key(ip_whitelist=("127.0.0.1",))
        aws.put_fields(secret_name, {"api_key": Secret(key_b), "api_secret": Secret(secret_b)})

        async def switched() -> bool:
            return f'fingerprint="{fingerprint(key_b)}"' in await asyncio.to_thread(scrape, base + "/metrics")

        await eventually(switched, timeout=15, interval=0.1)
        assert sim.revoke_api_key(key_a)
        trades = len(sim.trades())
        await eventually(lambda: len(sim.trades()) > trades, timeout=40, interval=0.05)
        metrics = await asyncio.to_thread(scrape, base + "/metrics")
        rejected = re.findall(
            r'trading_orders_rejected_total\{[^}]*reason="venue:-201[45]"[^}]*\} ([0-9.]+)', metrics
        )
        assert sum(float(value) for value in rejected) == 0
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        await drain
        audit = (tmp_path / "data" / "audit" / "audit.jsonl").read_text().splitlines()
        accesses = [json.loads(line)["data"] for line in audit if json.loads(line)["kind"] == "secret_access"]
        assert any(access.get("store") == "aws" for access in accesses)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await asyncio.wait_for(sim.stop(), 10)
