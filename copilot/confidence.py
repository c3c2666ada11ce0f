"""How sure to be before answering: the model's own doubt and the evidence's strength, calibrated.

Three signals, all there before the model writes a word: the model's
probability that its reply will say the sentences do not answer (read from
its first-token distribution), and how close the best evidence sentence is
to the question, by meaning and by words.  A logistic model turns them into
the probability that the documents do answer; below a floor the copilot
says "not found" instead of answering (and does not spend the time to
generate).  Weights and floor are fitted per model on the dev half of the
shared CUAD contracts by `bench/calibrate.py` (the floor makes answers to
absent clauses as rare as refusals of present ones) and shipped in
`calibration.json`; a model with no calibration is judged by its own reply
alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from copilot.core.types import Confidence

FILE = Path(__file__).with_name("calibration.json")
FEATURES = ("refusal logit", "similarity", "terms")


@dataclass(frozen=True)
class Calibration:
    """A fitted logistic model over `FEATURES` (standardized) and the floor to answer at."""

    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    floor: float

    def probability(self, features: tuple[float, ...]) -> float:
        z = self.bias + sum(w * (x - m) / s for w, x, m, s in zip(self.weights, features, self.means, self.scales))
        return 1 / (1 + math.exp(-max(-60.0, min(60.0, z))))


def features(c: Confidence) -> tuple[float, ...]:
    """The calibrated model's inputs, in the order of `FEATURES`."""
    p = min(max(c.refusal, 1e-6), 1 - 1e-6)
    return (math.log(p / (1 - p)), c.similarity, c.terms)


@lru_cache(maxsize=None)
def calibrations(file: Path = FILE) -> dict[str, Calibration]:
    """Every shipped calibration, by model file name."""
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return {}
    return {name: Calibration(*(tuple(v) if isinstance(v, list) else v for v in (
        c["means"], c["scales"], c["weights"], c["bias"], c["floor"]))) for name, c in data["models"].items()}


L2 = 1.0  # a light ridge: three features, a few hundred records


def fit(signals: Sequence[Confidence], present: Sequence[bool], answered: Sequence[bool]) -> Calibration:
    """The calibration of one model, from what it did on questions of known answerability.

    `present`: the documents answer the question; `answered`: the path
    answered it with no floor (the model and the grounding check allowing).
    A logistic model of `present` over the standardized `features`, fitted
    by Newton's method on the L2-penalized log loss; then the floor at which
    the two errors are equally frequent (the share of absent answers given,
    the share of present ones refused: the larger as small as it can be).
    Maximizing their mean instead picked extreme floors on CUAD dev (half the
    present clauses refused to refuse 90% of the absent ones).
    """
    import numpy as np

    x = np.array([features(s) for s in signals])
    y = np.asarray(present, dtype=float)
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
    unfloored = Calibration(tuple(means), tuple(scales), tuple(w[:-1]), float(w[-1]), 0.0)
    values = np.array([unfloored.probability(tuple(f)) for f in x])
    floor = min((float(f) for f in np.unique(np.r_[0.0, np.round(values, 4)])),
                key=lambda f: (max(errors(values, present, answered, f)), f))
    return Calibration(tuple(means), tuple(scales), tuple(w[:-1]), float(w[-1]), floor)


def errors(values, present: Sequence[bool], answered: Sequence[bool], floor: float) -> tuple[float, float]:
    """(share of absent answers given, share of present ones refused) with `floor` applied."""
    given = [a and v >= floor for v, a in zip(values, answered)]
    absent = [g for g, p in zip(given, present) if not p]
    there = [g for g, p in zip(given, present) if p]
    return (sum(absent) / len(absent) if absent else 0.0,
            sum(not g for g in there) / len(there) if there else 0.0)


def judge(signals: Confidence, model: str, floor: float | None = None) -> Confidence:
    """`signals` with the calibrated value and the floor for `model` (a GGUF file name).

    `floor` overrides the calibrated one (the `min_confidence` setting).
    """
    calibration = calibrations().get(model)
    if calibration is None:
        return replace(signals, value=None, floor=floor)
    return replace(signals, value=round(calibration.probability(features(signals)), 4),
                   floor=calibration.floor if floor is None else floor)
