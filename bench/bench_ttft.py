"""Time to first token, cold and warm: what evaluating the system prompt once saves.

For each question, three measurements on one loaded model:
  cold   - nothing evaluated (the KV cache emptied): the whole prompt is evaluated;
  warm   - only the fixed system prompt evaluated beforehand (what the app does
           at start-up, and what every later question finds in the cache);
  repeat - the same question again right away (its whole prompt is cached).
Retrieval is not included: these are the model's own seconds to its first token.

    .venv/bin/python bench/bench_ttft.py --home ~/.local/share/copilot   # an existing index
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from copilot.core import config as config_mod  # noqa: E402
from copilot.engine.local import Copilot  # noqa: E402
from copilot.answer.prompt import SYSTEM  # noqa: E402
from report import record  # noqa: E402

CUAD = ROOT.parent / "shared" / "eval" / "cuad"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True, help="a COPILOT_HOME with documents indexed")
    ap.add_argument("--questions", type=int, default=8)
    ap.add_argument("--model", help="packaged model name or GGUF path")
    args = ap.parse_args()
    engine = Copilot(config_mod.load(home=args.home, model=args.model))
    rows = [json.loads(line) for line in (CUAD / "qa.jsonl").open()]
    questions = [r["question"] for r in rows if r["present"]][:: max(1, 330 // args.questions)][: args.questions]
    gen = engine.generator
    llm = gen._llm
    reader = engine.local_reader()
    system_tokens = gen.count_tokens(SYSTEM)
    cold, warm, repeat, prompt_tokens = [], [], [], []
    for q in questions:
        llm.reset()  # n_tokens 0: nothing in the cache can be reused
        a = engine.ask(q, reader)
        if a.timings.first_token_ms is None:
            continue
        cold.append(a.timings.first_token_ms)
        prompt_tokens.append(a.timings.prompt_tokens)
        llm.reset()
        gen.prime(SYSTEM)
        warm.append(engine.ask(q, reader).timings.first_token_ms)
        repeat.append(engine.ask(q, reader).timings.first_token_ms)
    med = statistics.median
    table = [
        ("model", gen.name),
        ("questions timed", f"{len(cold)}"),
        ("system prompt tokens", f"{system_tokens}"),
        ("prompt tokens (median)", f"{med(prompt_tokens):.0f}"),
        ("first token, cold (median)", f"{med(cold):.0f} ms"),
        ("first token, warm: system prompt cached (median)", f"{med(warm):.0f} ms"),
        ("warm / cold", f"{med(warm) / med(cold):.2f}"),
        ("first token, same question again (median)", f"{med(repeat):.0f} ms"),
        ("repeat / cold", f"{med(repeat) / med(cold):.2f}"),
    ]
    record(__file__, table, f"{len(cold)} CUAD questions on the index in {args.home}.",
           {"cold_ms": cold, "warm_ms": warm, "repeat_ms": repeat, "prompt_tokens": prompt_tokens})


if __name__ == "__main__":
    main()
