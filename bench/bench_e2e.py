"""End-to-end benchmark: index the 70 CUAD contracts, then answer 20 of their questions.

Prints a table and appends it to bench/RESULTS.md (raw figures go to
bench/results/e2e-<time>.json).  Generation speed is also measured with a
plain `llama_cpp.Llama` on the very same prompts in the same run, alternating
with the product, so the ratio shows what the product adds on top of llama.cpp.

    .venv/bin/python bench/bench_e2e.py            # default model, all 70 PDFs
    .venv/bin/python bench/bench_e2e.py --pdfs 10 --questions 5   # a quick look
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CUAD = ROOT.parent / "shared" / "eval" / "cuad"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from copilot.core.config import Config  # noqa: E402
from copilot.engine.local import Copilot  # noqa: E402
from report import machine, percentile, record  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pick_questions(n: int, docs: set[str]) -> list[dict]:
    rows = [json.loads(line) for line in (CUAD / "qa.jsonl").read_text().splitlines()]
    rows = [r for r in rows if Path(r["doc"]).name in docs and r["present"]]
    step = max(1, len(rows) // n)
    return rows[::step][:n]


def plain_generation(llm, messages: list[dict], max_tokens: int) -> tuple[float | None, int]:
    """Tokens/s of plain llama-cpp-python on one prompt, measured like the product's."""
    first = before = None
    stream = llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True)
    for chunk in stream:
        if before is None:
            before = llm.n_tokens
        if chunk["choices"][0]["delta"].get("content") and first is None:
            first = time.perf_counter()
    ended = time.perf_counter()
    n_out = max(0, llm.n_tokens - before + 1) if before is not None else 0
    return ((n_out - 1) / (ended - first) if first and n_out > 1 else None), n_out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdfs", type=int, default=70)
    ap.add_argument("--questions", type=int, default=20)
    ap.add_argument("--model", default=Config.model)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--home", type=Path, help="reuse this COPILOT_HOME (its index) instead of a fresh one")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="copilot-bench-"))
    docs = (args.home or work) / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    pdfs = sorted(CUAD.joinpath("pdfs").iterdir())[: args.pdfs]
    for pdf in pdfs:
        if not (docs / pdf.name).exists():
            (docs / pdf.name).symlink_to(pdf)
    config = Config(home=args.home or work / "home", model=args.model, max_tokens=args.max_tokens)
    engine = Copilot(config)

    started = time.perf_counter()
    summary = engine.index([docs])
    index_s = time.perf_counter() - started
    again = engine.index([docs])

    from llama_cpp import Llama

    from copilot.llama.runtime import default_threads

    engine.generator  # load before timing anything
    reader = engine.local_reader()
    plain = Llama(model_path=str(engine.model_path), n_ctx=config.context_window,
                  n_threads=default_threads(), verbose=False)
    questions = pick_questions(args.questions, {p.name for p in pdfs})
    ttft, total, ours, theirs = [], [], [], []

    def product(q: dict) -> None:
        answer = engine.ask(q["question"], reader)
        if answer.timings.first_token_ms is not None:
            ttft.append(answer.timings.first_token_ms)
            total.append(answer.timings.total_ms + answer.timings.retrieval_ms)
        if answer.timings.tokens_per_s:
            ours.append(answer.timings.tokens_per_s)

    def baseline(q: dict) -> None:
        found = engine.answerer.retriever.search(q["question"], reader.walls)
        if found.relevant:  # the product does not generate without sources either
            brief = engine.answerer.brief(q["question"], found)
            rate, _ = plain_generation(plain, brief.messages, args.max_tokens)
            if rate:
                theirs.append(rate)

    for i, q in enumerate(questions):
        # Alternate which goes first, so neither always meets a warmer machine.
        for run in (product, baseline) if i % 2 == 0 else (baseline, product):
            run(q)

    ours_tps, plain_tps = statistics.median(ours), statistics.median(theirs)
    rows = [
        ("documents indexed", f"{summary.indexed} ({len(summary.skipped)} skipped)"),
        ("pages", f"{summary.pages}"),
        ("chunks", f"{summary.chunks}"),
        ("index wall time", f"{index_s:.1f} s"),
        ("pages/s", f"{summary.pages / index_s:.1f}"),
        ("chunks/s", f"{summary.chunks / index_s:.1f}"),
        ("no-change re-index", f"{again.seconds:.2f} s ({again.seconds / index_s:.1%} of first)"),
        ("questions answered", f"{len(ttft)} of {len(questions)} (model: {args.model})"),
        ("time to first token p50 / p95", f"{percentile(ttft, .5):.0f} / {percentile(ttft, .95):.0f} ms"),
        ("answer latency p50 / p95", f"{percentile(total, .5):.0f} / {percentile(total, .95):.0f} ms"),
        ("generation tokens/s (product, median)", f"{ours_tps:.1f}"),
        ("generation tokens/s (plain llama_cpp, median)", f"{plain_tps:.1f}"),
        ("product / plain ratio", f"{ours_tps / plain_tps:.3f}"),
        ("peak RSS", f"{peak_rss_mb():.0f} MB"),
    ]
    import llama_cpp

    isa = [f.split("=")[0].strip() for f in llama_cpp.llama_print_system_info().decode().split("|")
           if f.strip().endswith("= 1") and "AVX" in f]
    where = f"{machine()}, llama-cpp-python {llama_cpp.__version__} ({' '.join(isa)})"
    note = f"{args.pdfs} CUAD PDFs, {args.questions} questions, max {args.max_tokens} answer tokens."
    record(__file__, rows, note, {"args": vars(args), "ttft_ms": ttft, "tokens_per_s": ours,
                                  "plain_tokens_per_s": theirs}, where)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
