"""Shared test helpers: the recordings corpus and bounded waiting."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def corpus_root() -> Path:
    return Path(os.environ.get("TRADESTACK_CORPUS", str(REPO.parent / "shared" / "corpora")))


@pytest.fixture
def corpus() -> Path:
    """The shared recordings. Skipped with a reason when absent, but a failure under CI=true."""
    root = corpus_root()
    if not root.is_dir():
        message = f"exchange recordings not found at {root} (set TRADESTACK_CORPUS)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return root


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0, interval: float = 0.01
) -> None:
    """Wait until condition() is true, failing after `timeout` seconds. Never a bare sleep."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
