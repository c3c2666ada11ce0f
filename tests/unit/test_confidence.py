"""The confidence calibration: fitted on questions of known answerability, shipped for the default model."""

import random
from dataclasses import replace

from copilot.answer import confidence
from copilot.core.answers import Confidence
from copilot.core.config import Config
from copilot.llama.models import PACKAGED


SURE = Confidence(0.05, 0.65, 9.0, answer_logprob=-0.05, least_logprob=-0.3, support=1.0, quote_rank=0,
                  quote_similarity=0.65, quote_coverage=0.9, coverage=0.9, verified=0.95)
DOUBTING = Confidence(0.9, 0.35, 1.0, answer_logprob=-1.5, least_logprob=-4.0, support=0.6, quote_rank=5,
                      quote_similarity=0.3, quote_coverage=0.2, coverage=0.3, verified=0.1)


def test_the_default_model_ships_calibrated_on_its_drafts_and_doubt_lowers_the_value() -> None:
    calibration = confidence.calibrations()[PACKAGED[Config.model].filename]
    assert 0.0 < calibration.floor < 1.0 and set(calibration.features) <= set(confidence.SIGNALS)
    assert calibration.probability(SURE) > calibration.floor > calibration.probability(DOUBTING)
    judged = confidence.judge(SURE, PACKAGED[Config.model].filename)
    assert judged.floor == calibration.floor and judged.value == round(calibration.probability(SURE), 4)


def test_a_signal_not_measured_leaves_no_value() -> None:
    calibration = confidence.Calibration(("verified logit",), (0.0,), (1.0,), (1.0,), 0.0, 0.5)
    assert calibration.probability(Confidence(0.1, 0.5, 2.0)) is None  # drafted, never verified
    assert calibration.probability(replace(SURE, verified=0.9)) > 0.5


def test_a_fitted_calibration_weighs_what_separates_and_its_floor_equalizes_the_errors() -> None:
    rng = random.Random(1)
    signals, right = [], []
    for _ in range(400):
        good = rng.random() < 0.5
        refusal = min(0.99, max(0.01, rng.gauss(0.2 if good else 0.6, 0.2)))
        verified = min(0.99, max(0.01, rng.gauss(0.8 if good else 0.4, 0.2)))
        signals.append(Confidence(refusal, 0.5, rng.uniform(0, 10), verified=verified))
        right.append(good)
    names = ("refusal logit", "verified logit", "terms")
    calibration = confidence.fit(signals, right, names)
    refusal, verified, terms = calibration.weights
    assert refusal < 0 < verified and abs(terms) < min(-refusal, verified)  # noise gets little weight
    assert confidence.auc([calibration.probability(s) for s in signals], right) > 0.8
    # The floor over every question: a question with no draft (None) is refused at any floor.
    questions = [(good, s) for good, s in zip(right, signals)]
    floor = confidence.floor_for(calibration, questions)
    values = [calibration.probability(s) for s in signals]
    absent_answered, present_refused = confidence.errors(values, right, [True] * len(signals), floor)
    assert abs(absent_answered - present_refused) < 0.05 and max(absent_answered, present_refused) < 0.3
    assert confidence.errors(values, right, [False] * len(signals), 0.0) == (0.0, 1.0)
    good, bad = replace(SURE, refusal=0.05, verified=0.95), replace(SURE, refusal=0.9, verified=0.1)
    assert confidence.floor_for(calibration, [(True, good), (False, bad), (True, None)]) \
        > calibration.probability(bad)


def test_auc_counts_ties_as_half() -> None:
    assert confidence.auc([0.9, 0.5, 0.5, 0.1], [True, True, False, False]) == 0.875
    assert confidence.auc([0.3], [True]) is None


def test_a_model_without_calibration_keeps_its_signals_and_no_value() -> None:
    judged = confidence.judge(Confidence(0.3, 0.5, 2.0), "my-own-model.gguf")
    assert (judged.refusal, judged.value, judged.floor) == (0.3, None, None)
    assert confidence.judge(Confidence(0.3, 0.5, 2.0), "my-own-model.gguf", 0.0).floor == 0.0
