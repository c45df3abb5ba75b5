"""Read recorded exchange sessions as one stream of records in arrival order.

Two formats:
- hftbacktest (`<local_receive_ns> <raw json>` per line, gzip or plain): WebSocket frames, with the
  REST depth snapshot written inline where it arrived. The snapshot names no symbol; the file's
  streams name exactly one, which is the snapshot's.
- cryptofeed sample_data: `<EXCH>.ws.<n>.0` files (`<unix seconds>: <raw frame>` received;
  `wss://... <-> ts` connect and `wss://... <- ts: ...` sent lines are skipped) merged by time
  with `<EXCH>.http.0.0` (`<url> -> <unix seconds>: <body>`, the URL's `symbol=` naming the symbol).
  Given any file of a session, all its ws files and its http file are read.

Bytes stay as recorded. Times become integer nanoseconds without float.
"""

from __future__ import annotations

import gzip
import heapq
import io
import re
from collections.abc import Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

_GZIP_MAGIC = b"\x1f\x8b"
_CRYPTOFEED_NAME = re.compile(r"(?P<exchange>[A-Z0-9_]+)\.(?:(?:ws|http)\.\d+\.\d+|0)")
_STREAM = re.compile(rb'"stream":"(?P<symbol>[^"@]+)@')
_NANOS_DIGITS = 9
_NANOS_PER_SECOND = 1_000_000_000


class RecordingError(ValueError):
    """A file that is not a recording this module can read."""


class RecordKind(Enum):
    FRAME = "frame"  # a WebSocket frame received
    SNAPSHOT = "snapshot"  # a REST order-book snapshot body; `symbol` says whose


class Record(NamedTuple):
    ts_recv: int  # nanoseconds since the epoch, when the recorder received it
    kind: RecordKind
    payload: bytes
    symbol: str | None = None  # set for SNAPSHOT records: the venue symbol, upper case


class RecordingFormat(Enum):
    HFTBACKTEST = "hftbacktest"
    CRYPTOFEED = "cryptofeed"


def detect_format(path: Path) -> RecordingFormat:
    if _CRYPTOFEED_NAME.fullmatch(path.name):
        return RecordingFormat.CRYPTOFEED
    with path.open("rb") as raw:
        head = raw.read(2)
    if head == _GZIP_MAGIC or head[:1].isdigit():
        return RecordingFormat.HFTBACKTEST
    raise RecordingError(f"{path}: neither an hftbacktest nor a cryptofeed recording")


def read_recording(path: Path) -> Iterator[Record]:
    """Records of the recording at `path`, in arrival order, whatever its format."""
    if detect_format(path) is RecordingFormat.CRYPTOFEED:
        return read_cryptofeed(path)
    return read_hftbacktest(path)


# -- hftbacktest ------------------------------------------------------------------------------------


def _open_lines(path: Path) -> io.BufferedIOBase:
    with path.open("rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else path.open("rb")


def hftbacktest_symbol(path: Path) -> str:
    """The one symbol the file's streams name (upper case)."""
    with _open_lines(path) as lines:
        for line in lines:
            match = _STREAM.search(line, 0, 128)
            if match is not None:
                return match["symbol"].decode().upper()
    raise RecordingError(f"{path}: no stream names a symbol, so its snapshots have no owner")


def read_hftbacktest(path: Path) -> Iterator[Record]:
    symbol = hftbacktest_symbol(path)
    with _open_lines(path) as lines:
        for number, line in enumerate(lines, 1):
            line = line.rstrip(b"\r\n")
            if not line:
                continue
            stamp, space, payload = line.partition(b" ")
            if not space or not stamp.isdigit():
                raise RecordingError(f"{path}:{number}: expected '<ns> <json>'")
            if payload.startswith(b'{"stream"'):
                named = _STREAM.match(payload, 1)
                if named is not None and named["symbol"].decode().upper() != symbol:
                    raise RecordingError(f"{path}:{number}: a second symbol; snapshots would be ambiguous")
                yield Record(int(stamp), RecordKind.FRAME, payload)
            elif b'"lastUpdateId"' in payload[:32]:
                yield Record(int(stamp), RecordKind.SNAPSHOT, payload, symbol)
            else:
                yield Record(int(stamp), RecordKind.FRAME, payload)


# -- cryptofeed sample_data -------------------------------------------------------------------------


def seconds_to_nanos(text: str) -> int:
    """ "1633998512.0633569" -> 1633998512063356900, exactly (digits past nanoseconds are dropped)."""
    whole, _, fraction = text.strip().partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError(f"not a unix time: {text!r}")
    fraction = fraction[:_NANOS_DIGITS].ljust(_NANOS_DIGITS, "0")
    return int(whole) * _NANOS_PER_SECOND + int(fraction)


def cryptofeed_session(path: Path) -> tuple[list[Path], Path | None]:
    """The ws files and the http file (if any) of the session `path` belongs to."""
    match = _CRYPTOFEED_NAME.fullmatch(path.name)
    if match is None:
        raise RecordingError(f"{path}: not a cryptofeed sample_data file name")
    exchange = match["exchange"]
    folder = path.parent
    websockets = sorted(
        candidate
        for candidate in folder.glob(f"{exchange}.ws.*")
        if _CRYPTOFEED_NAME.fullmatch(candidate.name) and candidate.name.split(".")[0] == exchange
    )
    http = folder / f"{exchange}.http.0.0"
    return websockets, http if http.is_file() else None


def read_cryptofeed(path: Path) -> Iterator[Record]:
    websockets, http = cryptofeed_session(path)
    if not websockets:
        raise RecordingError(f"{path}: no {path.name.split('.')[0]}.ws.* file beside it")
    sources: list[Iterable[Record]] = [_cryptofeed_frames(file) for file in websockets]
    if http is not None:
        sources.append(_cryptofeed_snapshots(http))
    # each source is in time order; ties keep source order (frames before the REST reply)
    return heapq.merge(*sources, key=lambda record: record.ts_recv)


def _cryptofeed_frames(path: Path) -> Iterator[Record]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            line = line.rstrip(b"\r\n")
            if not line or line.startswith(b"wss://") or line.startswith(b"ws://"):
                continue  # blank, connect (`<->`) or sent (`<-`)
            stamp, separator, frame = line.partition(b": ")
            if not separator:
                raise RecordingError(f"{path}:{number}: expected '<ts>: <frame>'")
            yield Record(seconds_to_nanos(stamp.decode()), RecordKind.FRAME, frame)


def _cryptofeed_snapshots(path: Path) -> Iterator[Record]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            line = line.rstrip(b"\r\n")
            if not line:
                continue
            head, separator, body = line.partition(b": ")
            url, arrow, stamp = head.decode().partition(" -> ")
            if not separator or not arrow:
                raise RecordingError(f"{path}:{number}: expected '<url> -> <ts>: <body>'")
            parts = urlsplit(url)
            symbols = parse_qs(parts.query).get("symbol")
            if not parts.path.endswith("/depth") or not symbols:
                continue  # some other REST call
            yield Record(seconds_to_nanos(stamp), RecordKind.SNAPSHOT, body, symbols[0].upper())
