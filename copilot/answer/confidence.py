"""Whether to show a drafted answer: the signals that see it, calibrated.

The answer is drafted first (a few tokens), then judged by what can be read
off it and the evidence (the fields of `Confidence`): the model's doubt
before it wrote, how sure it was of each token it wrote, how much of the
draft the grounding check found in the sentence it quotes and where that
sentence ranked, how much of what was asked that sentence holds, and the
model's own reading of the quote ("does this sentence state it?").  A
logistic model over some of them (`Calibration.features`) gives the
probability that the draft is right; below a floor the copilot says "not
found".  Which signals, their weights and the floor are fitted per model
on the dev questions by `bench/calibrate.py` and shipped in
`calibration.json`; a model with no calibration is judged by its own
"Not stated." alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from copilot.core.answers import Confidence

FILE = Path(__file__).with_name("calibration.json")


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


# Every signal a calibration may use, by the name calibration.json gives it.
SIGNALS: dict[str, Callable[[Confidence], float | None]] = {
    "refusal logit": lambda c: _logit(c.refusal),
    "similarity": lambda c: c.similarity,
    "terms": lambda c: c.terms,
    "answer logprob": lambda c: c.answer_logprob,
    "least logprob": lambda c: c.least_logprob,
    "support": lambda c: c.support,
    "quote rank": lambda c: None if c.quote_rank is None else math.log1p(c.quote_rank),
    "quote similarity": lambda c: c.quote_similarity,
    "quote coverage": lambda c: c.quote_coverage,
    "coverage": lambda c: c.coverage,
    "verified logit": lambda c: None if c.verified is None else _logit(c.verified),
}


@dataclass(frozen=True)
class Calibration:
    """A fitted logistic model over `features` (standardized) and the floor to answer at."""

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    floor: float

    def probability(self, signals: Confidence) -> float | None:
        """The probability that the answer judged by `signals` is right (None: a signal is missing)."""
        x = features(signals, self.features)
        if x is None:
            return None
        z = self.bias + sum(w * (v - m) / s for w, v, m, s in zip(self.weights, x, self.means, self.scales))
        return 1 / (1 + math.exp(-max(-60.0, min(60.0, z))))


def features(signals: Confidence, names: Sequence[str]) -> tuple[float, ...] | None:
    """The values of the signals `names` (see `SIGNALS`); None if one was not measured."""
    values = tuple(SIGNALS[n](signals) for n in names)
    return None if any(v is None for v in values) else values  # type: ignore[return-value]


@lru_cache(maxsize=None)
def calibrations(file: Path = FILE) -> dict[str, Calibration]:
    """Every shipped calibration, by model file name (an entry naming a signal unknown here is left out)."""
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return {}
    return {name: Calibration(tuple(c["features"]), tuple(c["means"]), tuple(c["scales"]), tuple(c["weights"]),
                              c["bias"], c["floor"])
            for name, c in data["models"].items() if set(c["features"]) <= set(SIGNALS)}


def calibration_for(model: str) -> Calibration | None:
    return calibrations().get(model)


L2 = 1.0  # a light ridge: a handful of signals, a few hundred records


def fit(signals: Sequence[Confidence], right: Sequence[bool], names: Sequence[str]) -> Calibration:
    """A logistic model of `right` (showing the draft would be right) over the signals `names` of
    drafts of known worth, standardized, fitted by Newton's method on the L2-penalized log loss;
    its floor is 0 (see `floor_for`)."""
    import numpy as np

    x = np.array([features(s, names) for s in signals], dtype=float)
    y = np.asarray(right, dtype=float)
    means, scales = x.mean(0), x.std(0) + 1e-9
    z = np.c_[(x - means) / scales, np.ones(len(x))]
    w = np.zeros(z.shape[1])
    penalty = np.r_[np.ones(len(w) - 1), 0.0] * L2 / len(y)
    for _ in range(100):
        p = 1 / (1 + np.exp(-z @ w))
        step = np.linalg.solve((z.T * (p * (1 - p))) @ z / len(y) + np.diag(penalty),
                               z.T @ (p - y) / len(y) + penalty * w)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return Calibration(tuple(names), tuple(means), tuple(scales), tuple(w[:-1]), float(w[-1]), 0.0)


def floor_for(calibration: Calibration, questions: Sequence[tuple[bool, Confidence | None]]) -> float:
    """The floor at which the two errors over `questions` are equally frequent: the share of
    absent answers shown and the share of present ones refused, the larger as small as it can
    be.  Each question is (whether the documents answer it, its draft's signals: None where
    there was no draft to show)."""
    values = [calibration.probability(s) if s is not None else None for _, s in questions]
    present = [p for p, _ in questions]
    answered = [v is not None for v in values]
    scores = [v if v is not None else 0.0 for v in values]
    candidates = sorted({0.0} | {math.floor(v * 1e4) / 1e4 for v in scores})  # 4 digits, none above its value
    return min(candidates, key=lambda f: (max(errors(scores, present, answered, f)), f))


def shows(value: float | None, floor: float | None) -> bool:
    """Whether an answer judged `value` is shown at `floor` (without either: it is)."""
    return value is None or floor is None or value >= floor


def errors(values: Sequence[float], present: Sequence[bool], answered: Sequence[bool],
           floor: float) -> tuple[float, float]:
    """(share of absent answers given, share of present ones refused) with `floor` applied."""
    given = [a and shows(v, floor) for v, a in zip(values, answered)]
    absent = [g for g, p in zip(given, present) if not p]
    there = [g for g, p in zip(given, present) if p]
    return (sum(absent) / len(absent) if absent else 0.0,
            sum(not g for g in there) / len(there) if there else 0.0)


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """The probability that a random positive scores above a random negative (ties count half)."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def judge(signals: Confidence, model: str, floor: float | None = None) -> Confidence:
    """`signals` with the calibrated value and the floor for `model` (a GGUF file name).

    `floor` overrides the calibrated one (the `min_confidence` setting).
    """
    calibration = calibration_for(model)
    value = calibration.probability(signals) if calibration else None
    if value is None:
        return replace(signals, value=None, floor=floor)
    return replace(signals, value=round(value, 4), floor=calibration.floor if floor is None else floor)
