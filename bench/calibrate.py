"""Fit a model's confidence calibration on the CUAD dev half and ship it in copilot/calibration.json.

Input: the JSON of a `copilot eval cuad --part dev` run made with
`min_confidence = 0` (every question answered as far as the model and the
grounding check allow, so each record says what answering would have
given).  `copilot.confidence.fit` fits the logistic model and the floor on
those dev records only: the test half stays held out.

    COPILOT_MIN_CONFIDENCE=0 copilot --model NAME eval cuad ../shared/eval/cuad --part dev --out dev.json
    .venv/bin/python bench/calibrate.py dev.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from copilot.confidence import FEATURES, FILE, errors, features, fit  # noqa: E402
from copilot.core.types import Confidence  # noqa: E402
from copilot.models import PACKAGED  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="JSON of `copilot eval cuad --part dev` with min_confidence = 0")
    ap.add_argument("--model-file", help="the GGUF file name to calibrate (default: from the run's model)")
    ap.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    args = ap.parse_args()
    run = json.loads(args.run.read_text())
    records = [r for r in run["per_question"] if r.get("part") == "dev" and r.get("confidence")]
    if not records:
        sys.exit("no dev records with confidence signals in the run (was it `--part dev`?)")
    signals = [Confidence(**{k: r["confidence"][k] for k in ("refusal", "similarity", "terms")}) for r in records]
    present, answered = [r["present"] for r in records], [r["found"] for r in records]
    calibration = fit(signals, present, answered)
    values = [calibration.probability(features(s)) for s in signals]
    model = args.model_file or (PACKAGED[run["model"]].filename if run["model"] in PACKAGED else Path(run["model"]).name)
    entry = {
        "means": _round(calibration.means), "scales": _round(calibration.scales),
        "weights": _round(calibration.weights), "bias": round(calibration.bias, 6), "floor": calibration.floor,
        "features": list(FEATURES), "fitted": time.strftime("%Y-%m-%d"), "dev_records": len(records),
        "dev_absent_answered, present_refused": _round(errors(values, present, answered, calibration.floor), 4),
        "the same with no floor": _round(errors(values, present, answered, 0.0), 4),
    }
    print(json.dumps({model: entry}, indent=2))
    if not args.dry_run:
        data = json.loads(FILE.read_text())
        data["models"][model] = entry
        FILE.write_text(json.dumps(data, indent=2) + "\n")
        print(f"written to {FILE}")


def _round(values, digits: int = 6) -> list[float]:
    return [round(float(v), digits) for v in values]


if __name__ == "__main__":
    main()
