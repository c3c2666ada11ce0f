"""Hostile input, generated: questions and files no one would write by hand.

Each property is what a user is promised: a clear error or a result, never a
traceback; whatever is stored or printed is clean text; the index and the
audit trail lose nothing.  Examples are derandomized, so CI sees the same
ones every run; bench/fuzz.py explores freshly, and longer.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from copilot.core.errors import BadQuestion, QuestionTooLong, SkipFile
from copilot.core.sanitize import MAX_QUESTION_CHARS, printable, question
from index import loaders

from fuzzing import any_char, damaged_files, document_texts, fuzz, printable_ok, questions, seeds


@fuzz(500)
@given(st.text(any_char, max_size=300) | questions())
def test_printable_leaves_clean_text_and_is_stable(text: str) -> None:
    clean = printable(text)
    assert printable_ok(clean)
    clean.encode("utf-8")  # raises on anything unencodable
    assert printable(clean) == clean


@fuzz(500)
@given(questions())
def test_a_question_is_cleaned_to_one_askable_line_or_refused_with_the_reason(text: str) -> None:
    try:
        asked = question(text)
    except QuestionTooLong as exc:
        assert "characters; the most is" in str(exc)
        return
    except BadQuestion as exc:
        assert "empty" in str(exc)
        return
    assert asked and asked == asked.strip() and "\n" not in asked and printable_ok(asked)
    assert len(asked) <= MAX_QUESTION_CHARS


def test_each_seed_file_loads() -> None:
    """The undamaged files read: what the fuzzing breaks was whole to begin with."""
    for name, data in seeds().items():
        doc = loaders.load_source(data, Path(name).suffix)
        assert any(p.text.strip() for p in doc.pages), name


def _outcome(name: str, data: bytes) -> None:
    try:
        doc = loaders.load_source(data, Path(name).suffix)
    except SkipFile as exc:
        reason = str(exc)
        assert reason and "\n" not in reason and printable_ok(reason), reason
        return
    for page in doc.pages:
        assert printable_ok(page.text) and printable_ok(page.heading), (name, page)
    assert printable_ok(doc.title) and all(printable_ok(k + v) for k, v in doc.meta.items())


@fuzz(300)
@given(damaged_files())
def test_damaged_files_are_read_or_skipped_with_a_reason(damaged) -> None:
    name, data, _injuries = damaged
    _outcome(name, data)


@fuzz(150)
@given(st.sampled_from([".txt", ".md", ".html", ".eml"]), document_texts(),
       st.sampled_from(["utf-8", "utf-16", "cp1252", "surrogateescape"]))
def test_whatever_a_text_file_holds_comes_out_printable(suffix: str, text: str, encoding: str) -> None:
    if encoding == "surrogateescape":  # the bytes argv or a broken file would give
        data = text.encode("utf-8", "surrogateescape") if _escapable(text) else text.encode("utf-8", "replace")
    else:
        data = text.encode(encoding, "replace") if encoding != "utf-16" else text.encode("utf-16", "surrogatepass")
    if suffix == ".html":
        data = b"<html><body><h1>T</h1><p>" + data + b"</p></body></html>"
    elif suffix == ".eml":
        data = b"From: a@b.example\nSubject: s\n\n" + data
    _outcome("f" + suffix, data)


def _escapable(text: str) -> bool:
    try:
        text.encode("utf-8", "surrogateescape")
        return True
    except UnicodeEncodeError:
        return False
