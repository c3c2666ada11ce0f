"""The sentence-choice decision, measured beside the shipped one on the same questions and evidence.

For each question the shipped path answers (`engine.ask`); then, over the very
sentences it showed the model, the model is asked which numbered sentence
answers the question, "0" for none (`copilot.answer.prompt.choice_messages`,
the prompt `decision = "choice"` uses), and its first-token distribution over
0..N is read.
Reported for both decisions on the same questions: refusal of absent
clauses, wrong refusals, accuracy (the gold value in the answer / in the
chosen sentence), the quote being the evidence, and the AUC of each one's
score for "the documents answer it" (the shipped calibrated confidence; the
choice's 1 - P(none)).

    .venv/bin/python bench/bench_choice.py --limit 48                  # CUAD dev 48 + test 48
    .venv/bin/python bench/bench_choice.py --limit 40 --questions bench/questions/cuad-other.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from report import record  # noqa: E402

WAYS = ("shipped", "choice", "hybrid")  # the calibrated floor; the chosen sentence; the draft if one was chosen


def auc(positives: list[float], negatives: list[float]) -> float | None:
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def share(values: list[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "eval" / "cuad")
    ap.add_argument("--questions", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=48, help="questions per half")
    ap.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "firm-copilot" / "eval" / "cuad")
    args = ap.parse_args()

    from copilot.core import config as config_mod
    from copilot.engine import local_engine
    from copilot.tools.eval import cuad
    from copilot.tools.eval.metrics import overlaps
    from copilot.tools.eval.normalize import matches

    from copilot.answer import confidence, prompt

    # Every borne-out draft shown (min_confidence 0), its calibrated value kept: the shipped decision
    # is then that value against the model's calibrated floor, read off the same run.
    config = config_mod.load().replace(min_confidence=0.0)
    engine = local_engine(cuad.eval_config(config, args.workdir))
    questions = cuad.load(args.data, args.questions)
    engine.index(cuad.folders(args.data, questions))
    half = cuad.halves(questions)
    reader = engine.local_reader()
    gen = engine.generator
    floor = confidence.calibration_for(gen.name).floor
    rows_out: list[dict] = []
    out_file = HERE / "results" / f"bench_choice-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    out_file.parent.mkdir(exist_ok=True)
    for part in ("dev", "test"):
        picked = cuad.pick([q for q in questions if half[q["doc"]] == part], args.limit)
        for q in picked:
            answer = engine.ask(q["question"], reader)
            read = [e.text for e in answer.evidence]
            probs = []
            if read:
                msgs = prompt.choice_messages(q["question"], read)
                probs = [gen.opening_probability(msgs, [str(k)]) for k in range(len(read) + 1)]
            total = sum(probs) or 1.0
            none = probs[0] / total if probs else 1.0
            best = max(range(1, len(probs)), key=lambda k: probs[k]) if len(probs) > 1 else 0
            chosen = read[best - 1] if best else ""
            picked_sentence = bool(best) and probs[best] > probs[0]
            evidence = q.get("evidence") or []
            gold = q.get("answer") or ""
            value = answer.confidence.value if answer.confidence and answer.confidence.value is not None else 0.0
            draft_right = bool(gold) and answer.found and matches(gold, answer.text)
            draft_quote_ev = bool(answer.quotes) and any(overlaps(x.text, evidence) for x in answer.quotes)
            shipped = answer.found and value >= floor
            hybrid = answer.found and picked_sentence  # the draft and its quote, shown if the model chose one
            r = {"id": q["id"], "part": part, "type": q.get("type", ""), "present": q["present"],
                 "gold": bool(gold), "reason": answer.reason, "value": round(value, 4),
                 "read_hit": any(overlaps(t, evidence) for t in read) if evidence else False,
                 "none": round(none, 4), "best": best, "mass": round(total, 4),
                 "probs": [round(x, 5) for x in probs],
                 "quote_rank": answer.confidence.quote_rank if answer.confidence else None,
                 "draft_found": answer.found, "draft_right": draft_right, "draft_quote_ev": draft_quote_ev,
                 "gold_in": [bool(gold) and matches(gold, t) for t in read],
                 "evidence_in": [bool(evidence) and overlaps(t, evidence) for t in read],
                 "shipped_found": shipped, "shipped_score": value if answer.found else 0.0,
                 "shipped_correct": shipped and draft_right, "shipped_quote_ev": shipped and draft_quote_ev,
                 "choice_found": picked_sentence, "choice_score": 1 - none,
                 "choice_correct": bool(gold) and picked_sentence and matches(gold, chosen),
                 "choice_quote_ev": picked_sentence and bool(evidence) and overlaps(chosen, evidence),
                 "hybrid_found": hybrid, "hybrid_score": (1 - none) if answer.found else 0.0,
                 "hybrid_correct": hybrid and draft_right, "hybrid_quote_ev": hybrid and draft_quote_ev}
            rows_out.append(r)
            with out_file.open("a") as fh:
                fh.write(json.dumps(r) + "\n")

    table = []
    for part in ("dev", "test", "all"):
        rs = [r for r in rows_out if part == "all" or r["part"] == part]
        present = [r for r in rs if r["present"]]
        absent = [r for r in rs if not r["present"]]
        for way in WAYS:
            answered = [r for r in present if r[f"{way}_found"]]
            table.append((
                part, way, str(len(rs)),
                f"{share([not r[f'{way}_found'] for r in absent]) or 0:.3f}",
                f"{share([not r[f'{way}_found'] for r in present]) or 0:.3f}",
                f"{share([r[f'{way}_correct'] for r in rs if r['gold']]) or 0:.3f}",
                f"{share([r[f'{way}_quote_ev'] for r in answered]) or 0:.3f}",
                f"{auc([r[f'{way}_score'] for r in present], [r[f'{way}_score'] for r in absent]) or 0:.3f}",
            ))
    note = (f"{args.questions or 'qa.jsonl'}: {args.limit} questions a half (cuad.pick, seed 0), default model, "
            "the same evidence and drafts for every decision. shipped: the borne-out draft if its calibrated value "
            "clears the model's floor; choice: the sentence the model picks (0..N, argmax; none wins if likelier), "
            "its gold value in that sentence; hybrid: the borne-out draft and its quote, shown if the model picks "
            "a sentence. quote = evidence among answered present questions; AUC of present vs absent.")
    record(__file__, table, note, {"per_question": str(out_file)},
           headers=("half", "decision", "questions", "refusal of absent", "wrong refusals", "accuracy",
                    "quote is evidence", "AUC"))


if __name__ == "__main__":
    main()
