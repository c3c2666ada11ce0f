"""Where sentences end: one rule for the chunker, the evidence the model reads, and answers.

A sentence ends at `.`, `!`, `?`, `;` or `:` followed by a space and what
can start a sentence (a capital, a digit, a quote or a bracket), and at a
paragraph's end or a line that starts a list item ("- ", "• ", "2. ",
"(b) "); any other line break is a wrapped line (a PDF's), not an end.
Legal text runs one obligation per clause, separated by semicolons, so a
clause is a sentence here: short enough to quote, whole enough to stand
alone.  An
abbreviation ("Acme Inc. Agrees", "Sec. 4") does not end one, and neither
does a section number or a heading of a word or two ("12.", "2. Term.",
"Fees:"): it stays with the sentence it introduces, which it says the
subject of.
"""

from __future__ import annotations

import re

_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"'“‘(\[A-Z0-9])")
_BLOCK = re.compile(r"\n\s*\n|\n(?=[ \t]*(?:[-*•▪◦]|\(?[0-9]{1,3}[.)]|\([a-z]{1,3}\))\s)")
HEADING_WORDS = 4  # a heading or section number this short ("12. Payment Terms.") heads the next sentence
_NUMBER = r"(?:[0-9]{1,3}(?:\.[0-9]{1,3})+\.?|\(?[0-9]{1,3}[.)]|\([a-z]{1,3}\)|[ivxlc]{1,4}[.)]|#+|§)"
_NUMBERING = re.compile(rf"^(?:{_NUMBER}\s+)+", re.IGNORECASE)  # "14.4 ", "12. ", "(b) ", "IV. "
_ENUMERATOR = re.compile(rf"^(?:{_NUMBER}(?:\s|$)|(?:section|article|clause)\b)", re.IGNORECASE)
_ABBREVIATION = re.compile(r"(?:\b(?:inc|ltd|corp|co|no|nos|sec|secs|art|para|mr|ms|mrs|dr|st|vs|"
                          r"e\.g|i\.e|u\.s|u\.k|cf|approx|jan|feb|mar|apr|jun|jul|aug|sep|sept|"
                          r"oct|nov|dec)|\b[a-z])\.$", re.IGNORECASE)


def split(text: str) -> list[str]:
    """The sentences of a text, in order, each with its whitespace collapsed."""
    pieces: list[str] = []
    for block in _BLOCK.split(text):
        for piece in _END.split(" ".join(block.split())):
            if pieces and (_ABBREVIATION.search(pieces[-1]) or _heads(pieces[-1])):
                pieces[-1] += " " + piece
            elif piece:
                pieces.append(piece)
    return pieces


def _heads(piece: str) -> bool:
    """A section number or a short heading: it says what the next sentence is about."""
    words = piece.split()
    if len(words) > HEADING_WORDS:
        return False
    return piece.endswith(":") or bool(_ENUMERATOR.match(piece)) or all(
        w[:1].isupper() or not w[:1].isalpha() or w.lower() in ("and", "of", "the", "for", "to") for w in words)


def unnumbered(sentence: str) -> str:
    """`sentence` without the section numbers it starts with ("14.4 Notices. All…" → "Notices. All…").

    What the model reads: a small model asked for a period of notice
    answers "14.4" as readily as "thirty days".
    """
    return _NUMBERING.sub("", sentence, count=1) or sentence
