"""structlog configured for JSON lines, to a file under the data dir and/or stderr.

The secret-redacting processor lives in `tradestack.security.redaction`; import-linter keeps
observability and security independent, so bootstrap passes it in (`redactor=redact_secrets`).
It is a required argument so no configuration can forget it.
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from tradestack.ports import Clock, SystemClock

LOG_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
LOG_FILE_NAME = "tradestack.jsonl"


def log_file_path(data_dir: Path) -> Path:
    return data_dir / "logs" / LOG_FILE_NAME


class _LineWriter:
    """The structlog logger: writes each rendered line to every output, whole lines under a lock."""

    def __init__(self, file: TextIO | None, to_stderr: bool) -> None:
        self._file = file
        self._to_stderr = to_stderr
        self._lock = threading.Lock()

    def msg(self, message: str) -> None:
        line = message + "\n"
        with self._lock:
            if self._file is not None:
                self._file.write(line)
                self._file.flush()
            if self._to_stderr:
                # Looked up per line so a replaced sys.stderr (tests, daemons) is honoured.
                sys.stderr.write(line)

    log = debug = info = warn = warning = error = err = critical = exception = fatal = msg


class _WallClockStamper:
    """Adds an ISO-8601 UTC `timestamp` from the injected clock (microsecond precision)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        seconds, nanoseconds = divmod(self._clock.now_ns(), 1_000_000_000)
        stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
        event_dict["timestamp"] = f"{stamp}.{nanoseconds // 1000:06d}Z"
        return event_dict


class LoggingHandle:
    """What `configure_logging` opened; `close()` flushes the file and restores structlog defaults."""

    def __init__(self, file: TextIO | None, path: Path | None) -> None:
        self._file = file
        self.path = path

    def close(self) -> None:
        structlog.reset_defaults()
        if self._file is not None:
            self._file.close()
            self._file = None


def build_processors(redactor: Processor, clock: Clock) -> list[Processor]:
    # Exceptions are formatted to text (no locals: they may hold secrets) before redaction runs,
    # so the traceback text is scrubbed too. The redactor sits right before the renderer.
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _WallClockStamper(clock),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redactor,
        structlog.processors.JSONRenderer(),
    ]


def configure_logging(
    *,
    redactor: Processor,
    log_file: Path | None = None,
    to_stderr: bool = True,
    level: str = "info",
    clock: Clock | None = None,
) -> LoggingHandle:
    """Configure structlog process-wide. Use `log_file_path(settings.data_dir)` for the file."""
    if level not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r}; valid: {', '.join(LOG_LEVELS)}")
    file: TextIO | None = None
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file = log_file.open("a", encoding="utf-8")
    writer = _LineWriter(file, to_stderr)
    structlog.configure(
        processors=build_processors(redactor, clock or SystemClock()),
        wrapper_class=structlog.make_filtering_bound_logger(LOG_LEVELS[level]),
        logger_factory=lambda *args: writer,
        cache_logger_on_first_use=False,
    )
    return LoggingHandle(file, log_file)


class _Warner(Protocol):
    def warning(self, event: str, **context: Any) -> Any: ...


OVERFLOW_KEY = "(too many distinct keys)"


class LogOnce:
    """Log the first occurrence of each key with its context; only count the repeats.

    For things that can repeat thousands of times a second (malformed venue messages): the first
    one, with the offending context, is what a human needs; the rest are a count (and a metric).
    Keys are capped so input-derived keys cannot grow memory without bound.
    """

    def __init__(self, logger: _Warner | None = None, max_keys: int = 1024) -> None:
        self._logger: _Warner = logger if logger is not None else structlog.get_logger("tradestack")
        self._max_keys = max_keys
        self._counts: dict[str, int] = {}

    def __call__(self, key: str, event: str, **context: Any) -> bool:
        """Returns True when this call logged, False when it only counted."""
        count = self._counts.get(key)
        if count is not None:
            self._counts[key] = count + 1
            return False
        if len(self._counts) >= self._max_keys:
            overflow = self._counts.get(OVERFLOW_KEY, 0)
            self._counts[OVERFLOW_KEY] = overflow + 1
            if not overflow:
                self._logger.warning(
                    "too many distinct keys; counting the rest without logging",
                    once_key=OVERFLOW_KEY,
                    max_keys=self._max_keys,
                )
            return False
        self._counts[key] = 1
        self._logger.warning(event, once_key=key, **context)
        return True

    def count(self, key: str) -> int:
        return self._counts.get(key, 0)

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def log_summary(self, event: str = "repeated log events") -> None:
        """Log the repeat counts in one line (e.g. at shutdown); keys seen once are left out."""
        repeated = {key: count for key, count in self._counts.items() if count > 1}
        if repeated:
            self._logger.warning(event, counts=repeated)
