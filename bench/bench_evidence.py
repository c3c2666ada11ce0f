"""What the model reads: the share of present questions whose evidence sentence it is shown, against tokens.

No answer is written: each question is searched as `copilot ask` searches it,
its evidence gathered from the whole pool (`retrieval_depth` passages), and
the sentences the model would read are chosen within the configured budget,
as the product chooses them and as the alternatives below would:

- shipped: `Evidence.best` (the pool's best sentences in order; a long one
  shown as its window around the question's words);
- window before: the same with the window rule before issue 42 (the span
  holding the most question words, the first such span on a tie);
- one / two per passage: for breadth, a first pass taking at most one (two)
  sentences from any passage, the budget left then going to the best of the rest.

Reported per question file and half: evidence in the pool, evidence read (a
shown sentence overlaps the gold evidence), gold value read (it states the
gold value, of the questions with one), the evidence tokens shown, and
where the evidence sentence ranks in the pool's order.

    .venv/bin/python bench/bench_evidence.py                    # CUAD, its other kinds, examples'
    .venv/bin/python bench/bench_evidence.py --limit 80         # a sample of each half
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from report import record  # noqa: E402

SETS = (  # (name, data, questions file or None for DATA/qa.jsonl)
    ("cuad", ROOT.parent / "shared" / "eval" / "cuad", None),
    ("cuad-other", ROOT.parent / "shared" / "eval" / "cuad", HERE / "questions" / "cuad-other.jsonl"),
    ("examples-other", ROOT / "examples", HERE / "questions" / "examples-other.jsonl"),
)


def window_before(text, asked, count, window, size=None):
    """`evidence.around` before issue 42: the most question words, the first such span on a tie."""
    import re

    from copilot.answer.grounding import content_words

    size = count(text) if size is None else size
    if size <= window:
        return text
    words = list(re.finditer(r"\S+", text))
    span = max(1, len(words) * window // size)
    if span >= len(words):
        return text
    marks = [1 if content_words(w.group()) & asked else 0 for w in words]
    held = sum(marks[:span])
    best, at = held, 0
    for i in range(1, len(words) - span + 1):
        held += marks[i + span - 1] - marks[i - 1]
        if held > best:
            best, at = held, i
    return text[words[at].start():words[at + span - 1].end()]


def capped(gathered, count, budget: int, most: int, window: int, cap: int) -> list:
    """`Evidence.best` with a first pass taking at most `cap` sentences a passage."""
    from collections import Counter
    from dataclasses import replace

    from copilot.answer import evidence

    chosen, passed, taken, left = [], [], Counter(), budget
    for s in gathered.sentences:
        if len(chosen) == most:
            break
        size = count(s.text)
        if window and size > window:
            s = replace(s, text=evidence.around(s.text, gathered.asked, count, window, size))
            size = count(s.text)
        if taken[s.passage] >= cap:
            passed.append((s, size))
        elif size <= left:
            chosen.append(s)
            taken[s.passage] += 1
            left -= size
    for s, size in passed:
        if len(chosen) < most and size <= left:
            chosen.append(s)
            left -= size
    return sorted(chosen, key=lambda s: -s.score)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="present questions per half (0: all)")
    ap.add_argument("--sets", default=",".join(s[0] for s in SETS))
    ap.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "firm-copilot" / "eval")
    args = ap.parse_args()

    from copilot.answer import evidence
    from copilot.answer.answerer import AnswerSettings
    from copilot.core import config as config_mod
    from copilot.engine import local_engine
    from copilot.tools.eval import cuad
    from copilot.tools.eval.metrics import overlaps
    from copilot.tools.eval.normalize import matches

    config = config_mod.load()
    settings = AnswerSettings.of(config)
    rows: list[dict] = []
    started = time.perf_counter()
    for name, data, questions_file in SETS:
        if name not in args.sets.split(","):
            continue
        engine = local_engine(cuad.eval_config(config, args.workdir / data.name))
        questions = [q for q in cuad.load(data, questions_file) if q["present"] and q.get("evidence")]
        engine.index(cuad.folders(data, questions))
        counted: dict[str, int] = {}

        def count(text: str, tokens=engine.generator.count_tokens) -> int:
            if text not in counted:
                counted[text] = tokens(text)
            return counted[text]

        budget = (count, settings.evidence_tokens, settings.evidence_sentences, settings.evidence_window)
        shipped_around = evidence.around

        def before(g):
            evidence.around = window_before
            try:
                return g.best(*budget)
            finally:
                evidence.around = shipped_around

        ways = {"shipped": lambda g: g.best(*budget), "window before": before,
                "one per passage": lambda g: capped(g, *budget, 1), "two per passage": lambda g: capped(g, *budget, 2)}
        retriever = engine.answerer.retriever
        reader = engine.local_reader()
        half = cuad.halves(cuad.load(data, questions_file))
        for part in cuad.PARTS:
            picked = cuad.pick([q for q in questions if half[q["doc"]] == part], args.limit)
            tally = {way: {"read": 0, "value": 0, "tokens": []} for way in ways}
            pooled, valued, ranks = 0, 0, []
            for q in picked:
                found = retriever.search(q["question"], reader.walls)
                gathered = evidence.gather(found.focus, found.vector, found.nearest, retriever.embedder)
                spans = q["evidence"]
                pooled += any(overlaps(h.chunk.text, spans) for h in found.nearest)
                valued += bool(q.get("answer"))
                ranks.append(next((i for i, s in enumerate(gathered.sentences) if overlaps(s.text, spans)), None))
                for way, choose in ways.items():
                    shown = choose(gathered)
                    tally[way]["read"] += any(overlaps(s.text, spans) for s in shown)
                    tally[way]["value"] += bool(q.get("answer")) and any(matches(q["answer"], s.text) for s in shown)
                    tally[way]["tokens"].append(sum(count(s.text) for s in shown))
            n = len(picked) or 1
            known = [r for r in ranks if r is not None]
            for way, t in tally.items():
                rows.append({
                    "set": name, "half": part, "selection": way, "questions": len(picked),
                    "evidence in the pool": round(pooled / n, 3), "evidence read": round(t["read"] / n, 3),
                    "gold value read": f"{t['value'] / valued:.3f} of {valued}" if valued else "",
                    "evidence tokens (mean)": round(statistics.mean(t["tokens"]), 1) if t["tokens"] else None,
                    "evidence sentence rank p50 / p90": (f"{statistics.median(known):.0f} / "
                                                         f"{statistics.quantiles(known, n=10)[-1]:.0f}"
                                                         if len(known) > 1 else ""),
                })
                print(json.dumps(rows[-1]), flush=True)
    headers = tuple(rows[0]) if rows else ("set",)
    record(__file__, [tuple(str(r[h]) for h in headers) for r in rows],
           f"present questions with evidence, searched as `copilot ask` does; budget {settings.evidence_tokens} "
           f"tokens / {settings.evidence_sentences} sentences, a longer sentence shown as its "
           f"{settings.evidence_window} tokens around the question's words; selections as in the script's "
           f"docstring; rank: the evidence sentence's place in the pool's order. {time.perf_counter() - started:.0f} s.",
           {}, headers=headers)

if __name__ == "__main__":
    main()
