"""The audit trail: every answer, what it was drawn from, in an append-only, hash-chained log.

One JSON object per line in `$COPILOT_HOME/audit/audit.jsonl` (owner-only):
time, OS user, question, collections searched, the passages retrieved (chunk
id, file, page, document sha256), the model file's sha256 and settings, the
answer and its citations, and for a review's cell the one `document` it was
asked of; a reviewer's sign-off of a cell (`signoff`: accepted, or corrected
with the original answer kept beside the correction) is a record too.  Each record holds the hash of the one before
(`prev`) and its own (`hash`, over the rest of the record in canonical JSON),
so a record changed, removed or reordered breaks the chain from there on:
`verify` names the first broken one.  Writers take an exclusive lock, so the
app and a script answering at once still make one chain.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from copilot.core.admin import AuditBreak
from copilot.core.errors import CopilotError
from copilot.core.walls import Walls

GENESIS = "0" * 64


class AuditError(CopilotError):
    """The audit log cannot be written or read; the message says why."""


def _digest(record: dict) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False,
                                     separators=(",", ":")).encode()).hexdigest()


class AuditLog:
    """Append answers; read them back; check the chain."""

    def __init__(self, file: Path):
        self.file = file

    def append(self, entry: dict) -> dict:
        """Chain `entry` onto the log (adds n, time, prev and hash) and return the record."""
        self.file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(self.file, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise AuditError(f"cannot write the audit log {self.file}: {exc.strerror}") from None
        with os.fdopen(fd, "r+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # one chain, however many writers
            last = _last_record(fh)
            record = {"n": last["n"] + 1 if last else 1,
                      "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **entry,
                      "prev": last["hash"] if last else GENESIS}
            record["hash"] = _digest(record)
            fh.seek(0, os.SEEK_END)
            if fh.tell() and not _ends_with_newline(fh):
                fh.write(b"\n")  # a torn last line stays what it is: verify names it
            fh.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        return record

    def records(self) -> Iterator[dict]:
        """Every record that parses, oldest first."""
        for _, record in self._lines():
            if record is not None:
                yield record

    def last(self) -> dict | None:
        """The newest complete record, read from the end (None: an empty or missing log)."""
        try:
            with self.file.open("rb") as fh:
                return _last_record(fh)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuditError(f"cannot read the audit log {self.file}: {exc.strerror}") from None

    def get(self, n: int) -> dict:
        for record in self.records():
            if record.get("n") == n:
                return record
        raise AuditError(f"no record {n} in the audit log {self.file}")

    def verify(self) -> tuple[int, AuditBreak | None]:
        """How many records, and the first that breaks the chain (None: intact)."""
        prev, count = GENESIS, 0
        for number, record in self._lines():
            if record is None:
                return count, AuditBreak(number, "not a complete record (damaged, or a write cut short)")
            count += 1
            if record.get("n") != number:
                return count, AuditBreak(number, f"numbered {record.get('n')}: a record was removed or inserted")
            if record.get("prev") != prev:
                return count, AuditBreak(number, "does not follow the record before it (removed, inserted or reordered)")
            if record.get("hash") != _digest(record):
                return count, AuditBreak(number, "its content was changed after it was written")
            prev = record["hash"]
        return count, None

    def _lines(self) -> Iterator[tuple[int, dict | None]]:
        try:
            with self.file.open("rb") as fh:
                for number, raw in enumerate(fh, 1):
                    try:
                        record = json.loads(raw) if raw.endswith(b"\n") else None
                    except ValueError:
                        record = None
                    yield number, record if isinstance(record, dict) else None
        except FileNotFoundError:
            return
        except OSError as exc:
            raise AuditError(f"cannot read the audit log {self.file}: {exc.strerror}") from None


def _ends_with_newline(fh) -> bool:
    fh.seek(-1, os.SEEK_END)
    return fh.read(1) == b"\n"


def _last_record(fh) -> dict | None:
    """The last complete record (reading backwards from the end: the log only grows)."""
    end = fh.seek(0, os.SEEK_END)
    block, data = 1 << 16, b""
    while end > 0:
        start = max(0, end - block)
        fh.seek(start)
        data = fh.read(end - start) + data
        end = start
        lines = data.split(b"\n")
        for raw in reversed(lines[1:] if end > 0 else lines):
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict) and "hash" in record:
                return record
    return None


def entry(answer, user: str, walls: Walls, model: dict, document: str | None = None) -> dict:
    """What to record of one answer (see the module docstring); `document`: the one file it
    was drawn from (a review's cell), recorded as its scope."""
    record = {
        "user": user,
        "question": answer.question,
        "collections": walls.names(),
        "retrieved": [{"chunk": c.chunk_id, "file": c.path, "source": c.source, "page": c.page,
                       "heading": c.heading, "sha256": c.sha256} for c in answer.sources],
        "model": model,
        "answer": answer.to_dict(),
    }
    return record | ({"document": document} if document is not None else {})


def signed(signoff, user: str, walls: Walls, model: dict) -> dict:
    """What to record of a reviewer's verdict on a review's cell: who, on which document's
    answer, and the correction beside the original (nothing retrieved: the answer's own
    sources are in it)."""
    return {
        "user": user,
        "question": signoff.answer.question,
        "collections": walls.names(),
        "document": signoff.document,
        "retrieved": [],
        "model": model,
        "answer": signoff.answer.to_dict(),
        "signoff": {"verdict": signoff.verdict, "correction": signoff.correction},
    }
