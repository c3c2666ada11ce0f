"""The mechanical check of an answer against its sources: no model, just words.

Each sentence of an answer is compared with the passages it cites.  It is
supported when most of its content words (stemmed; stop words ignored)
occur in them and every number it states does, or when it quotes one of
them word for word.  Words the sentence only echoes from the question
("The governing law of the Acme agreement is…") state nothing, so they are
not counted: a sentence that merely restates the question about a clause
no passage holds is not supported by sharing the parties' names with them.  A sentence citing nothing, or citing passages that do
not bear it out, gets the source that does support it, marked as found by
the check; if none does, it is flagged unsupported for the user to see.

This catches the failures a small model makes most: a number or a name
that is in no source, a sentence pinned on the wrong source, a claim from
the model's own knowledge.  It does not catch a supported sentence used
to say something false (negation, wrong pairing of facts): it is a first
line of defence, shown as such, not a verdict.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from copilot.types import Citation, Claim

SUPPORT = 0.6  # share of a sentence's content words its passages must hold
QUOTE_WORDS = 4  # a quotation this long found verbatim supports its sentence
CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
STOP = frozenset(
    "a an and are as at be been being but by can could did do does for from had has have he her "
    "his how i if in into is it its may might must no nor not of on or our shall she should so "
    "such than that the their them then there these they this those to under upon was we were "
    "what when where which while who whom why will with would you your also any each both either "
    "per all other only same own very more most some about above after again against before "
    "below between during further once out over through until up down off here just too".split()
)
_ABBREVIATION = re.compile(r"(?:\b(?:inc|ltd|corp|co|no|nos|sec|secs|art|para|mr|ms|mrs|dr|st|vs|"
                           r"e\.g|i\.e|u\.s|u\.k|cf|approx|jan|feb|mar|apr|jun|jul|aug|sep|sept|"
                           r"oct|nov|dec)|\b[a-z])\.$", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    """Split an answer into sentences; citation markers stay with the sentence before them."""
    pieces: list[str] = []
    for line in text.splitlines():
        for piece in re.split(r"(?<=[.!?])\s+", line.strip()):
            if not piece:
                continue
            lead = re.match(r"^((?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)+)(.*)$", piece)
            if lead and pieces:  # "Delaware. [1] Next…": the marker belongs to "Delaware."
                pieces[-1] += " " + lead.group(1).strip()
                piece = lead.group(2).strip()
            if pieces and _ABBREVIATION.search(pieces[-1]) and piece[:1].isalnum():
                pieces[-1] += " " + piece  # "Acme Inc. agrees…" is one sentence
            elif piece:
                pieces.append(piece)
    return [p for p in pieces if re.search(r"\w", CITE.sub("", p))]


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def content_words(text: str) -> set[str]:
    """Stemmed words that carry meaning (numbers included), lower-cased."""
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower().replace("'s", ""))
             if w not in STOP and (len(w) > 1 or w.isdigit())]
    return set(_stemmer().stemWords(words))


def _numbers(words: set[str]) -> set[str]:
    return {w for w in words if w.isdigit()}


def _quoted(sentence: str, passage: str) -> bool:
    flat = " ".join(re.findall(r"[a-z0-9]+", passage.lower()))
    for quote in re.findall(r"[\"“']([^\"”']+)[\"”']", sentence):
        words = re.findall(r"[a-z0-9]+", quote.lower())
        if len(words) >= QUOTE_WORDS and " ".join(words) in flat:
            return True
    return False


def cited_numbers(text: str) -> list[int]:
    """The source numbers `text` cites ("[2]", "[1, 3]"), in order of first appearance."""
    seen: dict[int, None] = {}
    for group in CITE.findall(text):
        seen.update((int(n), None) for n in re.split(r"\s*[,;]\s*", group))
    return list(seen)


def states(sentence: str, question: str = "") -> set[str]:
    """The content words `sentence` adds to `question`: what it claims."""
    return _states(sentence, content_words(question))


def _states(sentence: str, asked: set[str]) -> set[str]:
    return content_words(CITE.sub("", sentence)) - asked


def _passage_words(p: Citation) -> set[str]:
    return content_words(f"{p.source} {p.heading} {p.text}")


def support(sentence: str, passages: Sequence[Citation], question: str = "") -> float:
    """How well `passages` bear out `sentence`: 0 (not at all) to 1 (entirely)."""
    return _support(sentence, states(sentence, question), passages, [_passage_words(p) for p in passages])


def _support(sentence: str, said: set[str], passages: Sequence[Citation], words: Sequence[set[str]]) -> float:
    if not said:
        return 1.0  # "Yes." states nothing to check
    if any(_quoted(sentence, p.text) for p in passages):
        return 1.0
    have = set().union(*words)
    if not _numbers(said) <= have:
        return 0.0  # a number no source states is the costliest error there is
    return len(said & have) / len(said)


def check(text: str, sources: Sequence[Citation], question: str = "") -> tuple[Claim, ...]:
    """Every sentence of `text` with its citations and whether they support it."""
    by_number = {c.n: c for c in sources}
    words = {c.n: _passage_words(c) for c in sources}  # stemmed once, not once per sentence
    asked = content_words(question)

    def score(sentence: str, said: set[str], numbers: Sequence[int]) -> float:
        return _support(sentence, said, [by_number[n] for n in numbers], [words[n] for n in numbers])

    claims = []
    for sentence in sentences(text):
        said = _states(sentence, asked)
        if not said:
            claims.append(Claim(sentence, (), False, 1.0, True, restates=True))
            continue
        cited = tuple(n for n in cited_numbers(sentence) if n in by_number)
        first = score(sentence, said, cited) if cited else 0.0
        if first >= SUPPORT:
            claims.append(Claim(sentence, cited, False, round(first, 3), True))
            continue
        best_score, best = max(((score(sentence, said, [c.n]), c.n) for c in sources), default=(0.0, 0))
        if best_score >= SUPPORT:
            claims.append(Claim(sentence, (best,), True, round(best_score, 3), True))
        else:
            claims.append(Claim(sentence, cited, False, round(first, 3), False))
    return tuple(claims)


def report(claims: Sequence[Claim], found: bool) -> list[str]:
    """The check's verdict as lines for a terminal (empty when there is nothing to say).

    An answer whose every sentence is borne out by the passage it cites gets
    one line; otherwise each sentence is listed with its verdict.
    """
    if not claims:
        return []
    if not found:
        return ["The model's draft above is not borne out by the passages, so it is not given as an answer:"] + [
            f"  ⚠ {c.text}" for c in claims if not c.restates
        ]
    checked = [c for c in claims if not c.restates]
    if all(c.supported and not c.inferred for c in checked):
        return [f"Checked: each of its {len(checked)} statement(s) is borne out by the passage it cites."]
    lines = ["Checked against the passages:"]
    for c in checked:
        marks = "".join(f"[{n}]" for n in c.cites)
        if not c.supported:
            lines.append(f"  ⚠ not in the passages: {c.text}")
        elif c.inferred:
            lines.append(f"  ✓ {marks} (source found by the check) {CITE.sub('', c.text).strip()}")
        else:
            lines.append(f"  ✓ {c.text}")
    return lines
