"""Text made safe to store, embed, search and print, wherever it came from.

Questions arrive from argv (where bytes that are not UTF-8 become lone
surrogates), from a terminal (where a pasted escape sequence can clear the
screen or retitle the window) and from documents (which may hold anything).
Every such text passes through `printable` once, at the edge: after it, no
code has to wonder whether a string can be encoded or echoed safely.
"""

from __future__ import annotations

import re
import unicodedata

from copilot.core.errors import BadQuestion, QuestionTooLong

MAX_QUESTION_CHARS = 20_000  # ~5,000 tokens: more than any context window the product ships with

# Terminal escape sequences whole (CSI, OSC, and two-character ones), so no parameter bytes are left behind.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
# C0 controls but tab and newline, DEL and C1; bidi embeddings, overrides and isolates
# (which make text read differently from what it says: "Trojan Source").
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile("[\ud800-\udfff]")  # argv's and os.walk's stand-ins for bytes that are not UTF-8


def printable(text: str) -> str:
    """`text` with escape sequences and control characters removed, invalid UTF-8 shown as
    U+FFFD, line ends as \\n, in Unicode normal form C."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n")
    text = _ESCAPES.sub("", text)
    text = _SURROGATES.sub("\ufffd", text)
    return unicodedata.normalize("NFC", _UNWANTED.sub("", text))


def question(text: str) -> str:
    """A question as the pipeline takes it: printable, on one line, not empty, not huge.

    Raises `BadQuestion` with the reason a user can act on.
    """
    if len(text) > 4 * MAX_QUESTION_CHARS:  # before any work on it: a pasted file is refused fast
        raise QuestionTooLong(_too_long(len(text)))
    text = " ".join(printable(text).split())
    if not text:
        raise BadQuestion("the question is empty (nothing left once control characters are removed)")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionTooLong(_too_long(len(text)))
    return text


def _too_long(n: int) -> str:
    return (f"the question is {n:,} characters; the most is {MAX_QUESTION_CHARS:,}. "
            "To ask about a long text, index it as a document and ask about that")
