"""The C speedups against the Python path they stand in for: the same frames through a fresh parser in
each configuration."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from tradestack import _native


class Parser(Protocol):
    def parse(self, frame: bytes, ts_recv: int) -> Sequence[object]: ...


@contextmanager
def python_only() -> Iterator[None]:
    """The Python path for everything inside; the C speedups again after."""
    _native.use_native(False)
    try:
        yield
    finally:
        _native.use_native(True)


def native_and_python(
    make_parser: Callable[[], Parser], frames: list[bytes], ts_recv: int
) -> tuple[list[object], list[object]]:
    """Each frame's events from a parser made with the speedups on, then from one made without."""
    native_parser = make_parser()
    native: list[object] = [native_parser.parse(frame, ts_recv) for frame in frames]
    with python_only():
        python_parser = make_parser()
        python: list[object] = [python_parser.parse(frame, ts_recv) for frame in frames]
    return native, python
