"""moto's Secrets Manager as a real server on 127.0.0.1, reached by real boto3 over HTTP."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tradestack.security.aws_secrets import SecretsManagerClient, client
from tradestack.security.secrets import Secret

REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _moto_command() -> list[str]:
    beside = Path(sys.executable).parent / "moto_server"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("moto_server")
    if found is None:
        pytest.skip("moto_server not installed (pip install 'moto[server]'); scripts/test-deps-security.sh")
    return [found]


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(
        [*_moto_command(), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture
def secrets_client(moto_url: str) -> SecretsManagerClient:
    return client(REGION, endpoint_url=moto_url, access_key_id="testing", secret_access_key=Secret("testing"))


@pytest.fixture
def secret_name() -> str:
    return f"tradestack/test-{uuid.uuid4().hex[:12]}"
