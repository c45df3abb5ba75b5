"""Check an audit trail: every link of the chain, every checkpoint signature, the signed head.

The result tells three things apart:
* intact: every record links to the one before, the head vouches for the last one;
* a torn tail: the file ends in a partial line *after* everything the head vouches for: an append a
  crash (kill -9, power loss) interrupted. The prefix is valid; the writer cuts the tail off and
  records a `recovery` record at its next start;
* tampering: any record altered, removed, duplicated, moved, or cut short that the head or a later
  record vouches for, a bad checkpoint or head signature, or sinks that disagree.
The first broken link is reported (line number, seq, reason); nothing after it is trusted.

Limits (see docs/security.md): records appended after the last durable head can be cut off without
trace by someone who can write the file; a rollback of both the log and the head to an older,
genuinely signed state is only caught by comparing with a copy kept elsewhere (the database sink, or
checkpoints shipped off the host).
"""

from __future__ import annotations

import enum
import hmac
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradestack.security.audit import (
    AUDIT_DIR,
    DB_NAME,
    FILE_NAME,
    GENESIS,
    HEAD_NAME,
    RECORD_FIELDS,
    Head,
    canonical,
    checkpoint_mac,
    head_mac,
    key_id,
    record_hash,
)
from tradestack.security.secrets import Secret


class Verdict(enum.Enum):
    INTACT = "intact"
    TORN_TAIL = "torn tail"
    TAMPERED = "tampered"
    EMPTY = "empty"


EXIT_CODES = {Verdict.INTACT: 0, Verdict.TAMPERED: 1, Verdict.EMPTY: 2, Verdict.TORN_TAIL: 3}


@dataclass(frozen=True, slots=True)
class BrokenLink:
    line: int  # 1-based line (file) or row (database) number
    seq: int | None  # the seq expected there
    reason: str


@dataclass(slots=True)
class Report:
    source: str
    records: int = 0  # records in the valid prefix
    last_hash: str = GENESIS
    broken: BrokenLink | None = None
    torn_tail_bytes: int = 0
    checkpoints_verified: int = 0
    unsigned_tail: int = 0  # valid records after the last verified checkpoint
    head_seq: int | None = None
    authenticated: bool = False  # checkpoints and head checked with a known key
    warnings: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        if self.broken is not None:
            return Verdict.TAMPERED
        if self.torn_tail_bytes:
            return Verdict.TORN_TAIL
        if self.records == 0:
            return Verdict.EMPTY
        return Verdict.INTACT

    def render(self) -> str:
        verdict = self.verdict
        lines = [f"{self.source}: {verdict.value} — {self.records} valid records"]
        if self.broken is not None:
            where = f"line {self.broken.line}" + (f" (seq {self.broken.seq})" if self.broken.seq else "")
            lines.append(f"  FIRST BROKEN LINK at {where}: {self.broken.reason}")
        if self.torn_tail_bytes:
            lines.append(
                f"  torn tail: {self.torn_tail_bytes} bytes of an interrupted append after seq "
                f"{self.records} (a crash, not tampering); the writer discards it at its next start"
            )
        lines.append(
            f"  checkpoints verified: {self.checkpoints_verified}; records after the last one: "
            f"{self.unsigned_tail}; head at seq {self.head_seq}"
        )
        lines.extend(f"  warning: {warning}" for warning in self.warnings)
        return "\n".join(lines)


def _keys_by_id(keys: Sequence[Secret]) -> dict[str, Secret]:
    return {key_id(key): key for key in keys}


def _check_record(obj: Any) -> str | None:
    if not isinstance(obj, dict) or set(obj) != RECORD_FIELDS:
        return "not an audit record (wrong fields)"
    if not (
        isinstance(obj["seq"], int)
        and isinstance(obj["ts_ns"], int)
        and isinstance(obj["kind"], str)
        and isinstance(obj["data"], dict)
        and isinstance(obj["prev"], str)
        and isinstance(obj["hash"], str)
    ):
        return "an audit record field has the wrong type"
    return None


def verify_lines(
    source: str,
    lines: Sequence[bytes],
    torn: bytes,
    head: Head | None,
    head_problem: str | None,
    keys: Sequence[Secret],
) -> Report:
    """Verify complete `lines` (no newlines), the bytes `torn` after the last newline, and the head."""
    report = Report(source)
    known = _keys_by_id(keys)
    report.authenticated = bool(known)
    if not known:
        report.warnings.append("no audit key given: chain checked, signatures NOT checked")
    expected_prev = GENESIS
    since_checkpoint = 0
    seen_keys: set[str] = set()
    for number, line in enumerate(lines, start=1):
        expected_seq = number
        problem = _verify_one(line, expected_seq, expected_prev, known, report, seen_keys)
        if problem is not None:
            report.broken = BrokenLink(number, expected_seq, problem)
            break
        obj = json.loads(line)
        expected_prev = obj["hash"]
        report.records = number
        report.last_hash = expected_prev
        if obj["kind"] == "checkpoint":
            since_checkpoint = 0
        else:
            since_checkpoint += 1
    report.unsigned_tail = since_checkpoint
    for unknown in sorted(seen_keys - set(known)):
        if known:
            report.warnings.append(f"checkpoints signed with key {unknown} not given: not verified")
    if report.broken is None:
        _check_head(report, lines, torn, head, head_problem, known)
    return report


def _verify_one(
    line: bytes,
    expected_seq: int,
    expected_prev: str,
    known: Mapping[str, Secret],
    report: Report,
    seen_keys: set[str],
) -> str | None:
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return "not valid JSON (record altered or two records spliced)"
    problem = _check_record(obj)
    if problem is not None:
        return problem
    if canonical(obj) != line:
        return "not in canonical form (bytes of the record altered)"
    if obj["seq"] != expected_seq:
        return f"seq {obj['seq']} where {expected_seq} was expected (records removed, duplicated or moved)"
    if obj["prev"] != expected_prev:
        return f"prev does not match the hash of record {expected_seq - 1} (chain broken)"
    body = {name: obj[name] for name in ("seq", "ts_ns", "kind", "data", "prev")}
    if record_hash(body) != obj["hash"]:
        return "hash does not match the record's content (record altered)"
    if obj["kind"] == "checkpoint":
        data = obj["data"]
        if set(data) != {"through_seq", "through_hash", "key_id", "mac"}:
            return "checkpoint record has the wrong fields"
        if data["through_seq"] != expected_seq - 1 or data["through_hash"] != expected_prev:
            return "checkpoint does not close the record before it"
        kid = data["key_id"]
        seen_keys.add(str(kid))
        key = known.get(str(kid))
        if key is not None:
            good = checkpoint_mac(key, int(data["through_seq"]), str(data["through_hash"]))
            if not hmac.compare_digest(good, str(data["mac"])):
                return "checkpoint signature is not valid (chain rewritten or checkpoint forged)"
            report.checkpoints_verified += 1
    return None


def _check_head(
    report: Report,
    lines: Sequence[bytes],
    torn: bytes,
    head: Head | None,
    head_problem: str | None,
    known: Mapping[str, Secret],
) -> None:
    count = len(lines)
    if head_problem is not None:
        report.broken = BrokenLink(count, None, f"head: {head_problem}")
        return
    if head is None:
        if count or torn:
            report.broken = BrokenLink(count, None, "the head is missing but records exist (head deleted)")
        return
    report.head_seq = head.seq
    key = known.get(head.key_id)
    if key is not None:
        if not hmac.compare_digest(head_mac(key, head.seq, head.hash), head.mac):
            report.broken = BrokenLink(count, None, "head signature is not valid (head forged or altered)")
            return
    elif known:
        report.warnings.append(f"head signed with key {head.key_id} not given: not verified")
    if head.seq > count:
        report.broken = BrokenLink(
            count + 1,
            count + 1,
            f"the log ends at seq {count} but the head vouches for seq {head.seq} (records cut off)",
        )
        return
    if head.seq > 0:
        at_head = json.loads(lines[head.seq - 1])["hash"]
        if at_head != head.hash:
            report.broken = BrokenLink(head.seq, head.seq, "record does not match the head's hash")
            return
    if count > head.seq:
        report.warnings.append(
            f"{count - head.seq} records after the head (written just before a crash, not yet vouched for)"
        )
    report.torn_tail_bytes = len(torn)


# --- sources ---------------------------------------------------------------------------------------


def _read_head(raw: bytes | None) -> tuple[Head | None, str | None]:
    if raw is None:
        return None, None
    try:
        return Head.parse(raw), None
    except (ValueError, UnicodeDecodeError) as error:
        return None, f"does not parse ({error})"


def verify_file(directory: Path, keys: Sequence[Secret]) -> Report:
    path = directory / FILE_NAME
    data = path.read_bytes()
    parts = data.split(b"\n")
    torn = parts.pop()  # bytes after the last newline ("" when the file ends in one)
    head_path = directory / HEAD_NAME
    head, problem = _read_head(head_path.read_bytes() if head_path.exists() else None)
    return verify_lines(str(path), parts, torn, head, problem, keys)


def verify_database(path: Path, keys: Sequence[Secret]) -> Report:
    # read-only: verification must never change the evidence
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT seq, line FROM audit_records ORDER BY seq").fetchall()
        head_row = db.execute("SELECT head FROM audit_head WHERE id = 1").fetchone()
    except sqlite3.DatabaseError as error:
        report = Report(str(path))
        report.broken = BrokenLink(0, None, f"database unreadable: {error}")
        return report
    finally:
        db.close()
    lines: list[bytes] = []
    report_rows: list[tuple[int, str]] = [(int(seq), str(line)) for seq, line in rows]
    for index, (seq, line) in enumerate(report_rows, start=1):
        encoded = line.encode()
        try:
            inner = json.loads(encoded).get("seq")
        except (ValueError, AttributeError):
            inner = None
        if inner != seq:  # the row key must agree with the record it holds
            lines.append(encoded + b" ")  # forces a canonical-form failure at this row
            lines.extend(line_.encode() for _, line_ in report_rows[index:])
            break
        lines.append(encoded)
    head, problem = _read_head(str(head_row[0]).encode() if head_row else None)
    return verify_lines(str(path), lines, b"", head, problem, keys)


@dataclass(slots=True)
class DataDirReport:
    reports: list[Report]
    problems: list[str]

    @property
    def verdict(self) -> Verdict:
        verdicts = [report.verdict for report in self.reports]
        if self.problems or Verdict.TAMPERED in verdicts:
            return Verdict.TAMPERED
        if Verdict.TORN_TAIL in verdicts:
            return Verdict.TORN_TAIL
        if not verdicts or all(verdict is Verdict.EMPTY for verdict in verdicts):
            return Verdict.EMPTY
        return Verdict.INTACT

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def render(self) -> str:
        parts = [report.render() for report in self.reports]
        parts.extend(f"MISMATCH: {problem}" for problem in self.problems)
        if not self.reports:
            parts.append("no audit records found")
        parts.append(f"verdict: {self.verdict.value}")
        return "\n".join(parts)


def verify_data_dir(data_dir: Path, keys: Sequence[Secret]) -> DataDirReport:
    directory = data_dir / AUDIT_DIR
    reports: list[Report] = []
    problems: list[str] = []
    if (directory / FILE_NAME).exists() or (directory / HEAD_NAME).exists():
        if (directory / FILE_NAME).exists():
            reports.append(verify_file(directory, keys))
        else:
            report = Report(str(directory / FILE_NAME))
            report.broken = BrokenLink(0, None, "the log file is missing but its head exists (log deleted)")
            reports.append(report)
    if (directory / DB_NAME).exists():
        reports.append(verify_database(directory / DB_NAME, keys))
    if len(reports) == 2 and all(report.broken is None for report in reports):
        first, second = reports
        common = min(first.records, second.records)
        if common and _hash_at(directory, common) != _db_hash_at(directory / DB_NAME, common):
            problems.append(f"file and database disagree at seq {common}: one of them was rewritten")
    return DataDirReport(reports, problems)


def _hash_at(directory: Path, seq: int) -> str:
    with (directory / FILE_NAME).open("rb") as file:
        for number, line in enumerate(file, start=1):
            if number == seq:
                return str(json.loads(line)["hash"])
    return ""


def _db_hash_at(path: Path, seq: int) -> str:
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT line FROM audit_records WHERE seq = ?", (seq,)).fetchone()
    finally:
        db.close()
    return "" if row is None else str(json.loads(row[0])["hash"])
