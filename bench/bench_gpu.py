"""The GPU path, measured (issue 20): CPU only against every layer on the GPU, for the defaults' shapes.

Run by bench/gpu.sh on the device machine (one NVIDIA GPU, 16 cores), on models
of the 0.5B and 1.5B defaults' exact shapes with random weights, quantized to
Q4_K_M there (bench/gpu/shapes.py): speed depends on the shape, not on the
weights' values, and these figures are speed only.

  measure  (there) llama.cpp's own llama-bench and llama-batched-bench, CPU only
           (-dev none, 16 threads) and all layers on the GPU (-ngl 99): prompt tok/s for
           512 and 2,048-token prompts, generation tok/s, and the total tok/s of several
           sequences at once (llama.cpp batches them); and through copilot itself
           (copilot.llama.generator, its default threads) the time to the first token of a
           ~1,000-token prompt, on the CPU (no GPU visible: the fallback) and on the GPU.
  record   (here) the table from measure's JSON, appended to RESULTS.md with the card named.

    python3 bench/bench_gpu.py measure --bin BUILD/bin --models DIR --out gpu.json
    .venv/bin/python bench/bench_gpu.py record gpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

MODELS = ("0.5b", "1.5b")  # <models>/<name>-q4km.gguf
SEQUENCES = (1, 4, 8, 16, 32)


def _run(args: list[str], env: dict | None = None) -> dict:
    """One command's output, kept raw (parsed by `record`, here): a failure is recorded, not fatal."""
    began = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - began
    shown = " ".join(a if len(a) < 80 else "(script)" for a in args[1:])
    print(f"{Path(args[0]).name} {shown}: rc {out.returncode}, {seconds:.0f} s", file=sys.stderr)
    return {"args": args, "rc": out.returncode, "seconds": seconds, "stdout": out.stdout, "stderr": out.stderr[-3000:]}


def _bench(bin_dir: Path, model: Path, gpu: bool) -> dict:
    """llama-bench: 512 and 2,048-token prompts, 128 generated tokens."""
    where = ["-ngl", "99", "-r", "5"] if gpu else ["-dev", "none", "-ngl", "0", "-t", "16", "-r", "2"]
    return _run([str(bin_dir / "llama-bench"), "-m", str(model), "-p", "512,2048", "-n", "128", *where, "-o", "json"])


def _batched(bin_dir: Path, model: Path, gpu: bool) -> dict:
    """llama-batched-bench: each sequence reads 512 prompt tokens and writes 128, all at once."""
    counts = SEQUENCES if gpu else (1, 4)
    where = ["-ngl", "99"] if gpu else ["-dev", "none", "-ngl", "0", "-t", "16"]
    return _run([str(bin_dir / "llama-batched-bench"), "-m", str(model), "-c", str(640 * max(counts)),
                 "-b", "2048", "-ub", "512", "-npp", "512", "-ntg", "128", "-npl", ",".join(map(str, counts)),
                 *where, "--output-format", "jsonl"])


TTFT = """
import json, sys, time
from pathlib import Path
from copilot.llama.generator import LlamaGenerator
from copilot.llama.runtime import backends
from copilot.llama.runtime import default_threads, layers_of
model, gpu_layers = Path(sys.argv[1]), int(sys.argv[2])
found = backends()
generator = LlamaGenerator(model, context_window=4096, gpu_layers=gpu_layers)
text = "The Supplier shall deliver the goods to the Customer's premises within thirty days of the order. " * 60
words = text.split()
while generator.count_tokens(" ".join(words)) > 1000:
    words = words[:-20]
ask = [{"role": "user", "content": " ".join(words) + " When must the goods be delivered?"}]
list(generator.stream([{"role": "user", "content": "Hello"}], max_tokens=4))  # warm: the first run sets up kernels
began = time.perf_counter(); first = None
for _ in generator.stream(ask, max_tokens=64):
    first = first or time.perf_counter()
done = time.perf_counter()
print(json.dumps({"ttft": (first or done) - began, "prompt_tokens": generator.last_prompt_tokens,
                  "gen_tps": (generator.last_completion_tokens - 1) / (done - first) if first and done > first else 0,
                  "threads": default_threads(), "use": found.gpu_use(gpu_layers, layers_of(model))}))
"""


def _ttft(model: Path, gpu: bool) -> dict:
    env = {**os.environ} if gpu else {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # no GPU: the fallback
    return _run([sys.executable, "-c", TTFT, str(model), "99"], env)


def measure(bin_dir: Path, models: Path, out: Path) -> None:
    try:
        card = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                               "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()
    except FileNotFoundError:
        card = "no NVIDIA GPU (nvidia-smi absent)"
    found: dict = {"card": card, "cores": len(os.sched_getaffinity(0)), "models": {}}
    for name in MODELS:
        model = models / f"{name}-q4km.gguf"
        runs = found["models"][name] = {"bytes": model.stat().st_size}
        for key, run in (("cpu", lambda: _bench(bin_dir, model, gpu=False)),
                         ("gpu", lambda: _bench(bin_dir, model, gpu=True)),
                         ("ttft_cpu", lambda: _ttft(model, gpu=False)), ("ttft_gpu", lambda: _ttft(model, gpu=True)),
                         ("batched_cpu", lambda: _batched(bin_dir, model, gpu=False)),
                         ("batched_gpu", lambda: _batched(bin_dir, model, gpu=True))):
            runs[key] = run()
            out.write_text(json.dumps(found, indent=2))  # what is done comes back even if a later step fails


def _bench_rates(run: dict) -> dict[str, float]:
    rows = json.loads(run["stdout"])
    return {(f"pp{r['n_prompt']}" if r["n_prompt"] else f"tg{r['n_gen']}"): r["avg_ts"] for r in rows}


def _last_json(run: dict) -> dict:
    return json.loads(run["stdout"].strip().splitlines()[-1])


def _batches(run: dict) -> list[dict]:
    return [json.loads(line) for line in run["stdout"].splitlines() if line.startswith("{")]


def record(path: Path) -> None:
    from report import record as append

    found = json.loads(path.read_text())
    rows = []
    for name, m in found["models"].items():
        shape = f"{name} shape"
        cpu, gpu = _bench_rates(m["cpu"]), _bench_rates(m["gpu"])
        for test, what in (("pp512", "prompt tok/s, 512 tokens"), ("pp2048", "prompt tok/s, 2,048 tokens"),
                           ("tg128", "generation tok/s")):
            rows.append((f"{shape}: {what}, CPU 16 threads / GPU all layers",
                         f"{cpu[test]:,.1f} / {gpu[test]:,.1f} ({gpu[test] / cpu[test]:.1f}x)"))
        if m["ttft_cpu"]["rc"] or m["ttft_gpu"]["rc"]:
            rows.append((f"{shape}: copilot, first token of a ~1,000-token prompt, CPU (no GPU visible) / GPU",
                         " / ".join(_failed(m[k]) for k in ("ttft_cpu", "ttft_gpu"))))
        else:
            c, g = _last_json(m["ttft_cpu"]), _last_json(m["ttft_gpu"])
            rows.append((f"{shape}: copilot, first token of a {g['prompt_tokens']}-token prompt (s), CPU "
                         f"{c['threads']} threads (no GPU visible) / GPU", f"{c['ttft']:.3f} / {g['ttft']:.3f}"))
            rows.append((f"{shape}: copilot, generation tok/s, CPU / GPU", f"{c['gen_tps']:.1f} / {g['gen_tps']:.1f}"))
        for where, run in (("CPU", m["batched_cpu"]), ("GPU", m["batched_gpu"])):
            rows.append((f"{shape}: {where}, sequences at once (512 prompt + 128 generated each): total tok/s, "
                         "generated tok/s",
                         "; ".join(f"{r['pl']}: {r['speed']:,.0f}, {r['speed_tg']:,.0f}" for r in _batches(run))))
    first = found["models"][MODELS[0]]["ttft_cpu"]
    said = (f"; with no GPU visible copilot said: \"{_last_json(first)['use'][1]}\"" if not first["rc"] else "")
    append(__file__, rows, "models of the defaults' exact shapes with random weights, Q4_K_M (speed only: the "
           "answers are noise); llama-bench and llama-batched-bench for llama.cpp, copilot.llama.generator for copilot" + said,
           {"card": found["card"]}, where=f"{found['card']}, {found['cores']} cores (the device machine)")


def _failed(run: dict) -> str:
    return f"crashed (signal {-run['rc']})" if run["rc"] < 0 else f"failed (exit {run['rc']})"


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--bin", type=Path, required=True)
    m.add_argument("--models", type=Path, required=True)
    m.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("record")
    r.add_argument("path", type=Path)
    args = parser.parse_args()
    if args.what == "measure":
        measure(args.bin, args.models, args.out)
    else:
        record(args.path)


if __name__ == "__main__":
    main()
