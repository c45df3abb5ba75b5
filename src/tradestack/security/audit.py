"""The audit log: typed, append-only, hash-chained records with signed checkpoints.

What is recorded: every order, cancel, risk-limit change, kill-switch action, config load, secret
access (the name, never the value), rotation step and hot-wallet transfer decision. Records are
typed dataclasses handed to `AuditLog.record`, which only queues them: a writer thread assigns the
sequence number, chains the hash, writes and fsyncs, so the order path never waits on audit I/O.

One record is one line of canonical JSON (sorted keys, no spaces, ASCII):

    {"data":{...},"hash":"<sha256 hex>","kind":"order","prev":"<hash of seq-1>","seq":7,"ts_ns":...}

`hash` is SHA-256 over the canonical JSON of the record without `hash`, so it covers `prev`: change,
drop or move one record and every later link breaks. A hash chain alone can be rebuilt by anyone
who can write the file, so every `checkpoint_every` records (or `checkpoint_interval_s` seconds) the
writer appends a `checkpoint` record carrying an HMAC-SHA256, keyed from the secret store, over the
hash it closes. A *head* (the last durable seq and hash, HMAC-signed) is rewritten atomically after
every fsynced batch; it is what tells a truncation (records the head vouches for are gone: tampering)
from a torn tail (a partial last line past the head: a crash during an append).

Sinks: a JSON-lines file (`audit/audit.jsonl` + `audit/head.json`) and an SQLite database
(`audit/audit.db`, its own file rather than a table in the journal: the journal is archived and
replaced when the venue account changes, the audit trail must run on across that; a second writer on
the journal's database would contend for SQLite's single write lock with the journal writer; and a
separate file can be shipped and permissioned on its own).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from secrets import token_hex
from typing import Any, ClassVar, Final, Protocol

from tradestack.security.secrets import Secret

GENESIS: Final = "0" * 64
AUDIT_KEY_NAME: Final = "audit/hmac_key"
AUDIT_DIR: Final = "audit"
FILE_NAME: Final = "audit.jsonl"
HEAD_NAME: Final = "head.json"
DB_NAME: Final = "audit.db"
RECORD_FIELDS: Final = frozenset({"seq", "ts_ns", "kind", "data", "prev", "hash"})


class AuditError(RuntimeError):
    """The audit log cannot be written or opened safely."""


# --- typed records -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Base of every record type. Fields must be str, int, bool, None, or lists/dicts of those."""

    KIND: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class OrderSubmitted(AuditRecord):
    KIND: ClassVar[str] = "order"
    client_id: str
    symbol: str
    side: str
    price: str
    size: str
    venue: str = ""


@dataclass(frozen=True, slots=True)
class OrderCanceled(AuditRecord):
    KIND: ClassVar[str] = "cancel"
    client_id: str
    symbol: str
    reason: str = ""
    venue: str = ""


@dataclass(frozen=True, slots=True)
class RiskLimitChanged(AuditRecord):
    KIND: ClassVar[str] = "risk_limit"
    name: str
    old: str
    new: str
    actor: str


@dataclass(frozen=True, slots=True)
class KillSwitchAction(AuditRecord):
    KIND: ClassVar[str] = "kill_switch"
    action: str  # "engaged" | "reset" | "restored"
    reason: str
    actor: str


@dataclass(frozen=True, slots=True)
class ConfigLoaded(AuditRecord):
    KIND: ClassVar[str] = "config_load"
    source: str
    sha256: str


@dataclass(frozen=True, slots=True)
class SecretAccessed(AuditRecord):
    KIND: ClassVar[str] = "secret_access"
    name: str
    store: str
    purpose: str
    version: str = ""


@dataclass(frozen=True, slots=True)
class RotationStep(AuditRecord):
    KIND: ClassVar[str] = "rotation_step"
    secret_id: str
    step: str
    token: str
    outcome: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class WalletTransfer(AuditRecord):
    KIND: ClassVar[str] = "wallet_transfer"
    asset: str
    amount: str
    direction: str
    decision: str
    reason: str
    hot_share_after: str


@dataclass(frozen=True, slots=True)
class Recovery(AuditRecord):
    """Written at open when a torn tail (a crash mid-append) was cut off before appending."""

    KIND: ClassVar[str] = "recovery"
    source: str
    discarded_bytes: int
    discarded_sha256: str


def record_data(record: AuditRecord) -> dict[str, Any]:
    data = {field.name: getattr(record, field.name) for field in dataclasses.fields(record)}
    for name, value in data.items():
        _check_value(type(record).__name__, name, value)
    return data


def _check_value(record: str, name: str, value: object) -> None:
    if isinstance(value, Secret):
        raise TypeError(f"{record}.{name} is a Secret: audit records never hold secret values")
    if value is None or isinstance(value, str | int | bool):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_value(record, name, item)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{record}.{name}: keys must be str")
            _check_value(record, name, item)
        return
    raise TypeError(f"{record}.{name}: {type(value).__name__} is not an audit value")


# --- the chain (pure) ----------------------------------------------------------------------------


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def record_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


def key_id(key: Secret) -> str:
    """A short public name for a key (a hash; the key cannot be recovered from it)."""
    return hashlib.sha256(b"tradestack-audit-key-id\x00" + key.reveal().encode()).hexdigest()[:16]


def checkpoint_mac(key: Secret, through_seq: int, through_hash: str) -> str:
    message = f"checkpoint\x00{through_seq}\x00{through_hash}".encode()
    return hmac.new(key.reveal().encode(), message, hashlib.sha256).hexdigest()


def head_mac(key: Secret, seq: int, hash_: str) -> str:
    return hmac.new(key.reveal().encode(), f"head\x00{seq}\x00{hash_}".encode(), hashlib.sha256).hexdigest()


def make_line(seq: int, ts_ns: int, kind: str, data: dict[str, Any], prev: str) -> tuple[bytes, str]:
    """The canonical line of one record (without newline) and its hash."""
    body = {"seq": seq, "ts_ns": ts_ns, "kind": kind, "data": data, "prev": prev}
    digest = record_hash(body)
    return canonical({**body, "hash": digest}), digest


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: str
    key_id: str
    mac: str

    def to_json(self) -> bytes:
        return canonical({"seq": self.seq, "hash": self.hash, "key_id": self.key_id, "mac": self.mac})

    @staticmethod
    def parse(raw: bytes) -> Head:
        data = json.loads(raw)
        if not isinstance(data, dict) or set(data) != {"seq", "hash", "key_id", "mac"}:
            raise ValueError("head must hold exactly seq, hash, key_id, mac")
        seq, hash_, kid, mac = data["seq"], data["hash"], data["key_id"], data["mac"]
        if not (isinstance(seq, int) and all(isinstance(v, str) for v in (hash_, kid, mac))):
            raise ValueError("head fields have the wrong types")
        return Head(seq, hash_, kid, mac)


def sign_head(key: Secret, seq: int, hash_: str) -> Head:
    return Head(seq, hash_, key_id(key), head_mac(key, seq, hash_))


# --- sinks ---------------------------------------------------------------------------------------


class AuditSink(Protocol):
    name: str

    def last(self) -> tuple[int, str] | None:
        """(seq, hash) of the last complete record, or None when empty."""
        ...

    def lines_after(self, seq: int) -> list[bytes]: ...

    def append(self, lines: Sequence[bytes], head: Head) -> None:
        """Write `lines` durably, then the head that vouches for them."""
        ...

    def close(self) -> None: ...


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse_last(line: bytes) -> tuple[int, str]:
    data = json.loads(line)
    return int(data["seq"]), str(data["hash"])


class FileAuditSink:
    """`audit.jsonl` opened O_APPEND, fsynced per batch, plus `head.json` replaced atomically.

    At open a torn tail (bytes after the last newline: an append a crash interrupted) is cut off;
    `torn_tail` keeps what was cut so the log can record that it happened.
    """

    name = "file"

    def __init__(self, directory: Path) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory = directory
        self.path = directory / FILE_NAME
        self.head_path = directory / HEAD_NAME
        self.torn_tail = b""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._fd = fd
        size = os.fstat(fd).st_size
        complete = self._complete_length(size)
        if complete < size:
            self.torn_tail = os.pread(fd, size - complete, complete)
            os.ftruncate(fd, complete)
            os.fsync(fd)
        self._last = self._read_last(complete)

    def _complete_length(self, size: int) -> int:
        """Bytes up to and including the last newline."""
        position = size
        chunk = 65536
        while position > 0:
            start = max(0, position - chunk)
            data = os.pread(self._fd, position - start, start)
            index = data.rfind(b"\n")
            if index >= 0:
                return start + index + 1
            position = start
        return 0

    def _read_last(self, complete: int) -> tuple[int, str] | None:
        if complete == 0:
            return None
        end = complete - 1  # the final newline
        start = self._complete_length(end)
        line = os.pread(self._fd, end - start, start)
        try:
            return _parse_last(line)
        except (ValueError, KeyError, TypeError) as error:
            raise AuditError(
                f"{self.path}: the last record does not parse ({error}); run `tradestack audit verify`"
            ) from None

    def last(self) -> tuple[int, str] | None:
        return self._last

    def lines_after(self, seq: int) -> list[bytes]:
        found: list[bytes] = []
        with self.path.open("rb") as file:
            for raw in file:
                line = raw.rstrip(b"\n")
                if _parse_last(line)[0] > seq:
                    found.append(line)
        return found

    def append(self, lines: Sequence[bytes], head: Head) -> None:
        if lines:
            payload = memoryview(b"".join(line + b"\n" for line in lines))
            while payload:
                payload = payload[os.write(self._fd, payload) :]
            os.fsync(self._fd)
            self._last = _parse_last(lines[-1])
        temporary = self.directory / f".{HEAD_NAME}.{token_hex(6)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, head.to_json() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.head_path)
        _fsync_directory(self.directory)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


_DB_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_records (seq INTEGER PRIMARY KEY, line TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), head TEXT NOT NULL);
"""


class SqliteAuditSink:
    """`audit.db`: one row per record (the canonical line), WAL + synchronous=FULL, one transaction
    per batch, so a crash leaves whole batches only."""

    name = "database"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA cache_size=-128")  # appends only: a small cache caps memory
        self._db.executescript(_DB_SCHEMA)
        os.chmod(path, 0o600)

    def last(self) -> tuple[int, str] | None:
        row = self._db.execute("SELECT line FROM audit_records ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else _parse_last(str(row[0]).encode())

    def lines_after(self, seq: int) -> list[bytes]:
        rows = self._db.execute("SELECT line FROM audit_records WHERE seq > ? ORDER BY seq", (seq,))
        return [str(row[0]).encode() for row in rows]

    def append(self, lines: Sequence[bytes], head: Head) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT INTO audit_records (seq, line) VALUES (?, ?)",
                [(_parse_last(line)[0], line.decode()) for line in lines],
            )
            self._db.execute("INSERT OR REPLACE INTO audit_head VALUES (1, ?)", (head.to_json().decode(),))
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()


def default_sinks(data_dir: Path, file: bool = True, database: bool = True) -> list[AuditSink]:
    directory = data_dir / AUDIT_DIR
    sinks: list[AuditSink] = []
    if file:
        sinks.append(FileAuditSink(directory))
    if database:
        sinks.append(SqliteAuditSink(directory / DB_NAME))
    return sinks


# --- the log -------------------------------------------------------------------------------------

_Item = tuple[int, AuditRecord] | tuple[str, Any] | None


class AuditLog:
    """Queue in front, one writer thread behind.

    `record()` costs a tuple and a queue put on the caller's thread. The writer batches what is
    queued, extends the chain, writes every sink (file first, then database), then the signed heads;
    every `checkpoint_every` records or `checkpoint_interval_s` seconds it appends a signed
    checkpoint. If the writer fails, `failed` is set, `on_failure` is called once (the runtime
    should stop trading: an unaudited order is a compliance breach), and further records raise.
    """

    def __init__(
        self,
        sinks: Sequence[AuditSink],
        key: Secret,
        *,
        wall_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
        checkpoint_every: int = 1000,
        checkpoint_interval_s: float = 60.0,
        batch_max: int = 512,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        if not sinks:
            raise ValueError("an audit log needs at least one sink")
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")
        self._sinks = list(sinks)
        self._key = key
        self._key_id = key_id(key)
        self._wall_ns = wall_ns
        self._monotonic = monotonic
        self._checkpoint_every = checkpoint_every
        self._checkpoint_interval_s = checkpoint_interval_s
        self._batch_max = batch_max
        self._on_failure = on_failure
        self.failed: BaseException | None = None
        self._seq, self._hash = self._align_sinks()
        # A head from the start, so a crash before the first batch's head is not read as a deleted
        # head; after a crash it also vouches for records fsynced just before the head was replaced.
        for sink in self._sinks:
            sink.append([], sign_head(key, self._seq, self._hash))
        self._since_checkpoint = 0
        self._last_checkpoint = monotonic()
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._closed = False
        for sink in self._sinks:  # a torn tail was cut at open: say so in the trail itself
            torn = getattr(sink, "torn_tail", b"")
            if torn:
                self.record(Recovery(sink.name, len(torn), hashlib.sha256(torn).hexdigest()))
        self._thread = threading.Thread(target=self._write_loop, name="audit-writer", daemon=True)
        self._thread.start()

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def queue_depth(self) -> int:
        """Records waiting for the writer thread (approximate, for the queue-depth gauge)."""
        return self._queue.qsize()

    def _align_sinks(self) -> tuple[int, str]:
        """Continue the longest chain; copy what a lagging sink missed (a crash between sinks)."""
        lasts = [(sink, sink.last()) for sink in self._sinks]
        leader, top = max(lasts, key=lambda item: -1 if item[1] is None else item[1][0])
        if top is None:
            return 0, GENESIS
        for sink, last in lasts:
            if sink is leader or last == top:
                continue
            missing = leader.lines_after(last[0] if last else 0)
            if last is not None and (not missing or json.loads(missing[0])["prev"] != last[1]):
                raise AuditError(
                    f"audit sinks {leader.name} and {sink.name} disagree at seq {last[0]}: "
                    "run `tradestack audit verify` before trading"
                )
            sink.append(missing, sign_head(self._key, *top))
        return top

    # -- the caller's side --------------------------------------------------------------------------
    def record(self, record: AuditRecord) -> None:
        if self.failed is not None:
            raise AuditError("the audit writer has failed; nothing more can be recorded") from self.failed
        if self._closed:
            raise AuditError("the audit log is closed")
        self._queue.put((self._wall_ns(), record))

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until everything recorded so far is durable in every sink."""
        done = threading.Event()
        self._queue.put(("flush", done))
        if not done.wait(timeout):
            raise AuditError(f"audit flush did not finish within {timeout}s")
        if self.failed is not None:
            raise AuditError("the audit writer has failed") from self.failed

    def checkpoint(self, timeout: float = 30.0) -> None:
        """Append a signed checkpoint now and wait for it."""
        done = threading.Event()
        self._queue.put(("checkpoint", done))
        if not done.wait(timeout):
            raise AuditError(f"audit checkpoint did not finish within {timeout}s")

    def close(self, checkpoint: bool = True) -> None:
        if self._closed:
            return
        if checkpoint and self.failed is None and self._thread.is_alive():
            self.checkpoint()
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=30)
        for sink in self._sinks:
            sink.close()

    # -- the writer ---------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=max(0.05, min(1.0, self._checkpoint_interval_s)))
            except queue.Empty:
                item = ("tick", None)
            batch: list[_Item] = [item]
            while len(batch) < self._batch_max and item is not None:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(item)
            stop = any(entry is None for entry in batch)
            try:
                self._write_batch(batch)
            except BaseException as error:
                self.failed = error
                for entry in batch:
                    if entry is not None and isinstance(entry[1], threading.Event):
                        entry[1].set()
                if self._on_failure is not None:
                    self._on_failure(error)
                self._drain_waiters()
                return
            if stop:
                return

    def _drain_waiters(self) -> None:
        while True:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                return
            if entry is not None and isinstance(entry[1], threading.Event):
                entry[1].set()

    def _write_batch(self, batch: Iterable[_Item]) -> None:
        lines: list[bytes] = []
        waiters: list[threading.Event] = []
        for entry in batch:
            if entry is None:
                continue
            first, second = entry
            if isinstance(first, int):
                assert isinstance(second, AuditRecord)
                lines.append(self._extend(first, second.KIND, record_data(second)))
                self._since_checkpoint += 1
                if self._since_checkpoint >= self._checkpoint_every:
                    lines.append(self._checkpoint_line())
            elif first == "checkpoint" and isinstance(second, threading.Event):
                lines.append(self._checkpoint_line())
                waiters.append(second)
            elif first == "flush" and isinstance(second, threading.Event):
                waiters.append(second)
        if (
            self._since_checkpoint
            and self._monotonic() - self._last_checkpoint >= self._checkpoint_interval_s
        ):
            lines.append(self._checkpoint_line())
        if lines:
            head = sign_head(self._key, self._seq, self._hash)
            for sink in self._sinks:
                sink.append(lines, head)
        for waiter in waiters:
            waiter.set()

    def _extend(self, ts_ns: int, kind: str, data: dict[str, Any]) -> bytes:
        self._seq += 1
        line, self._hash = make_line(self._seq, ts_ns, kind, data, self._hash)
        return line

    def _checkpoint_line(self) -> bytes:
        data = {
            "through_seq": self._seq,
            "through_hash": self._hash,
            "key_id": self._key_id,
            "mac": checkpoint_mac(self._key, self._seq, self._hash),
        }
        self._since_checkpoint = 0
        self._last_checkpoint = self._monotonic()
        return self._extend(self._wall_ns(), "checkpoint", data)


def iter_file_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        yield from file
