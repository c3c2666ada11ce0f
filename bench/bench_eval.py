"""`copilot eval` as a benchmark: SciFact retrieval and CUAD answers, recorded in RESULTS.md.

The very code `copilot eval` runs (copilot.tools.eval), on ../shared/eval; each
benchmark indexes into its own home under --workdir (kept: a second run only
asks).

    .venv/bin/python bench/bench_eval.py scifact
    .venv/bin/python bench/bench_eval.py cuad --limit 40        # a quick look
    .venv/bin/python bench/bench_eval.py cuad --model qwen2.5-coder-1.5b
    .venv/bin/python bench/bench_eval.py cuad --from cuad.json   # record a finished `copilot eval` run
                                                                 # (figures recomputed: all, dev, test)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from copilot.core import config as config_mod  # noqa: E402
from copilot.tools.eval import cuad, scifact  # noqa: E402
from report import record  # noqa: E402

DATA = ROOT.parent / "shared" / "eval"


def figures_only(data: dict) -> dict:
    """The run's figures without its per-question records (those stay in `copilot eval`'s JSON)."""
    return {k: v for k, v in data.items() if k not in ("per_question", "per_query")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("benchmark", choices=["scifact", "cuad"])
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--model", help="packaged model name or GGUF path (default: the configured one)")
    ap.add_argument("--workdir", type=Path, default=Path.home() / ".cache" / "firm-copilot" / "eval")
    ap.add_argument("--from", dest="done", type=Path, help="the JSON of a finished `copilot eval` run")
    ap.add_argument("--part", choices=["all", "dev", "test"], default="all", help="CUAD: one half of the contracts")
    args = ap.parse_args()
    config = config_mod.load(model=args.model)
    if args.done:
        finished = json.loads(args.done.read_text())
        if args.benchmark == "cuad":  # the figures again from the records, dev and test included
            report = cuad.Report("cuad")
            cuad.summarize(cuad.with_parts(finished["per_question"], DATA / "cuad"), report)
            headers, rows = report.headers, report.rows
        else:
            headers = tuple(finished.get("headers", ("measure", "value")))
            rows = [(k, *(v if isinstance(v, list) else [v])) for k, v in finished["rows"].items()]
        record(__file__, rows, f"{args.benchmark}: recorded from `copilot eval` ({args.done.name}), "
               f"model {finished.get('model', '?')}.", figures_only(finished), headers=headers)
        return
    started = time.perf_counter()
    run = {"scifact": scifact.run, "cuad": partial(cuad.run, part=args.part)}[args.benchmark]
    report = run(DATA / args.benchmark, config, args.workdir / args.benchmark, args.limit)
    seconds = time.perf_counter() - started
    what = {
        "scifact": f"SciFact, {f'the first {args.limit}' if args.limit else 'all'} queries, "
                   f"the shipped MiniLM ({config.embed_backend})",
        "cuad": f"CUAD, {f'a fixed sample of {args.limit}' if args.limit else 'all'} questions"
                f"{'' if args.part == 'all' else f' of the {args.part} half'}, model {config.model}",
    }[args.benchmark]
    wall = ("wall time", f"{seconds:.0f} s", *([""] * (len(report.headers) - 2)))
    record(__file__, report.rows + [wall], what + ".", figures_only(report.data), headers=report.headers)


if __name__ == "__main__":
    main()
