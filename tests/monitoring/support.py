"""Helpers for the monitoring tests: the real tools, free ports, child processes stopped by PID."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"
RULES = MONITORING / "prometheus" / "rules" / "tradestack.rules.yml"
RULE_TESTS = MONITORING / "prometheus" / "tests" / "tradestack.rules.test.yml"
PROMETHEUS_CONFIG = MONITORING / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG = MONITORING / "alertmanager" / "alertmanager.yml"
GRAFANA = MONITORING / "grafana"
RUNBOOK = REPO / "docs" / "runbook.md"
INSTALL_HINT = "install it with: bash scripts/test-deps-monitoring.sh"


def missing(what: str) -> None:
    """Skip with the reason; under CI=true a missing tool is a failure, never a silent skip."""
    message = f"{what} not found ({INSTALL_HINT})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        missing(tool)
    assert path is not None
    return path


def run(*args: str, stdin: str | None = None, cwd: Path | None = None, timeout: float = 60) -> str:
    """Run a tool; fail the test with its output when it exits non-zero."""
    result = subprocess.run(
        list(args), input=stdin, capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{output}"
    return output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body


def wait_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            http_get(url, timeout=1)
            return
        except OSError:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"{process.args!r} exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer within {timeout}s") from None
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL: by PID, only our own child."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def clean_env() -> dict[str, str]:
    """The environment without anything credential-like (tradestack refuses to start with those)."""
    return {k: v for k, v in os.environ.items() if not re.search(r"KEY|SECRET|PASSPHRASE", k)}


def python() -> str:
    return sys.executable


class Paper:
    """`tradestack paper` as a child process, as a user runs it; stderr drained to a file."""

    def __init__(self, tmp_path: Path, *args: str, config: str = "http:\n  port: 0\n") -> None:
        self.log_path = tmp_path / "paper.stderr"
        config_path = tmp_path / "paper.yaml"
        config_path.write_text(config)
        command = [python(), "-m", "tradestack.cli", "paper", "--no-view", "--config", str(config_path)]
        if "--data-dir" not in args:
            command += ["--data-dir", str(tmp_path / "data")]
        self.process = subprocess.Popen(
            [*command, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
        self.base_url = self._announced()

    def _announced(self) -> str:
        assert self.process.stderr is not None
        said: list[bytes] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            said.append(line)
            if not line:
                break
            match = re.search(rb"metrics on (http://\S+)/metrics", line)
            if match:
                threading.Thread(target=self._drain, args=(said,), daemon=True).start()
                return match.group(1).decode()
        self.stop()
        self.process.stderr.close()
        raise AssertionError("paper never announced its metrics address:\n" + b"".join(said).decode()[-3000:])

    def _drain(self, said: list[bytes]) -> None:
        assert self.process.stderr is not None
        with self.log_path.open("wb") as log:
            log.write(b"".join(said))
            for line in self.process.stderr:
                log.write(line)
                log.flush()
        self.process.stderr.close()

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(self.base_url + "/readyz", timeout=1).status == 200:
                    return
            except OSError:
                pass
            assert self.process.poll() is None, f"paper exited {self.process.returncode}"
            time.sleep(0.1)
        raise AssertionError(f"paper not ready within {timeout}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: cancels open orders, prints the summary
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
