"""Hostile questions and files through the real engine and the command line."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.core.config import Config
from copilot.core.errors import BadQuestion, SkipFile
from copilot.core.sanitize import MAX_QUESTION_CHARS
from copilot.engine.audit import AuditLog
from copilot.engine.local import Copilot
from index import loaders

from conftest import EXAMPLES, copy_examples
from fakes import ScriptedGenerator
from fuzzing import damaged_files, fuzz, printable_ok, questions, seeds


# The question path, whole: the real embedder, Chroma and the lexical index, a scripted model.

@pytest.fixture(scope="module")
def indexed(tmp_path_factory, tiny_model: Path, models_home: Path) -> Copilot:
    home = tmp_path_factory.mktemp("fuzz")
    engine = Copilot(Config(home=home / "home", model=str(tiny_model), models_home=str(models_home)))
    engine.index([EXAMPLES])
    engine._parts["generator"] = ScriptedGenerator("Client matter files are kept for seven years [1].")
    return engine


def _skipped(damaged) -> bool:
    name, data, _ = damaged
    try:
        loaders.load_source(data, Path(name).suffix)
        return False
    except SkipFile:
        return True


@pytest.mark.slow
@fuzz(120)
@given(text=questions(), follow_up=st.booleans())
def test_any_question_is_answered_or_refused_and_every_answer_is_recorded(indexed: Copilot, text: str,
                                                                           follow_up: bool) -> None:
    audit = AuditLog(indexed.config.audit_file)
    before, _ = audit.verify()
    chunks = indexed.store.count()
    history = ()
    if follow_up:
        history = (indexed.ask("How long are client matter files kept?", indexed.local_reader()),)
        before += 1
    try:
        answer = indexed.ask(text, indexed.local_reader(), history=history)
    except BadQuestion:
        answer = None
    after, broken = audit.verify()
    assert broken is None and after == before + (answer is not None)
    assert indexed.store.count() == chunks  # asking never touches the index
    if answer is not None:
        assert printable_ok(answer.question) and printable_ok(answer.text)
        assert all(printable_ok(c.label()) for c in answer.sources)
        assert list(audit.records())[-1]["question"] == answer.question


# The command line, with what only a shell can pass: bytes that are not UTF-8.


@pytest.mark.slow
def test_the_command_line_takes_broken_and_huge_questions_in_one_line(indexed: Copilot) -> None:
    env = {**os.environ, "COPILOT_HOME": str(indexed.config.home), "COPILOT_MODEL": str(indexed.config.model),
           "COPILOT_MAX_TOKENS": "8"}
    copilot = str(Path(sys.executable).with_name("copilot"))
    cases = [  # (argv question, stdin, exit code, what the user reads: a cited source, or the error)
        (b"how long are files \xff\xfe kept?", None, 0, rb"\[\d\] \w"),
        (b"\x1b[2J\x1b]0;owned\x07 client files\x7f kept?", None, 0, rb"\[\d\] \w"),  # argv cannot hold NUL
        (b" \x1b[0m \t ", None, 1, rb"error: the question is empty"),
        (b"-", b"retention " * (MAX_QUESTION_CHARS // 5), 1, rb"error: the question is 39,999 characters; the most is 20,000"),
        (b"-", os.urandom(4096), 0, rb""),
        (b"-", b"How long are client\x00 matter files kept?\r\n", 0, rb"\[\d\] \w"),
    ]
    audit = AuditLog(indexed.config.audit_file)
    for argv, stdin, code, said in cases:
        before, _ = audit.verify()
        run = subprocess.run([copilot.encode(), b"ask", argv], input=stdin or b"", env=env,
                             capture_output=True, timeout=300)
        out = run.stdout + run.stderr
        assert run.returncode == code and re.search(said, out), (argv[:40], run.returncode, out[-800:])
        assert b"Traceback" not in out and b"\x1b" not in run.stdout
        after, broken = audit.verify()
        assert broken is None and after == before + (code == 0)


# A run over a folder of hostile files: each is named with its reason, the good ones are all indexed.


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # hypothesis.find's damaged files
def test_a_folder_of_hostile_files_indexes_every_good_one_and_names_the_rest(tmp_path: Path, config: Config) -> None:
    from hypothesis import find

    docs = copy_examples(tmp_path / "docs")
    wanted = {p.name for p in docs.iterdir()}
    bad = docs / "bad"
    bad.mkdir()
    (bad / "noise.txt").write_bytes(os.urandom(3 << 20))
    (bad / "one-word.txt").write_bytes(b"x" * (4 << 20))  # one 4 MB "word"
    (bad / "big.md").write_bytes(b"# Big\n" + b"lorem ipsum " * ((7 << 20) // 12))  # over max_file_mb
    (bad / b"vertrag-m\xfcller.txt".decode("utf-8", "surrogateescape")).write_bytes(b"Latin-1 name.")
    (bad / "\x1b[2Jtitle.md").write_text("# \x1b]0;owned\x07Heading\n\nText with \x1b[31mcolour\x1b[0m.")
    broken = 0
    for seed in (s for s in seeds() if s.endswith((".pdf", ".docx"))):  # damaged past reading
        name, data, _ = find(damaged_files(), lambda d, s=seed: d[0] == s and _skipped(d),
                             settings=settings(database=None, derandomize=True, max_examples=2000))
        (bad / f"damaged-{name}").write_bytes(data)
        broken += 1
    engine = Copilot(config.replace(max_file_mb=6))
    summary = engine.index([docs])
    skipped = dict(summary.skipped)
    assert {Path(s).name for s in skipped} >= {"noise.txt", "big.md", "vertrag-m\ufffdller.txt"}
    assert "binary data" in skipped["bad/noise.txt"] and "too large" in skipped["bad/big.md"]
    assert "not valid UTF-8" in skipped["bad/vertrag-m\ufffdller.txt"]
    assert sum(1 for s in skipped if "damaged-" in s) == broken
    indexed = {Path(e.source).name for _, e in engine.status(engine.local_reader()) if e.status == "indexed"}
    assert wanted <= indexed and "title.md" in indexed and "one-word.txt" in indexed
    db = sqlite3.connect(config.index_dir / "manifest.sqlite")
    stored = [t for row in db.execute("SELECT text, title, heading, source FROM passages") for t in row]
    db.close()
    assert stored and all(printable_ok(t) for t in stored)
    assert max(len(t) for t in stored) < 5000  # the 4 MB word is not one 4 MB chunk
    answer = engine.ask("How long are client matter files kept?", engine.local_reader())
    assert answer.sources and AuditLog(config.audit_file).verify() == (1, None)
    again = engine.index([docs])  # nothing changed: nothing redone, nothing lost
    assert again.indexed == 0 and {Path(e.source).name for _, e in engine.status(engine.local_reader()) if e.status == "indexed"} == indexed
