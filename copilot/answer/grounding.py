"""The mechanical check of an answer against the evidence it was written from: no model, just words.

Each sentence of an answer is compared with each evidence sentence the
model read.  It is borne out by one when most of its content words
(stemmed; stop words ignored; numbers written out count as digits) occur
in it and every number it states does, or when it quotes it word for word.
Words the sentence only echoes from the question ("The payment date of
the Acme agreement is…") state nothing, so they are not counted: a
sentence that merely restates the question about a clause no sentence
holds is not borne out by sharing the parties' names with them.  The
evidence sentence that bears an answer sentence out is its quote, and the
quote's passage its citation; a sentence none bears out is flagged.

This catches the failures a small model makes most: a number or a name
that is in no source, a claim from the model's own knowledge.  It does
not catch a supported sentence used to say something false (negation,
wrong pairing of facts): it is a first line of defence, shown as such,
and the quote under the answer is there for the reader to judge.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

from copilot.core.answers import Claim, Quote
from copilot.core.sentences import split

SUPPORT = 0.6  # share of a sentence's content words its passages must hold
ASKED = 0.5  # share of the question's words a sentence must hold to bear out a bare "Yes."
QUOTE_WORDS = 4  # a quotation this long found verbatim supports its sentence
CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
STOP = frozenset(
    "a an and are as at be been being but by can could did do does for from had has have he her "
    "his how i if in into is it its may might must no nor not of on or our shall she should so "
    "such than that the their them then there these they this those to under upon was we were "
    "what when where which while who whom why will with would you your also any each both either "
    "per all other only same own very more most some about above after again against before "
    "below between during further once out over through until up down off here just too yes".split()
)


def sentences(text: str) -> list[str]:
    """An answer's sentences, by the documents' rule (`copilot.core.sentences`); a bare marker is none."""
    return [s for s in split(text) if re.search(r"\w", CITE.sub("", s))]


_stemmers = threading.local()


def _stemmer():
    """This thread's stemmer: one keeps the word it is stemming in itself, so two threads sharing
    one (a server writing answers on several model slots at once) garble each other's words."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        import snowballstemmer

        stemmer = _stemmers.english = snowballstemmer.stemmer("english")
    return stemmer


# Numbers written out count as the number: "six (6) months" and "6 months" state the same.
NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70",
                     "eighty": "80", "ninety": "90", "hundred": "100"})


def content_words(text: str) -> set[str]:
    """Stemmed words that carry meaning, lower-cased; numbers as digits ("1st" holds "1")."""
    words = [NUMBER_WORDS.get(w, w) for w in re.findall(r"[a-z]+|[0-9]+", text.lower().replace("'s", ""))
             if w not in STOP and (len(w) > 1 or w.isdigit())]
    return set(_stemmer().stemWords(words))


def _numbers(words: set[str]) -> set[str]:
    return {w for w in words if w.isdigit()}


def _quoted(sentence: str, passage: str) -> bool:
    """True when `sentence` quotes a run of `QUOTE_WORDS` or more words of `passage` in quotation marks."""
    flat = " ".join(re.findall(r"[a-z0-9]+", passage.lower()))
    for quote in re.findall(r"[\"“']([^\"”']+)[\"”']", sentence):
        words = re.findall(r"[a-z0-9]+", quote.lower())
        if len(words) >= QUOTE_WORDS and " ".join(words) in flat:
            return True
    return False


def states(sentence: str, question: str = "") -> set[str]:
    """The content words `sentence` adds to `question`: what it claims."""
    return _states(sentence, content_words(question))


def _states(sentence: str, asked: set[str]) -> set[str]:
    return content_words(CITE.sub("", sentence)) - asked


def support(sentence: str, evidence: str, question: str = "") -> float:
    """How well the `evidence` text bears out `sentence`: 0 (not at all) to 1 (entirely)."""
    return _support(sentence, states(sentence, question), evidence, content_words(evidence))


def _support(sentence: str, said: set[str], evidence: str, words: set[str]) -> float:
    if not said:
        return 1.0  # "Yes." states nothing to check
    if _quoted(sentence, evidence):
        return 1.0
    if not _numbers(said) <= words:
        return 0.0  # a number no source states is the costliest error there is
    return len(said & words) / len(said)


def check(text: str, evidence: Sequence[tuple[str, int]], question: str = "",
          focus: str = "") -> tuple[tuple[Claim, ...], tuple[Quote, ...]]:
    """Each sentence of `text` with the evidence sentence that bears it out, and those quotes.

    `evidence` are the sentences the model read, best first, each with the
    number of the citation (passage) it is from.  A sentence that states
    nothing beyond the question ("Yes.") claims what the question asks
    (`focus`: the question without the words naming its document): it rests
    on the sentence holding most of those words, and is borne out only if
    that sentence holds at least half of them.  Of equally good ones, the
    best-ranked is quoted.
    """
    words = [content_words(e) for e, _ in evidence]  # stemmed once, not once per answer sentence
    asked = content_words(question)
    claims, quotes = [], []
    for sentence in sentences(text):
        said = _states(sentence, asked)
        if not said:
            claim, quote = _restating(sentence, content_words(focus or question), evidence, words)
            claims.append(claim)
            quotes += [quote] if quote else []
            continue
        scores = [_support(sentence, said, e, w) for (e, _), w in zip(evidence, words)]
        best = max(scores, default=0.0)
        if best >= SUPPORT:
            quote = Quote(*evidence[scores.index(best)])  # the first, best-ranked, of equals
            claims.append(Claim(sentence, (quote.n,), round(best, 3), True))
            quotes.append(quote)
        else:
            claims.append(Claim(sentence, (), round(best, 3), False))
    return tuple(claims), tuple(dict.fromkeys(quotes))


def _restating(sentence: str, asked: set[str], evidence: Sequence[tuple[str, int]],
               words: Sequence[set[str]]) -> tuple[Claim, Quote | None]:
    """A sentence adding nothing to the question ("Yes."), judged as the claim the question makes."""
    shares = [len(asked & w) / len(asked) if asked else 0.0 for w in words]
    best = max(shares, default=0.0)
    if not evidence or best < ASKED:
        return Claim(sentence, (), round(best, 3), False, restates=True), None
    quote = Quote(*evidence[shares.index(best)])
    return Claim(sentence, (quote.n,), round(best, 3), True, restates=True), quote
