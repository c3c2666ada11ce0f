"""`copilot ask` from a shell: cold (every call loads everything), warm (the warm engine), and in process.

examples/ indexed in a fresh home; the same questions (examples/questions.jsonl)
asked three ways in one run with the same model:
  in process  one loaded engine, the answer's own wall time (what the app sees);
  shell cold  `copilot ask` with keep_alive = 0: a new process loads model, embedder and index each time;
  shell warm  `copilot ask` reaching the warm engine the first call started (that first call is
              reported apart: it is the cold start of the engine itself).
Each question is asked the three ways in turn, so a drift in this shared
machine's speed meets all three alike.  The cold start is then split by phase,
in a process of its own as a shell's `copilot ask` would run it: imports,
embedder, index open, model load (with the system prompt evaluated), and the
first question to its first token (a short answer is said whole, at its end).

    .venv/bin/python bench/bench_warm.py                 # 10 questions, the default model
    .venv/bin/python bench/bench_warm.py --questions 26 --model qwen2.5-coder-0.5b
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from copilot.core import config as config_mod  # noqa: E402
from copilot.core.resident import Resident  # noqa: E402
from report import percentile, record  # noqa: E402

COPILOT = str(Path(sys.executable).with_name("copilot"))

PHASES = r"""
import json, sys, time
t0 = time.monotonic()
from copilot.core import config as config_mod
from copilot.engine import local_engine
out = {"imports": time.monotonic() - t0}  # chromadb, onnxruntime, llama_cpp: in the parts that need them
engine = local_engine(config_mod.load())
t = time.monotonic()
if sys.argv[2] == "apart":  # before: one part after another, as the engine loaded them
    _ = engine.embedder.model; out["embedder"] = time.monotonic() - t
    t = time.monotonic(); _ = engine.store.count(), engine.manifest; out["index open"] = time.monotonic() - t
    t = time.monotonic(); _ = engine.generator; out["model load"] = time.monotonic() - t
    t = time.monotonic()
_ = engine.answerer  # after: the model loads while the index and the embedder open beside it
if sys.argv[2] == "at once":
    out["model, embedder and index, at once"] = time.monotonic() - t
first = []
t = time.monotonic()
engine.ask(sys.argv[1], engine.local_reader(), on_token=lambda _p: first or first.append(time.monotonic()))
out["first question, to its first token"] = (first[0] if first else time.monotonic()) - t
out["first question, whole"] = time.monotonic() - t
out["total"] = time.monotonic() - t0
print(json.dumps(out))
"""


def rss(pid: int) -> int:
    """A process's resident memory, bytes (Linux's VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def shell(env: dict, question: str) -> float:
    started = time.monotonic()
    done = subprocess.run([COPILOT, "ask", question], env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"copilot ask failed ({done.returncode}): {done.stderr[-1000:]}")
    return time.monotonic() - started


def p50(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} / {percentile(values, 0.95):.2f}" if values else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=10)
    ap.add_argument("--model", default=config_mod.Config.model)
    ap.add_argument("--phase-runs", type=int, default=3)
    args = ap.parse_args()
    questions = [json.loads(line)["question"] for line in (ROOT / "examples" / "questions.jsonl").open()]
    questions = questions[: args.questions]

    work = Path(tempfile.mkdtemp(prefix="bench-warm-"))
    env = os.environ | {"COPILOT_HOME": str(work / "home"), "COPILOT_MODEL": args.model}
    env.setdefault("COPILOT_MODELS_HOME", str(config_mod.load(env=env).models_dir))
    warm_env = env | {"COPILOT_KEEP_ALIVE": "600"}
    cold_env = env | {"COPILOT_KEEP_ALIVE": "0"}
    subprocess.run([COPILOT, "index", str(ROOT / "examples")], env=cold_env, check=True, capture_output=True)
    resident = Resident.of(config_mod.load(env=warm_env))
    raw: dict = {}
    try:
        from copilot.engine import local_engine

        # Interleaved, question by question: this shared machine's speed drifts over minutes,
        # and each way must meet the same drift.
        engine = local_engine(config_mod.load(env=cold_env))
        engine.load_models()
        reader = engine.local_reader()
        engine.ask(questions[0], reader)  # as a warm engine has: one answer behind it
        starts = []
        for _ in range(args.phase_runs):  # the call that starts the engine, each time a new one
            subprocess.run([COPILOT, "stop"], env=warm_env, check=True, capture_output=True)
            starts.append(shell(warm_env, questions[0]))
        start = statistics.median(starts)
        inside, warm, cold = [], [], []
        for q in questions:
            t = time.monotonic()
            engine.ask(q, reader)
            inside.append(time.monotonic() - t)
            warm.append(shell(warm_env, q))
            cold.append(shell(cold_env, q))
        engine.generator.close()
        del engine
        time.sleep(5)  # the warm engine idle, as between a user's questions
        idle_rss = rss((resident.describe() or {})["pid"])

        phases: dict[str, list[dict]] = {"apart": [], "at once": []}
        for _ in range(args.phase_runs):
            for mode in phases:  # in turn, so that both meet the same drift
                done = subprocess.run([sys.executable, "-c", PHASES, questions[0], mode], env=cold_env,
                                      capture_output=True, text=True, check=True, timeout=900)
                phases[mode].append(json.loads(done.stdout.strip().splitlines()[-1]))
        raw = {"in_process": inside, "shell_cold": cold, "engine_start": starts, "shell_warm": warm,
               "phases": phases, "engine_load_s": (resident.describe() or {}).get("load_s"),
               "engine_idle_rss_bytes": idle_rss}
    finally:
        pid = (resident.describe() or {}).get("pid")
        if pid:
            os.kill(pid, signal.SIGTERM)
        shutil.rmtree(work, ignore_errors=True)

    base = statistics.median(inside)
    rows = [("in process (one loaded engine)", p50(inside), "1.00"),
            ("shell, cold (keep_alive = 0)", p50(cold), f"{statistics.median(cold) / base:.2f}"),
            ("shell, the call that starts the warm engine (median of runs)", f"{start:.2f}", f"{start / base:.2f}"),
            ("shell, warm engine", p50(warm), f"{statistics.median(warm) / base:.2f}")]
    for mode, runs in phases.items():
        label = "before, parts one after another" if mode == "apart" else "after, model beside index"
        for name in runs[0]:
            values = [p[name] for p in runs]
            rows.append((f"cold start ({label}): {name}", f"{statistics.median(values):.2f}", ""))
    rows.append(("warm engine resident memory, idle", f"{idle_rss / 2**30:.2f} GB", ""))
    note = (f"{len(questions)} questions of examples/questions.jsonl, model {args.model}, answers as `copilot ask` "
            f"prints them; the cold start by phase is the median of {args.phase_runs} fresh processes each way "
            "(model load includes evaluating the system prompt). Target: warm <= 1.3x in process.")
    record(__file__, rows, note, raw, headers=("how", "wall s p50 / p95", "x in process"))


if __name__ == "__main__":
    main()
