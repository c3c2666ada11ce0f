"""The confidence calibration: fitted on questions of known answerability, shipped for the default model."""

import random

from copilot import confidence
from copilot.core.config import Config
from copilot.core.types import Confidence
from copilot.models import PACKAGED


def test_the_default_model_ships_calibrated_and_doubt_lowers_the_value() -> None:
    calibration = confidence.calibrations()[PACKAGED[Config.model].filename]
    assert 0.0 < calibration.floor < 1.0
    sure = confidence.features(Confidence(0.01, 0.6, 8.0))
    doubting = confidence.features(Confidence(0.9, 0.6, 8.0))
    assert calibration.probability(sure) > calibration.probability(doubting)
    judged = confidence.judge(Confidence(0.01, 0.6, 8.0), PACKAGED[Config.model].filename)
    assert judged.floor == calibration.floor and judged.value == round(calibration.probability(sure), 4)


def test_a_fitted_calibration_separates_what_it_can_and_its_floor_equalizes_the_errors() -> None:
    rng = random.Random(1)
    signals, present = [], []
    for _ in range(400):
        there = rng.random() < 0.5
        refusal = min(0.99, max(0.01, rng.gauss(0.2 if there else 0.6, 0.2)))
        signals.append(Confidence(refusal, rng.gauss(0.55 if there else 0.4, 0.1), rng.uniform(0, 10)))
        present.append(there)
    calibration = confidence.fit(signals, present, [True] * len(signals))
    refusal, similarity, terms = calibration.weights
    assert refusal < 0 < similarity and abs(terms) < abs(similarity)  # noise gets little weight
    values = [calibration.probability(confidence.features(s)) for s in signals]
    absent_answered, present_refused = confidence.errors(values, present, [True] * len(signals), calibration.floor)
    assert abs(absent_answered - present_refused) < 0.05 and max(absent_answered, present_refused) < 0.3
    # An answer the path did not give (the grounding check refused it) is never counted as given.
    assert confidence.errors(values, present, [False] * len(signals), 0.0) == (0.0, 1.0)


def test_a_model_without_calibration_keeps_its_signals_and_no_value() -> None:
    judged = confidence.judge(Confidence(0.3, 0.5, 2.0), "my-own-model.gguf")
    assert (judged.refusal, judged.value, judged.floor) == (0.3, None, None)
    assert confidence.judge(Confidence(0.3, 0.5, 2.0), "my-own-model.gguf", 0.0).floor == 0.0
