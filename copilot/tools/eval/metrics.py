"""The measures the evaluations report: ranking quality, evidence overlap, percentiles."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

EVIDENCE_NGRAM = 8  # words in a row a passage must share with an evidence span


def ndcg(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """Normalized discounted cumulative gain of the first `k` of `ranked`."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    gains = sorted(relevant.values(), reverse=True)[:k]
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    return dcg / ideal if ideal else 0.0


def recall(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 5) -> float:
    """The share of the relevant documents found in the first `k`."""
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def words(text: str) -> list[str]:
    """Lower-case words and numbers ("15th" is "15", "th"): how passages and evidence are compared."""
    return re.findall(r"[a-z]+|[0-9]+", text.lower())


def overlaps(passage: str, evidence: Sequence[str]) -> bool:
    """True when `passage` shares a run of words with one of the evidence spans.

    The run is 8 words, or the whole span when it is shorter ("1 st day of May
    2006"), so a passage cut at a chunk boundary still counts when it holds a
    real piece of the clause.  Runs are compared with the spaces between words
    taken out: CUAD's text splits words its PDFs do not ("15t h day", "1 st"),
    and a split word is no different clause.
    """
    flat = "".join(words(passage))
    for span in evidence:
        want = words(span)
        n = min(EVIDENCE_NGRAM, len(want))
        if n and any("".join(want[i:i + n]) in flat for i in range(len(want) - n + 1)):
            return True
    return False


def percentile(values: Sequence[float], p: float) -> float | None:
    """The `p`-th percentile (0–100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    at = (len(ordered) - 1) * p / 100
    low = math.floor(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def share(hits: Sequence[bool]) -> float | None:
    """The fraction of True values; None when there is nothing to count."""
    return sum(hits) / len(hits) if hits else None
