"""The audit trail: chained, signed, append-only; every tampering found, a crash told apart from it."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from security.audit_helpers import KEY, write_trail
from tradestack.security.audit import (
    AUDIT_KEY_NAME,
    AuditError,
    AuditLog,
    ConfigLoaded,
    FileAuditSink,
    Head,
    KillSwitchAction,
    OrderCanceled,
    SecretAccessed,
    SqliteAuditSink,
    default_sinks,
    make_line,
)
from tradestack.security.audit_verify import Verdict, verify_data_dir, verify_file
from tradestack.security.cli import security_app
from tradestack.security.secrets import FileSecretStore, Secret

pytestmark = pytest.mark.timeout(60)


def audit_dir(data_dir: Path) -> Path:
    return data_dir / "audit"


def test_a_trail_verifies_with_checkpoints_and_a_signed_head(tmp_path: Path) -> None:
    write_trail(tmp_path, 25, checkpoint_every=10)

    report = verify_data_dir(tmp_path, [KEY])

    assert report.verdict is Verdict.INTACT, report.render()
    file_report, db_report = report.reports
    # 25 records + a checkpoint after 10 and 20 + the closing one
    assert file_report.records == db_report.records == 28
    assert file_report.checkpoints_verified == 3
    assert file_report.unsigned_tail == 0
    assert file_report.head_seq == 28
    lines = (audit_dir(tmp_path) / "audit.jsonl").read_bytes().splitlines()
    first = json.loads(lines[0])
    assert first["kind"] == "order" and first["data"]["client_id"] == "ts1-1-0"
    assert first["prev"] == "0" * 64


def test_every_record_type_is_written_and_a_restart_continues_the_chain(tmp_path: Path) -> None:
    log = AuditLog(default_sinks(tmp_path), KEY)
    log.record(ConfigLoaded("config.yaml", "ab" * 32))
    log.record(SecretAccessed("binance/api_key", "file", "trading"))
    log.close()
    log = AuditLog(default_sinks(tmp_path), KEY)
    assert log.last_seq == 3
    log.record(OrderCanceled("ts1-1-1", "BTCUSDT", "requote"))
    log.record(KillSwitchAction("engaged", "daily loss", "risk"))
    log.close()

    report = verify_data_dir(tmp_path, [KEY])

    assert report.verdict is Verdict.INTACT, report.render()
    kinds = [
        json.loads(line)["kind"] for line in (audit_dir(tmp_path) / "audit.jsonl").read_bytes().splitlines()
    ]
    assert kinds == [
        "config_load",
        "secret_access",
        "checkpoint",
        "cancel",
        "kill_switch",
        "checkpoint",
    ]


def test_a_secret_cannot_be_put_in_an_audit_record(tmp_path: Path) -> None:
    from tradestack.security.audit import record_data

    with pytest.raises(TypeError, match="never hold secret"):
        record_data(SecretAccessed("x", "file", Secret("canary-value")))  # type: ignore[arg-type]


# --- tampering -------------------------------------------------------------------------------------


def _mutations(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    lines = data.split(b"\n")[:-1]
    operation = rng.choice(["mutate", "delete", "reorder", "truncate", "duplicate", "insert"])
    if operation == "mutate":
        position = rng.randrange(len(data))
        replacement = rng.choice([b for b in range(256) if b != data[position]])
        return operation, data[:position] + bytes([replacement]) + data[position + 1 :]
    if operation == "delete":
        index = rng.randrange(len(lines))
        del lines[index]
    elif operation == "reorder":
        first, second = rng.sample(range(len(lines)), 2)
        lines[first], lines[second] = lines[second], lines[first]
    elif operation == "truncate":
        return operation, data[: rng.randrange(len(data))]
    elif operation == "duplicate":
        index = rng.randrange(len(lines))
        lines.insert(rng.randrange(len(lines) + 1), lines[index])
    else:  # a forged record inserted with a well-formed link to the record before it
        # (appending one past the head is flagged, not failed: see the crash-window test below)
        index = rng.randrange(len(lines))
        prev = json.loads(lines[index - 1])["hash"] if index else "0" * 64
        forged, _ = make_line(index + 1, 1, "order", {"client_id": "forged"}, prev)
        lines.insert(index, forged)
    return operation, b"".join(line + b"\n" for line in lines)


def test_a_thousand_random_tamperings_are_all_detected(tmp_path: Path) -> None:
    source = tmp_path / "source"
    write_trail(source, 60, checkpoint_every=10, database=False)
    original = (audit_dir(source) / "audit.jsonl").read_bytes()
    trial_dir = tmp_path / "trial"
    shutil.copytree(source, trial_dir)
    log_path = audit_dir(trial_dir) / "audit.jsonl"
    rng = random.Random(20240606)
    detected: dict[str, list[int]] = {}
    missed: list[str] = []
    for _ in range(1000):
        operation, tampered = _mutations(original, rng)
        assert tampered != original
        log_path.write_bytes(tampered)
        report = verify_file(audit_dir(trial_dir), [KEY])
        counts = detected.setdefault(operation, [0, 0])
        counts[1] += 1
        if report.verdict is Verdict.TAMPERED and report.broken is not None:
            counts[0] += 1
        else:
            missed.append(f"{operation}: {report.render()}")
    assert not missed, missed[:3]
    assert sum(total for _, total in detected.values()) == 1000
    assert all(found == total for found, total in detected.values())
    assert set(detected) == {"mutate", "delete", "reorder", "truncate", "duplicate", "insert"}


def test_a_rewritten_chain_without_the_key_fails_at_the_first_checkpoint(tmp_path: Path) -> None:
    write_trail(tmp_path, 30, checkpoint_every=10, database=False)
    path = audit_dir(tmp_path) / "audit.jsonl"
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    records[4]["data"]["size"] = "100"  # the attacker's edit, then every hash recomputed
    prev = "0" * 64
    rebuilt = []
    for record in records:
        if record["kind"] == "checkpoint":
            record["data"]["through_hash"] = prev
        line, prev = make_line(record["seq"], record["ts_ns"], record["kind"], record["data"], prev)
        rebuilt.append(line)
    path.write_bytes(b"".join(line + b"\n" for line in rebuilt))
    head = Head(len(rebuilt), prev, "forged", "00")
    (audit_dir(tmp_path) / "head.json").write_bytes(head.to_json())

    report = verify_file(audit_dir(tmp_path), [KEY])

    assert report.verdict is Verdict.TAMPERED
    assert report.broken is not None and report.broken.line == 11
    assert "checkpoint signature" in report.broken.reason
    # without a key only the chain can be checked, and the report says so
    unauthenticated = verify_file(audit_dir(tmp_path), [])
    assert not unauthenticated.authenticated
    assert any("NOT checked" in warning for warning in unauthenticated.warnings)


def test_tampering_with_the_head_or_the_database_is_detected(tmp_path: Path) -> None:
    write_trail(tmp_path, 20)
    head_path = audit_dir(tmp_path) / "head.json"
    head = Head.parse(head_path.read_bytes())
    head_path.write_bytes(Head(head.seq - 1, head.hash, head.key_id, head.mac).to_json())
    assert verify_data_dir(tmp_path, [KEY]).verdict is Verdict.TAMPERED
    head_path.write_bytes(head.to_json())
    assert verify_data_dir(tmp_path, [KEY]).verdict is Verdict.INTACT
    head_path.unlink()
    assert verify_data_dir(tmp_path, [KEY]).verdict is Verdict.TAMPERED
    head_path.write_bytes(head.to_json())

    db = sqlite3.connect(audit_dir(tmp_path) / "audit.db")
    with db:
        db.execute("DELETE FROM audit_records WHERE seq = 5")
    db.close()
    report = verify_data_dir(tmp_path, [KEY])
    assert report.verdict is Verdict.TAMPERED
    assert report.reports[1].broken is not None and report.reports[1].broken.line == 5


# --- crashes ----------------------------------------------------------------------------------------


def _append_partial_record(data_dir: Path) -> int:
    path = audit_dir(data_dir) / "audit.jsonl"
    last = json.loads(path.read_bytes().splitlines()[-1])
    line, _ = make_line(last["seq"] + 1, 1, "order", {"client_id": "in-flight"}, last["hash"])
    partial = line[: len(line) // 2]
    with path.open("ab") as file:
        file.write(partial)
    return len(partial)


def test_a_torn_tail_is_reported_apart_from_tampering_and_repaired_at_restart(tmp_path: Path) -> None:
    write_trail(tmp_path, 12, database=False)
    torn = _append_partial_record(tmp_path)

    report = verify_data_dir(tmp_path, [KEY])
    assert report.verdict is Verdict.TORN_TAIL, report.render()
    assert report.exit_code == 3
    assert report.reports[0].torn_tail_bytes == torn
    assert report.reports[0].records == 14

    log = AuditLog(default_sinks(tmp_path, database=False), KEY)
    log.record(OrderCanceled("ts1-1-2", "BTCUSDT"))
    log.close()
    after = verify_data_dir(tmp_path, [KEY])
    assert after.verdict is Verdict.INTACT, after.render()
    kinds = [
        json.loads(line)["kind"] for line in (audit_dir(tmp_path) / "audit.jsonl").read_bytes().splitlines()
    ]
    assert kinds[14] == "recovery"


def test_records_past_the_head_after_a_crash_are_valid_but_flagged(tmp_path: Path) -> None:
    write_trail(tmp_path, 5, database=False)
    path = audit_dir(tmp_path) / "audit.jsonl"
    last = json.loads(path.read_bytes().splitlines()[-1])
    line, _ = make_line(last["seq"] + 1, 1, "order", {"client_id": "late"}, last["hash"])
    with path.open("ab") as file:
        file.write(line + b"\n")  # fsynced, then the crash came before the head was replaced

    report = verify_data_dir(tmp_path, [KEY])

    assert report.verdict is Verdict.INTACT
    assert any("after the head" in warning for warning in report.reports[0].warnings)


_WRITER = """
import sys
from pathlib import Path
from tradestack.security.audit import AuditLog, OrderSubmitted, default_sinks
from tradestack.security.secrets import Secret
log = AuditLog(default_sinks(Path(sys.argv[1])), Secret(sys.argv[2]), checkpoint_every=50, batch_max=4096)
print("ready", flush=True)
number = 0
while True:
    number += 1
    log.record(OrderSubmitted(f"ts1-1-{number}", "BTCUSDT", "BUY", "50000.00", "0.001", "x" * 2000))
    if number % 2000 == 0:
        log.flush()
"""


def test_kill_9_during_appends_leaves_a_valid_prefix_never_tampering(tmp_path: Path) -> None:
    verdicts: list[Verdict] = []
    for attempt in range(4):
        data_dir = tmp_path / f"run{attempt}"
        process = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(data_dir), KEY.reveal()],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            path = audit_dir(data_dir) / "audit.jsonl"
            deadline = time.monotonic() + 20
            threshold = 200_000 * (attempt + 1)
            while (not path.exists() or path.stat().st_size < threshold) and time.monotonic() < deadline:
                time.sleep(0.005)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
        report = verify_data_dir(data_dir, [KEY])
        assert report.verdict in (Verdict.INTACT, Verdict.TORN_TAIL), report.render()
        assert report.reports[0].records > 0
        verdicts.append(report.verdict)
        # the next start continues from the valid prefix; afterwards the whole trail is intact
        log = AuditLog(default_sinks(data_dir), KEY)
        log.record(OrderCanceled("after-crash", "BTCUSDT"))
        log.close()
        after = verify_data_dir(data_dir, [KEY])
        assert after.verdict is Verdict.INTACT, after.render()


def test_a_sink_that_fell_behind_in_a_crash_is_filled_in_at_open(tmp_path: Path) -> None:
    write_trail(tmp_path, 5)
    # the file got a batch the database did not (a crash between the two writes)
    log = AuditLog(default_sinks(tmp_path, database=False), KEY)
    log.record(OrderCanceled("only-in-file", "BTCUSDT"))
    log.close()
    assert verify_data_dir(tmp_path, [KEY]).verdict is Verdict.INTACT

    log = AuditLog(default_sinks(tmp_path), KEY)
    log.close()

    report = verify_data_dir(tmp_path, [KEY])
    assert report.verdict is Verdict.INTACT, report.render()
    assert report.reports[0].records == report.reports[1].records


# --- the hot path and failures --------------------------------------------------------------------


class _SlowSink:
    name = "slow"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lines: list[bytes] = []

    def last(self) -> tuple[int, str] | None:
        return None

    def lines_after(self, seq: int) -> list[bytes]:
        return []

    def append(self, lines: Sequence[bytes], head: Head) -> None:
        if lines:
            self.release.wait(10)
        self.lines.extend(lines)

    def close(self) -> None:
        pass


def test_recording_never_waits_on_audit_io() -> None:
    sink = _SlowSink()
    log = AuditLog([sink], KEY, checkpoint_every=10_000)
    started = time.perf_counter()
    for number in range(2000):
        log.record(OrderCanceled(f"c{number}", "BTCUSDT"))
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5  # the writer is blocked in the sink the whole time
    assert not sink.lines
    sink.release.set()
    log.flush()
    assert len(sink.lines) == 2000
    log.close()


class _BrokenSink(_SlowSink):
    def append(self, lines: Sequence[bytes], head: Head) -> None:
        if lines:
            raise OSError(28, "No space left on device")


def test_a_failed_writer_is_reported_and_refuses_more_records() -> None:
    failures: list[BaseException] = []
    log = AuditLog([_BrokenSink()], KEY, on_failure=failures.append)
    log.record(OrderCanceled("c1", "BTCUSDT"))
    with pytest.raises(AuditError):
        log.flush()
    assert failures and isinstance(failures[0], OSError)
    with pytest.raises(AuditError, match="failed"):
        log.record(OrderCanceled("c2", "BTCUSDT"))
    log.close()


def test_time_based_checkpoints() -> None:
    now = [0.0]
    sink = _SlowSink()
    sink.release.set()
    log = AuditLog([sink], KEY, checkpoint_every=10_000, checkpoint_interval_s=0.05, monotonic=lambda: now[0])
    log.record(OrderCanceled("c1", "BTCUSDT"))
    log.flush()
    now[0] = 1.0
    deadline = time.monotonic() + 5
    while not any(b'"checkpoint"' in line for line in sink.lines) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert any(b'"checkpoint"' in line for line in sink.lines)
    log.close(checkpoint=False)


# --- the command -------------------------------------------------------------------------------------


def test_the_verify_command_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    FileSecretStore(tmp_path / "secrets.json").put(AUDIT_KEY_NAME, KEY)
    empty = runner.invoke(security_app, ["verify", "--data-dir", str(tmp_path)])
    assert empty.exit_code == 2, empty.output
    assert "no audit records found" in empty.output
    write_trail(tmp_path, 15)

    intact = runner.invoke(security_app, ["verify", "--data-dir", str(tmp_path)])
    assert intact.exit_code == 0, intact.output
    assert "verdict: intact" in intact.output

    path = audit_dir(tmp_path) / "audit.jsonl"
    lines = path.read_bytes().splitlines()
    lines[6] = lines[6].replace(b"BTCUSDT", b"ETHUSDT")
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    tampered = runner.invoke(security_app, ["verify", "--data-dir", str(tmp_path)])
    assert tampered.exit_code == 1
    assert "FIRST BROKEN LINK at line 7 (seq 7)" in tampered.output
    assert KEY.reveal() not in tampered.output


def test_file_sink_modes_are_private(tmp_path: Path) -> None:
    FileAuditSink(tmp_path / "a").close()
    SqliteAuditSink(tmp_path / "a" / "audit.db").close()
    assert (os.stat(tmp_path / "a" / "audit.jsonl").st_mode & 0o077) == 0
    assert (os.stat(tmp_path / "a" / "audit.db").st_mode & 0o077) == 0
    assert (os.stat(tmp_path / "a").st_mode & 0o077) == 0
