"""The REST responses a cryptofeed sample_data session recorded before connecting (`<EXCH>.0`).

Lines are `<url> -> <unix seconds>: <body>` (symbol discovery: OKX instruments, Kraken AssetPairs...)
and one `configuration: {...}` line, which is skipped. Bytes stay as recorded.
"""

from __future__ import annotations

from pathlib import Path

from tradestack.venues.replay.recordings import RecordingError, cryptofeed_session


def header_path(path: Path) -> Path:
    """`<EXCH>.0` beside any file of the session `path` belongs to."""
    cryptofeed_session(path)  # validates the name
    return path.parent / f"{path.name.split('.')[0]}.0"


def header_bodies(path: Path) -> dict[str, bytes]:
    """{url: body} of the session's header file; {} when there is none."""
    header = header_path(path)
    if not header.is_file():
        return {}
    bodies: dict[str, bytes] = {}
    with header.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            line = line.rstrip(b"\r\n")
            if not line or line.startswith(b"configuration: "):
                continue
            head, separator, body = line.partition(b": ")
            url, arrow, _ = head.decode().partition(" -> ")
            if not separator or not arrow:
                raise RecordingError(f"{header}:{number}: expected '<url> -> <ts>: <body>'")
            bodies[url] = body
    return bodies
