"""The audit trail: a hash chain that names the first broken record, and what each answer drew on."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from copilot.engine.audit import AuditLog
from copilot.engine.local import Copilot

from fakes import ScriptedGenerator


def _fill(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.append({"user": "alice", "question": f"q{i}", "answer": {"answer": f"a{i}"}})


def _rewrite(file: Path, change) -> None:
    lines = file.read_text().splitlines(keepends=True)
    file.write_text("".join(change(lines)))


def test_an_intact_chain_verifies_and_each_record_holds_the_one_before(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    _fill(log, 4)
    records = list(log.records())
    assert [r["n"] for r in records] == [1, 2, 3, 4]
    assert all(b["prev"] == a["hash"] for a, b in zip(records, records[1:]))
    assert log.verify() == (4, None)
    assert (tmp_path / "audit.jsonl").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("damage, first, why", [
    (lambda ls: ls[:2] + [ls[2].replace('"a2"', '"a2, edited"')] + ls[3:], 3, "content was changed"),
    (lambda ls: ls[:1] + ls[2:], 2, "removed or inserted"),
    (lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], 2, "removed or inserted"),
    (lambda ls: ls[:4] + [ls[4][:30]], 5, "not a complete record"),
])
def test_the_first_broken_record_is_named(tmp_path: Path, damage, first, why) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    _fill(log, 5)
    _rewrite(log.file, damage)
    _, broken = log.verify()
    assert broken is not None and broken.n == first and why in broken.reason


def test_a_record_rewritten_with_its_own_hash_still_breaks_the_next_link(tmp_path: Path) -> None:
    from copilot.engine.audit import _digest

    log = AuditLog(tmp_path / "audit.jsonl")
    _fill(log, 3)

    def forge(lines):
        record = json.loads(lines[1])
        record["answer"] = {"answer": "forged"}
        record["hash"] = _digest(record)
        return [lines[0], json.dumps(record) + "\n", lines[2]]

    _rewrite(log.file, forge)
    assert log.verify()[1].n == 3


def _writer(path: str, who: int) -> None:
    log = AuditLog(Path(path))
    for i in range(15):
        log.append({"user": f"w{who}", "question": f"{who}-{i}"})


def test_writers_in_several_processes_make_one_chain(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.jsonl")
    procs = [multiprocessing.get_context("fork").Process(target=_writer, args=(path, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert AuditLog(Path(path)).verify() == (60, None)


def test_the_audit_record_holds_the_quote_a_lawyer_checks_and_the_confidence(config, corpus) -> None:
    engine = Copilot(config)
    engine.index([corpus])
    engine._parts["generator"] = ScriptedGenerator("Seven (7) years.")
    answer = engine.ask("How long does the firm keep client matter files?", engine.local_reader())
    assert answer.found and answer.quotes
    (record,) = AuditLog(config.audit_file).records()
    assert record["answer"]["quotes"] == [{"text": q.text, "n": q.n} for q in answer.quotes]
    assert "seven (7) years" in record["answer"]["quotes"][0]["text"]
    assert record["answer"]["confidence"]["refusal"] == answer.confidence.refusal
