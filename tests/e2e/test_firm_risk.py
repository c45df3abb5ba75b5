"""`tradestack risk`, the firm-wide risk service, with real processes and real sockets.

The service alone: shard reports summed, a breach latched durably (a restart keeps it), an operator's
kill, malformed reports counted and refused while the service lives on, `kill-switch reset --firm`.
With a shard: no trading before the first verdict (ordered start), a firm kill cancels everything at
the venue and latches the shard's own switch, and a silent service stops the shard (fail closed).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conftest import eventually
from support.engine_process import Engine
from tradestack.app.risk_service import RiskService
from tradestack.config import Settings
from tradestack.ports import SystemClock
from tradestack.venues.simulated import FlowConfig, SimConfig, SimulatedExchange

UNIT = 10**8


def post(url: str, body: object) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {"error": text.decode(errors="replace")}


def get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def report(shard: str, btc: str = "0", pnl: int = 0) -> dict[str, Any]:
    units = int(float(btc) * UNIT)
    return {
        "shard": shard,
        "scale": 8,
        "positions": {"BTC": units},
        "gross_notional": {"USDT": abs(units) * 60_000},
        "pnl": {"USDT": pnl * UNIT},
        "kill_switch": False,
    }


class RiskProcess:
    """`tradestack risk` as a child process on free ports."""

    def __init__(self, tmp: Path) -> None:
        self.data_dir = tmp / "risk-data"
        self.config = tmp / "risk.yaml"
        self.config.write_text(
            "http:\n  port: 0\n"
            "firm_risk:\n  port: 0\n  max_net_position: {BTC: '0.1', ETH: '1'}\n"
            "  max_gross_notional: {USDT: '100000'}\n  daily_loss_limit: {USDT: '1000'}\n"
        )
        self.shards = tmp / "shards.yaml"
        self.shards.write_text(
            "shards:\n  - {index: 0, symbols: [BTCUSDT]}\n  - {index: 1, symbols: [ETHUSDT]}\n"
        )
        self.stderr = tmp / "risk.stderr"
        self.process: subprocess.Popen[bytes] | None = None
        self.api = self.http = ""

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not re.search(r"KEY|SECRET|PASSPHRASE", k)}
        with self.stderr.open("wb") as stderr:  # a file, not a pipe: nobody has to keep reading it
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tradestack.cli", "risk", "--config", str(self.config),
                 "--data-dir", str(self.data_dir), "--shards", str(self.shards)],
                stdout=subprocess.DEVNULL, stderr=stderr, env=env,
            )  # fmt: skip
        deadline = time.monotonic() + 20
        while not (self.api and self.http):
            said = self.stderr.read_text(errors="replace")
            assert self.process.poll() is None, "risk service exited:\n" + said
            assert time.monotonic() < deadline, "no addresses announced:\n" + said
            if match := re.search(r"risk api on (http://\S+)", said):
                self.api = match.group(1)
            if match := re.search(r"metrics on (http://\S+)/metrics", said):
                self.http = match.group(1)
            time.sleep(0.05)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=15)
        self.api = self.http = ""
        return code

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "tradestack.cli", *args, "--firm",
             "--config", str(self.config), "--data-dir", str(self.data_dir)],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        return result.stdout.strip()


@pytest.fixture
def risk_process(tmp_path: Path) -> Any:
    service = RiskProcess(tmp_path)
    yield service
    if service.process is not None and service.process.poll() is None:
        service.process.kill()
        service.process.wait(timeout=10)


@pytest.mark.timeout(90)
def test_the_service_sums_shards_latches_a_breach_durably_and_resets_only_offline(
    risk_process: RiskProcess,
) -> None:
    risk = risk_process
    risk.start()
    assert get_text(risk.http + "/readyz")
    assert post(risk.api + "/v1/report", report("shard-0", btc="0.06")) == (
        200, {"allow": True, "kill": False, "reason": ""},
    )  # fmt: skip
    status, verdict = post(risk.api + "/v1/report", report("shard-1", btc="0.06"))
    assert status == 200 and verdict["kill"] and "firm net position BTC" in verdict["reason"]
    state = json.loads(get_text(risk.api + "/v1/state"))
    assert state["kill_switch"]["engaged"] and state["exposure"]["net_position"] == {"BTC": 12_000_000}
    assert "trading_kill_switch_engaged 1.0" in get_text(risk.http + "/metrics")

    # the latch is on disk: a restarted service still kills every shard
    assert risk.stop() == 0
    assert risk.cli("kill-switch", "status").startswith("engaged: firm net position BTC")
    risk.start()
    assert post(risk.api + "/v1/report", report("shard-0"))[1]["kill"]
    assert risk.stop() == 0

    assert "firm kill switch reset" in risk.cli("kill-switch", "reset")
    risk.start()
    assert post(risk.api + "/v1/report", report("shard-0"))[1] == {
        "allow": True, "kill": False, "reason": "",
    }  # fmt: skip
    risk.stop()


@pytest.mark.timeout(60)
def test_malformed_reports_are_refused_counted_and_the_service_lives_on(
    risk_process: RiskProcess,
) -> None:
    risk = risk_process
    risk.start()
    bad: list[object] = [
        b"not json",
        b"\xff\xfe",
        [],
        {**report("shard-0"), "scale": 2},
        {**report("shard-0"), "positions": {"BTC": 0.5}},  # a float where an integer amount belongs
        {**report("shard-0"), "pnl": {"USDT": "1e400"}},
        {**report("shard-0"), "kill_switch": "no"},
        {k: v for k, v in report("shard-0").items() if k != "shard"},
        report("shard-7"),  # not in the shard plan: it could offset a real shard's exposure
    ]
    for body in bad:
        status, answer = post(risk.api + "/v1/report", body)
        assert status == 400 and answer["error"], body
    status, _ = post(risk.api + "/v1/report", b"x" * 100_000)  # above the body bound
    assert status == 413
    assert post(risk.api + "/v1/report", report("shard-0"))[1]["allow"]
    metrics = get_text(risk.http + "/metrics")
    assert f"firm_risk_reports_malformed_total {float(len(bad))}" in metrics
    assert post(risk.api + "/v1/kill", {})[0] == 400  # a kill must say why
    assert risk.stop() == 0


# -- with a trading shard ---------------------------------------------------------------------------------


@pytest.fixture
async def venue() -> AsyncIterator[SimulatedExchange]:
    sim = SimulatedExchange(SimConfig(flow=FlowConfig(interval_ms=50, seed=5)))
    await asyncio.wait_for(sim.start(), 10)
    try:
        yield sim
    finally:
        await asyncio.wait_for(sim.stop(), 10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def in_process_service(tmp: Path, port: int) -> RiskService:
    settings = Settings(data_dir=tmp / "risk-data").model_copy(
        update={"http": Settings().http.model_copy(update={"port": 0})}
    )
    return RiskService(settings, SystemClock(), http_port=0, api_port=port)


async def readyz(engine: Engine) -> dict[str, Any]:
    def fetch() -> dict[str, Any]:
        try:
            with urllib.request.urlopen(engine.base_url + "/readyz", timeout=2) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as error:
            return dict(json.loads(error.read()))

    return await asyncio.to_thread(fetch)


def shard_kill_switch(data_dir: Path) -> str:
    db = sqlite3.connect(data_dir / "journal.db")
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'kill_switch'").fetchone()
    finally:
        db.close()
    return str(row[0]) if row else ""


@pytest.mark.timeout(120)
async def test_a_shard_waits_for_the_firm_then_obeys_its_kill(
    venue: SimulatedExchange, tmp_path: Path
) -> None:
    port = free_port()
    engine = Engine(venue, tmp_path / "data")
    engine.config.write_text(
        "http:\n  port: 0\n"
        f"risk_service:\n  url: http://127.0.0.1:{port}\n"
        "  report_interval_seconds: 0.1\n  timeout_seconds: 1.0\n"
    )
    service = in_process_service(tmp_path, port)
    try:
        # ordered start: up and reconciled, but no verdict, so not ready and not trading
        await engine.start(wait_ready=False)
        await eventually(lambda: _risk_pending(engine), timeout=20, interval=0.1)
        await asyncio.sleep(1.5)
        assert venue.open_orders() == []
        assert "risk_service" in (await readyz(engine))["not_ready"]

        await service.start()
        await eventually(engine.ready, timeout=20, interval=0.05)
        await eventually(lambda: len(venue.open_orders()) >= 2, timeout=20, interval=0.05)
        assert 'trading_risk_link_up{service="http://127.0.0.1:' in await engine.metrics()

        # an operator's firm kill: the venue is flat within a report interval or two
        tripped = time.monotonic()
        status, answer = await asyncio.to_thread(post, service.api_url + "/v1/kill", {"reason": "drill"})
        assert status == 200 and answer["engaged"]
        await eventually(lambda: venue.open_orders() == [], timeout=5, interval=0.005)
        flat_ms = (time.monotonic() - tripped) * 1000
        print(f"firm kill -> venue flat in {flat_ms:.0f} ms (report interval 100 ms)")
        await asyncio.sleep(1.0)
        assert venue.open_orders() == []  # and nothing new
        assert shard_kill_switch(tmp_path / "data") == "firm risk: operator: drill"
        assert "trading_kill_switch_engaged 1.0" in await engine.metrics()
        assert await engine.stop() == 0
    finally:
        await service.stop()
        if engine.process is not None and engine.process.returncode is None:
            engine.process.kill()
            await engine.process.wait()


@pytest.mark.timeout(120)
async def test_a_silent_firm_service_stops_the_shard_until_it_answers_again(
    venue: SimulatedExchange, tmp_path: Path
) -> None:
    port = free_port()
    engine = Engine(venue, tmp_path / "data")
    engine.config.write_text(
        "http:\n  port: 0\n"
        f"risk_service:\n  url: http://127.0.0.1:{port}\n"
        "  report_interval_seconds: 0.1\n  timeout_seconds: 1.0\n"
    )
    service = in_process_service(tmp_path, port)
    try:
        await service.start()
        await engine.start()
        await eventually(lambda: len(venue.open_orders()) >= 2, timeout=20, interval=0.05)

        await service.stop()  # the service dies: within its timeout the shard cancels and stops
        gone = time.monotonic()
        await eventually(lambda: venue.open_orders() == [], timeout=10, interval=0.01)
        assert time.monotonic() - gone < 1.0 + 2.0  # the timeout, plus a report interval and a cancel
        await asyncio.sleep(1.0)
        assert venue.open_orders() == []
        assert 'trading_risk_link_up{service="http://127.0.0.1:' + f'{port}"}} 0.0' in (
            await engine.metrics()
        )

        service = in_process_service(tmp_path, port)  # back: trading resumes, no latch was set
        await service.start()
        await eventually(lambda: len(venue.open_orders()) >= 2, timeout=20, interval=0.05)
        assert shard_kill_switch(tmp_path / "data") == ""
        assert await engine.stop() == 0
    finally:
        await service.stop()
        if engine.process is not None and engine.process.returncode is None:
            engine.process.kill()
            await engine.process.wait()


async def _risk_pending(engine: Engine) -> bool:
    not_ready = (await readyz(engine)).get("not_ready", {})
    return list(not_ready) == ["risk_service"]
