"""Fit a model's answer calibration on dev questions and ship it in copilot/answer/calibration.json.

Input: the JSON of one or more `copilot eval cuad` runs made with
`min_confidence = 0` (every draft the grounding check bears out is shown,
so each record carries the signals its decision would weigh and whether
showing it was right).  Give several runs of different kinds of question
(CUAD's own, `bench/questions/cuad-other.jsonl`, the examples'): a floor
fitted on one kind of question has failed on others.  Only the records of
the dev half are fitted; the test half's are reported, never fitted.

    COPILOT_MIN_CONFIDENCE=0 copilot eval cuad ../shared/eval/cuad --out cuad.json
    COPILOT_MIN_CONFIDENCE=0 copilot eval cuad ../shared/eval/cuad \\
        --questions bench/questions/cuad-other.jsonl --out other.json
    .venv/bin/python bench/calibrate.py cuad.json other.json

The signals are chosen by forward selection on the dev records: the one
that most raises the area under the ROC curve, measured by cross-validation
with whole documents held out (a signal that only fits one contract's
wording does not count), until none adds 0.005.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from copilot.answer.confidence import FILE, SIGNALS, auc, errors, fit, floor_for, shows  # noqa: E402
from copilot.core.answers import Confidence  # noqa: E402
from copilot.tools.eval.cuad import figures  # noqa: E402
from copilot.tools.eval.funnel import funnel  # noqa: E402
from copilot.llama.models import PACKAGED  # noqa: E402

FOLDS = 5
GAIN = 0.005  # a signal must raise the held-out AUC this much to be kept


def right(record: dict) -> bool:
    """Whether showing the record's draft was right: the documents answer the question and the
    draft quotes the evidence (and, where a gold value is known, states it)."""
    return bool(record["present"] and record.get("quote_is_evidence") and record.get("correct", True))


def signals(record: dict) -> Confidence | None:
    c = record.get("confidence")
    if not c or not record["found"]:
        return None
    known = {f.name for f in fields(Confidence)}
    return Confidence(**{k: v for k, v in c.items() if k in known and k not in ("value", "floor")})


def held_out_auc(records: list[dict], names: list[str]) -> float:
    """The AUC of a calibration over `names`, each document's records scored by a fit without them."""
    docs = sorted({r["doc"] for r in records})
    random.Random(0).shuffle(docs)
    fold = {d: i % FOLDS for i, d in enumerate(docs)}
    scores, labels = [], []
    for k in range(FOLDS):
        train = [r for r in records if fold[r["doc"]] != k]
        test = [r for r in records if fold[r["doc"]] == k]
        if not test or len({right(r) for r in train}) < 2:
            continue
        c = fit([signals(r) for r in train], [right(r) for r in train], names)
        scores += [c.probability(signals(r)) for r in test]
        labels += [right(r) for r in test]
    return auc(scores, labels) or 0.5


def select(records: list[dict]) -> list[str]:
    chosen: list[str] = []
    best = 0.5
    while True:
        trials = {n: held_out_auc(records, chosen + [n]) for n in SIGNALS if n not in chosen}
        if not trials:
            return chosen
        name, score = max(trials.items(), key=lambda kv: kv[1])
        kept = score >= best + GAIN
        print(f"  {'+' if kept else 'not'} {name:18s} held-out AUC {score:.4f}", file=sys.stderr)
        if not kept:
            return chosen
        chosen.append(name)
        best = score


def alone(records: list[dict]) -> dict[str, float | None]:
    """Each signal's own AUC on the drafts of `records` (below 0.5: a lower value is the better sign)."""
    drafted = [r for r in records if signals(r) is not None]
    out = {}
    for name, read in SIGNALS.items():
        pairs = [(read(signals(r)), right(r)) for r in drafted]
        pairs = [(v, y) for v, y in pairs if v is not None]
        out[name] = auc([v for v, _ in pairs], [y for _, y in pairs])
    return out


def decided(record: dict, calibration) -> dict:
    """`record` as the path would have ended it under `calibration`: a draft below the floor
    is "not found" (the rest of the record, retrieval and evidence, is as it was)."""
    s = signals(record)
    if s is None or shows(calibration.probability(s), calibration.floor):
        return record
    held = {k: v for k, v in record.items() if k not in ("quote_is_evidence", "citations_right", "cited_right")}
    held.update(found=False, reason="uncertain", quotes=[], citations=[], unsupported=[], quote_rank=None)
    if "correct" in record:
        held["correct"] = False
    if not record["present"]:
        held["refused"] = True
    return held


def report(name: str, records: list[dict], calibration) -> dict:
    """The errors and AUC of `calibration` on `records` (all answers, shown or not)."""
    answered = [signals(r) is not None for r in records]
    values = [calibration.probability(signals(r)) if a else 0.0 for r, a in zip(records, answered)]
    present = [r["present"] for r in records]
    shown = [r for r, a, v in zip(records, answered, values) if a and shows(v, calibration.floor)]
    drafts = [(v, right(r)) for r, a, v in zip(records, answered, values) if a]
    out = {
        "records": len(records),
        "AUC of each signal alone": alone(records),
        "AUC of the drafts": auc([v for v, _ in drafts], [y for _, y in drafts]),
        "absent answered, present refused": errors(values, present, answered, calibration.floor),
        "the same with no floor": errors(values, present, answered, 0.0),
        "shown and wrong": sum(not right(r) for r in shown) / len(shown) if shown else None,
    }
    after = [decided(r, calibration) for r in records]
    out["measures"] = {k: v for k, v in (figures(after) | funnel(after)).items() if v is not None}
    print(f"{name}: " + json.dumps(out, default=lambda v: round(v, 4)), file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+", help="JSON of `copilot eval cuad` runs with min_confidence = 0")
    ap.add_argument("--model-file", help="the GGUF file name to calibrate (default: from the runs' model)")
    ap.add_argument("--features", help="comma-separated signals to fit (default: chosen by forward selection)")
    ap.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    ap.add_argument("--record", action="store_true",
                    help="append the measures each run would have had under the fit to bench/RESULTS.md")
    args = ap.parse_args()
    runs = [json.loads(p.read_text()) for p in args.runs]
    by_part: dict[str, list[dict]] = {"dev": [], "test": []}
    for path, run in zip(args.runs, runs):
        for r in run["per_question"]:
            # A document name is unique only within its run's data: keep the folds apart by run.
            by_part.setdefault(r.get("part", "dev"), []).append({**r, "doc": f"{path.name}:{r['doc']}"})
    dev = by_part["dev"]
    drafted = [r for r in dev if signals(r) is not None]
    if len(drafted) < 20:
        sys.exit(f"only {len(drafted)} dev records with a draft and its signals: run the eval with min_confidence = 0")
    names = args.features.split(",") if args.features else select(drafted)
    calibration = fit([signals(r) for r in drafted], [right(r) for r in drafted], names)
    # The floor is set over every dev question, those with no draft to show included.
    calibration = replace(calibration, floor=floor_for(calibration, [(r["present"], signals(r)) for r in dev]))
    entry = {
        "features": list(names), "means": _round(calibration.means), "scales": _round(calibration.scales),
        "weights": _round(calibration.weights), "bias": round(calibration.bias, 6), "floor": calibration.floor,
        "fitted": time.strftime("%Y-%m-%d"), "runs": [p.name for p in args.runs],
        "dev": report("dev", dev, calibration),
        "test": report("test", by_part["test"], calibration) if by_part["test"] else None,
    }
    model = args.model_file or _model_file(runs[0]["model"])
    print(json.dumps({model: entry}, indent=2, default=lambda v: round(v, 4)))
    if args.record:
        _record(args.runs, runs, calibration, model)
    if not args.dry_run:
        data = json.loads(FILE.read_text())
        data["models"][model] = json.loads(json.dumps(entry, default=lambda v: round(v, 4)))
        FILE.write_text(json.dumps(data, indent=2) + "\n")
        print(f"written to {FILE}")


def _record(paths: list[Path], runs: list[dict], calibration, model: str) -> None:
    """One column per run and half: its measures as the path would have ended under `calibration`."""
    from report import record

    columns, headers = [], ["measure"]
    for path, run in zip(paths, runs):
        for part in ("dev", "test"):
            records = [decided(r, calibration) for r in run["per_question"] if r.get("part", "dev") == part]
            if records:
                columns.append(figures(records) | funnel(records))
                headers.append(f"{path.stem} {part}")
    names = list(columns[0])
    rows = [(n, *("" if c.get(n) is None else f"{c[n]}" if n == "questions" else f"{c[n]:.2f}" if "(s)" in n
                  else f"{c[n]:.4f}" for c in columns)) for n in names]
    record(__file__, rows, f"each run's records as ended under the fitted calibration of {model} "
           f"(signals {', '.join(calibration.features)}; floor {calibration.floor}), fitted on the dev columns only.",
           {"calibration": calibration.__dict__}, headers=tuple(headers))


def _model_file(model: str) -> str:
    return PACKAGED[model].filename if model in PACKAGED else Path(model).name


def _round(values, digits: int = 6) -> list[float]:
    return [round(float(v), digits) for v in values]


if __name__ == "__main__":
    main()
