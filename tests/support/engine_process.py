"""A tradestack engine as a child process (`tradestack paper --venue-rest ... --venue-ws ...`) trading a
simulated exchange that lives in the test process, with the venue's key in its data dir's store."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
import urllib.request
from pathlib import Path

from conftest import eventually
from tradestack.security.secrets import FileSecretStore, Secret
from tradestack.venues.simulated import SimulatedExchange


class Engine:
    """The engine as a child process, with the venue's key in its data dir's secret store."""

    def __init__(
        self, sim: SimulatedExchange, data_dir: Path, rest_url: str | None = None, ws_url: str | None = None
    ) -> None:
        self.sim = sim
        # the venue's own endpoints unless given (a fault proxy in front of them, in the soak)
        self.rest_url = rest_url or sim.rest_url
        self.ws_url = ws_url or sim.ws_url
        self.data_dir = data_dir
        self.config = data_dir.parent / "engine.yaml"
        self.config.write_text("http:\n  port: 0\n")
        key, secret = sim.create_api_key(ip_whitelist=("127.0.0.1",))
        self.api_key = key
        self.store = FileSecretStore(data_dir / "secrets.json")
        self.store.put("binance/api_key", Secret(key))
        self.store.put("binance/api_secret", Secret(secret))
        self.process: asyncio.subprocess.Process | None = None
        self.base_url = ""

    async def start(self, wait_ready: bool = True) -> float:
        """Start and wait until /readyz answers 200 (or only until it serves, when not wait_ready);
        returns the seconds that took."""
        env = {k: v for k, v in os.environ.items() if not re.search(r"KEY|SECRET|PASSPHRASE", k)}
        started = time.monotonic()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tradestack.cli", "paper", "--no-view",
            "--config", str(self.config), "--data-dir", str(self.data_dir),
            "--venue-rest", self.rest_url, "--venue-ws", self.ws_url,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        assert self.process.stderr is not None
        said: list[str] = []
        while True:
            line = (await asyncio.wait_for(self.process.stderr.readline(), 20)).decode()
            said.append(line)
            assert line, "engine exited before announcing its metrics address:\n" + "".join(said[-30:])
            match = re.search(r"metrics on (http://\S+)/metrics", line)
            if match:
                self.base_url = match.group(1)
                break
        asyncio.get_running_loop().create_task(self._drain_stderr())
        if wait_ready:
            await eventually(self.ready, timeout=15, interval=0.05)
        return time.monotonic() - started

    async def _drain_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while await self.process.stderr.readline():
            pass

    async def ready(self) -> bool:
        def probe() -> bool:
            try:
                return bool(urllib.request.urlopen(self.base_url + "/readyz", timeout=1).status == 200)
            except OSError:
                return False

        return await asyncio.to_thread(probe)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), 10)

    async def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return await asyncio.wait_for(self.process.wait(), 30)

    async def metrics(self) -> str:
        def fetch() -> str:
            with urllib.request.urlopen(self.base_url + "/metrics", timeout=2) as response:
                return str(response.read().decode())

        return await asyncio.to_thread(fetch)
