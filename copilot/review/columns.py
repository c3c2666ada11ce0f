"""A review's columns: what each document is asked.

A column is written either as a question ("How much notice ends it?") or as
a field name ("Payment terms", "Deposit for damages", "Parties").  A field name
becomes the question "What are the payment terms?" by English alone: the
article and verb agree with the field's head noun (the last word before any
preposition: "deposit" in "deposit for damages", "parties" in "parties"), nothing
is keyed to any kind of field.  Retrieval is kept to one document per cell,
so the question need not name it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from copilot.core.errors import CopilotError

# A column that opens with one of these is already a question (or a request).
QUESTION_OPENINGS = frozenset(
    "what which who whom whose when where why how is are was were does do did can could may might "
    "must shall should will would has have had".split()
)
REQUESTS = frozenset("list name give identify describe summarise summarize state quote explain".split())
DETERMINERS = frozenset("the a an all any each every its their this these those".split())
PREPOSITIONS = frozenset(
    "of on to for in under with by from at about against between upon per over within without after before".split()
)
SINGULAR_ENDINGS = ("ss", "us", "is", "ous", "sis")
LONGEST = 500  # characters: a column is a field or a question, not a document


class BadColumn(CopilotError):
    """A column cannot be asked (empty, too long, or the same as another)."""


@dataclass(frozen=True)
class Column:
    """One column: `name` its heading as given, `question` what each document is asked."""

    name: str
    question: str


def is_question(text: str) -> bool:
    """Whether a column is written as a question or a request rather than as a field name."""
    words = re.findall(r"[\w'’-]+", text.lower())
    if text.rstrip().endswith("?") or not words:
        return True
    if words[0] in QUESTION_OPENINGS:
        return True
    return words[0] in REQUESTS and len(words) > 1 and words[1] in DETERMINERS


def _plural(word: str) -> bool:
    w = word.lower().strip("'’")
    return len(w) > 3 and w.endswith("s") and not w.endswith(SINGULAR_ENDINGS)


def _lowered(word: str) -> str:
    """A field's word as it reads mid-sentence: "Payment" → "payment"; "LLC", "iPhone" kept."""
    return word[:1].lower() + word[1:] if word[1:] == word[1:].lower() else word


def question_for(field: str) -> str:
    """The question a field name asks of each document: "Payment Terms" → "What are the payment terms?"."""
    words = field.strip().rstrip(":.").split()
    while words and words[0].lower() in ("the", "a", "an"):
        words = words[1:]
    if not words:
        raise BadColumn(f"the column {field!r} names nothing to ask")
    lowered = [_lowered(w) for w in words]
    before = next((i for i, w in enumerate(lowered) if w.lower() in PREPOSITIONS and i > 0), len(lowered))
    head = lowered[before - 1]
    verb = "are" if _plural(head) else "is"
    return f"What {verb} the {' '.join(lowered)}?"


def column(text: str) -> Column:
    """A column from how a reviewer wrote it (`BadColumn` if there is nothing to ask)."""
    name = " ".join(text.split())
    if not name:
        raise BadColumn("an empty column")
    if len(name) > LONGEST:
        raise BadColumn(f"a column of {len(name)} characters (the most is {LONGEST}): {name[:40]}…")
    return Column(name, name if is_question(name) else question_for(name))


def columns(texts: Iterable[str], warn: Callable[[str], None]) -> tuple[Column, ...]:
    """The columns of `texts`, in order; an empty, unaskable or repeated one is left out and
    `warn`ed of in one line (the review goes on with the rest).  `BadColumn` if none is left."""
    kept: list[Column] = []
    seen: dict[str, str] = {}
    for i, text in enumerate(texts, 1):
        try:
            col = column(text)
        except BadColumn as exc:
            warn(f"column {i} left out: {exc}")
            continue
        key = col.question.lower()
        if key in seen:
            warn(f"column {i} left out: {col.name!r} asks what {seen[key]!r} asks")
            continue
        seen[key] = col.name
        kept.append(col)
    if not kept:
        raise BadColumn("no column to ask: give --ask \"Payment terms\" (repeatable) or --columns FILE")
    return tuple(kept)


def read_columns(path) -> list[str]:
    """A columns file's lines (one column a line; blank lines and lines starting with # skipped)."""
    from pathlib import Path

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadColumn(f"cannot read the columns file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
