"""`copilot review` against `copilot ask`: the same contracts, the same fields, judged the same way.

The shared CUAD contracts are indexed into one store (as `copilot eval cuad`
does).  For a fixed sample of contracts from each half (dev, test), every
clause kind is a column of a review — its field name, made a question by
`copilot.review.columns` and asked of each contract alone — and the same
clause is asked through `ask`, in CUAD's own words, over the whole store.
Both are judged by `copilot.tools.eval.cuad.judge` (accuracy on the gold
value, refusal of absent clauses, wrong refusals, citation accuracy).

`--questions FILE` takes the questions instead from a file of qa.jsonl's
form (bench/questions/cuad-other.jsonl: other clause kinds, other words):
each question's `type` is the review's column (its "absent: " mark dropped),
asked of the question's contract.

Speed: cells a minute for the review (the model in this process), seconds
an answer for `ask`, prompt tokens per answer, and the process's peak memory.
The prompt's fixed prefix (the system prompt and the evidence's opening) is
kept in llama.cpp's KV cache from one cell to the next
(`LlamaGenerator._evaluate`): the first `--cache-cells` cells are asked again,
once as the review asks them and once with the cache emptied as each cell
begins (an answer's own later prompts still find its first one cached), and
the prompt tokens evaluated and the seconds spent evaluating them are counted
both ways.

    .venv/bin/python bench/bench_review.py                       # 6 contracts per half, CUAD's fields
    .venv/bin/python bench/bench_review.py --docs 35              # all 70 contracts
    .venv/bin/python bench/bench_review.py --questions bench/questions/cuad-other.jsonl --docs 6
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from copilot.core import config as config_mod  # noqa: E402
from copilot.engine import local_engine  # noqa: E402
from copilot.review.columns import Column, column  # noqa: E402
from copilot.review.grid import Review, Row  # noqa: E402
from copilot.review.store import ReviewStore  # noqa: E402
from copilot.tools.eval import cuad, eval_config  # noqa: E402
from report import record  # noqa: E402

DATA = ROOT.parent / "shared" / "eval" / "cuad"
SHOWN = ("questions", "answer accuracy (gold value)", "refusal on absent clauses",
         "wrong refusals on present clauses", "citation accuracy", "evidence hit@5",
         "answers with an unsupported sentence")


def sample(questions: list[dict], per_half: int, seed: int = 0) -> list[str]:
    """`per_half` contracts of each half, drawn by a fixed seed (the same on every run)."""
    half = cuad.halves(questions)
    chosen = []
    for part in cuad.PARTS:
        docs = sorted(d for d, p in half.items() if p == part)
        chosen += sorted(random.Random(seed).sample(docs, min(per_half, len(docs))))
    return chosen


def field(q: dict) -> str:
    """The review's column for a question: its clause kind, as a field name."""
    return q["type"].removeprefix("absent:").strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=6, help="contracts per half")
    ap.add_argument("--cache-cells", type=int, default=16, help="cells asked again to measure the prompt cache")
    ap.add_argument("--questions", type=Path, help="questions of qa.jsonl's form (default: CUAD's own)")
    ap.add_argument("--model", help="packaged model name or GGUF path (default: the configured one)")
    ap.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "firm-copilot" / "eval" / "cuad")
    args = ap.parse_args()

    questions = cuad.load(DATA, args.questions)
    half = cuad.halves(cuad.load(DATA))  # the halves are CUAD's, whatever the questions
    docs = sample(questions, args.docs)
    asked = [q for q in questions if q["doc"] in docs]
    engine = local_engine(eval_config(config_mod.load(model=args.model), args.workdir))
    started = time.perf_counter()
    summary = engine.index(cuad.folders(DATA, questions))
    index_s = time.perf_counter() - started
    reader = engine.local_reader()
    engine.load_models()

    # The review: every (contract, field) the questions ask, each cell from its contract alone.
    status = {entry.path: (state, entry) for state, entry in engine.status(reader)}
    rows = [Row.of(*status[str((DATA / d).resolve())]) for d in docs]
    columns: dict[str, Column] = {}
    for q in asked:
        columns.setdefault(field(q), column(field(q)))
    wanted = {(str((DATA / q["doc"]).resolve()), field(q)) for q in asked}
    store = ReviewStore(Path(args.workdir) / f"review-{time.strftime('%Y%m%d-%H%M%S')}.sqlite")
    cells: dict[tuple[str, str], object] = {}
    started = time.perf_counter()
    for row in rows:  # one review per row when the questions differ by contract (cuad-other)
        mine = [c for name, c in columns.items() if (row.path, name) in wanted]
        Review(engine, reader, store, [row], mine).run(
            lambda cell, _p: cells.__setitem__((cell.row.path, cell.column.name), cell))
    review_s = time.perf_counter() - started
    peak_review = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    pages = cuad.Pages()
    judged: dict[str, list[dict]] = {"review": [], "ask": []}
    ask_seconds = []
    for q in asked:
        cell = cells[(str((DATA / q["doc"]).resolve()), field(q))]
        judged["review"].append(cuad.judge(q, cell.answer, DATA, pages, half[q["doc"]]))
        t = time.perf_counter()
        answer = engine.ask(q["question"], reader)
        ask_seconds.append(time.perf_counter() - t)
        judged["ask"].append(cuad.judge(q, answer, DATA, pages, half[q["doc"]]))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    headers = ("measure", *(f"{way} {part}" for part in ("dev", "test", "all") for way in ("review", "ask")))
    table = {}
    for part in ("dev", "test", "all"):
        for way in ("review", "ask"):
            records = [r for r in judged[way] if part == "all" or r["part"] == part]
            table[f"{way} {part}"] = cuad.figures(records)
    rows_out = []
    for measure in SHOWN:
        values = [table[h][measure] for h in headers[1:]]
        rows_out.append((measure, *("n/a" if v is None else f"{v}" if measure == "questions" else f"{v:.3f}"
                                    for v in values)))
    review_prompt = [r["prompt_tokens"] for r in judged["review"] if r["prompt_tokens"]]
    ask_prompt = [r["prompt_tokens"] for r in judged["ask"] if r["prompt_tokens"]]
    cells_min = len(cells) / review_s * 60 if review_s else 0.0
    speed = [
        ("review: cells", str(len(cells))), ("review: cells a minute", f"{cells_min:.1f}"),
        ("review: seconds a cell, p50", f"{statistics.median(r['seconds'] for r in judged['review']):.2f}"),
        ("ask: seconds an answer, p50", f"{statistics.median(ask_seconds):.2f}"),
        ("review: prompt tokens a cell asked of the model, mean",
         f"{statistics.mean(review_prompt):.0f}" if review_prompt else "n/a"),
        ("ask: prompt tokens an answer, mean", f"{statistics.mean(ask_prompt):.0f}" if ask_prompt else "n/a"),
        ("review: cells the model was not asked (nothing relevant)",
         str(sum(1 for r in judged["review"] if r["reason"] == "nothing relevant"))),
        ("peak memory after the review / after both (MiB)", f"{peak_review:.0f} / {peak:.0f}"),
        ("index (s, reused when already built)", f"{index_s:.1f}"),
    ]
    note = (f"{len(docs)} contracts ({args.docs} per half, seed 0), questions "
            f"{args.questions or 'CUAD qa.jsonl'}, model {engine.model}; review = each field asked of its "
            f"contract alone, ask = the question in its own words over all {summary.indexed + summary.unchanged} "
            "contracts; same process, same run.")
    cache = prompt_cache(engine, reader, rows, list(columns.values()), args.cache_cells, args.workdir)
    if cache["cells"]:
        kept, emptied, n = cache["kept"], cache["emptied"], cache["cells"]
        speed += [
            (f"prompt cache, {n} cells: prompt tokens evaluated, prefix kept / emptied at each cell",
             f"{kept['tokens']} / {emptied['tokens']} (of {kept['prompt']} in the prompts)"),
            ("prompt cache: seconds evaluating prompts, prefix kept / emptied at each cell",
             f"{kept['seconds']:.1f} / {emptied['seconds']:.1f}"),
            ("prompt cache: seconds a cell, prefix kept / emptied at each cell",
             f"{kept['wall'] / n:.2f} / {emptied['wall'] / n:.2f}"),
        ]
    raw = {"docs": docs, "per_question": judged, "figures": table, "prompt_cache": cache}
    record(__file__, rows_out, note, raw, headers=headers)
    record(__file__, speed, note + " Speed.", {}, headers=("measure", "value"))


def prompt_cache(engine, reader, rows, columns, cells: int, workdir: Path) -> dict:
    """The first `cells` cells asked again (fresh stores), with the KV cache's prefix kept from
    one cell to the next as always, then emptied as each cell begins: tokens and seconds evaluated."""
    gen = engine.generator
    original, ask = gen._evaluate, engine.ask
    counts = {"tokens": 0, "prompt": 0, "seconds": 0.0}
    empty = {"on": False, "next": False}

    def asked(*a, **k):
        empty["next"] = empty["on"]  # a cell begins: its first prompt finds nothing cached
        return ask(*a, **k)

    def counted(tokens: list[int]) -> None:
        llm = gen._llm
        if empty["next"]:
            llm.n_tokens, empty["next"] = 0, False
        keep = 0
        for a, b in zip(llm.input_ids[: llm.n_tokens], tokens):
            if a != b:
                break
            keep += 1
        counts["prompt"] += len(tokens)
        counts["tokens"] += len(tokens) - min(keep, len(tokens) - 1)
        t = time.perf_counter()
        original(tokens)
        counts["seconds"] += time.perf_counter() - t

    gen._evaluate, engine.ask = counted, asked
    out: dict = {}
    try:
        for way in ("kept", "emptied"):
            empty["on"] = way == "emptied"
            counts.update(tokens=0, prompt=0, seconds=0.0)
            store = ReviewStore(Path(workdir) / f"cache-{way}-{time.strftime('%Y%m%d-%H%M%S')}.sqlite")
            left, started = cells, time.perf_counter()
            for row in rows:
                if left <= 0:
                    break
                mine = columns[:left]
                Review(engine, reader, store, [row], mine).run()
                left -= len(mine)
            out[way] = dict(counts, wall=time.perf_counter() - started)
            store.close()
            store.path.unlink(missing_ok=True)
    finally:
        del gen._evaluate, engine.ask
    out["cells"] = cells - max(left, 0)
    return out


if __name__ == "__main__":
    main()
