"""Judge quants on the firm's own text: perplexity, KL-divergence from a reference, speed, memory.

Each model is measured in a process of its own, so its peak RSS is its own;
the reference's log-probabilities are kept on disk (float16, one row per
token) for the candidates to be compared with, token by token.  KLD is
KL(reference ‖ candidate) per predicted token, as llama.cpp's perplexity
tool reports it; "same top" is how often both put the same token first.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from copilot.core.errors import CopilotError

GEN_TOKENS = 64  # generated to time generation speed


class EvalError(CopilotError):
    """An evaluation that cannot run; the message says why."""


@dataclass(frozen=True)
class Measured:
    """One model's figures."""

    path: Path
    type: str
    bytes: int
    ppl: float
    kld: float  # mean KL(reference ‖ this), nats per token; 0 for the reference itself
    kld_p99: float
    same_top: float  # share of tokens whose most likely next token is the reference's
    prompt_tps: float
    gen_tps: float
    peak_rss: int  # bytes


def index_text(manifest: Path, chars: int) -> str:
    """Passages of the firm's indexed documents, spread evenly over all of them."""
    if not manifest.is_file():
        raise EvalError(f"no index at {manifest.parent}: index documents first, or give --text")
    db = sqlite3.connect(f"file:{manifest}?mode=ro", uri=True)
    try:
        rows = [r[0] for r in db.execute(
            "SELECT p.text FROM passages p JOIN documents d ON d.path = p.path AND d.sha256 = p.sha256"
            " WHERE d.status = 'indexed' ORDER BY p.path, p.chunk")]
    finally:
        db.close()
    if not rows:
        raise EvalError("the index holds no passages: index documents first, or give --text")
    total = sum(len(r) for r in rows)
    step = max(1, int(total / chars))  # every step-th passage, so every document has its say
    picked, size = [], 0
    for text in rows[::step] + rows:
        if size >= chars:
            break
        picked.append(text)
        size += len(text)
    return "\n\n".join(picked)


def tokens_of(model: Path, text: str, n: int) -> list[int]:
    """`text` in `model`'s vocabulary, at most `n` tokens (vocab only: no weights loaded)."""
    from llama_cpp import Llama

    from copilot.llama.runtime import quiet_llama

    quiet_llama()
    vocab = Llama(model_path=str(model), vocab_only=True, verbose=False)
    tokens = vocab.tokenize(text.encode("utf-8"), add_bos=True, special=False)
    if len(tokens) < 64:
        raise EvalError(f"only {len(tokens)} tokens of text to judge by: give more text")
    return tokens[:n]


def evaluate(reference: Path, candidates: list[Path], tokens: list[int], window: int = 512,
             progress=None, context: int = 4096, gpu_layers: int = 0) -> list[Measured]:
    """Measure the reference, then each candidate against it (reference first in the list).

    Speed and peak RSS are taken as the app would run the model: its threads,
    a `context`-token window, `gpu_layers` on the GPU, one prompt of `window`
    tokens, then generation.
    """
    with tempfile.TemporaryDirectory(prefix="copilot-quant-eval-") as tmp:
        work = Path(tmp)
        (work / "tokens.json").write_text(json.dumps(tokens))
        results = []
        for i, model in enumerate([reference, *candidates]):
            if progress:
                progress(f"measuring {model.name} ({i + 1} of {len(candidates) + 1})")
            results.append(_child(model, work, window, i == 0, context, gpu_layers))
        return results


def recommend(results: list[Measured], max_kld: float, max_ram: int | None) -> tuple[Measured | None, str]:
    """The smallest model whose mean KLD is under `max_kld` and whose peak RSS fits `max_ram`."""
    fits = [m for m in results if m.kld < max_kld and (max_ram is None or m.peak_rss <= max_ram)]
    if not fits:
        why = f"none has a mean KLD under {max_kld}" + (f" within {max_ram / 2**30:.1f} GiB" if max_ram else "")
        return None, why
    best = min(fits, key=lambda m: m.bytes)
    return best, (f"{best.path.name}: the smallest with mean KLD {best.kld:.4f} < {max_kld}"
                  + (f" and peak RSS {best.peak_rss / 2**30:.2f} GiB within {max_ram / 2**30:.1f} GiB"
                     if max_ram else ""))


def _child(model: Path, work: Path, window: int, reference: bool, context: int, gpu_layers: int) -> Measured:
    """Run `_measure` in a fresh process; its peak RSS is this model's alone."""
    from copilot.core import offline

    log, fail = offline.settings()  # the child guards itself as this process does
    args = [sys.executable, "-m", "quantize.evaluate", str(model), str(work), str(window),
            "ref" if reference else "cand", str(context), str(gpu_layers), str(log or ""),
            "fail" if fail else "refuse"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise EvalError(f"measuring {model.name} failed: {(err.strip().splitlines() or ['?'])[-1]}")
    data = json.loads(out.strip().splitlines()[-1])
    data["path"] = Path(data["path"])
    return Measured(**data)


def _measure(model: Path, work: Path, window: int, reference: bool, context: int, gpu_layers: int) -> dict:
    """This process's figures for `model` (run by `_child`): speed and memory first, as the
    app would use it, then quality (whose all-token logits would inflate both)."""
    from quantize.quantizer import file_type

    tokens = json.loads((work / "tokens.json").read_text())
    prompt_tps, gen_tps = _speed(model, tokens[:window], context, gpu_layers)
    peak_rss = _peak_rss()
    return {"path": str(model), "type": file_type(model), "bytes": model.stat().st_size,
            **_quality(model, work, tokens, window, reference, gpu_layers),
            "prompt_tps": prompt_tps, "gen_tps": gen_tps, "peak_rss": peak_rss}


def _peak_rss() -> int:
    """This process's peak resident memory, in bytes.

    VmHWM, where Linux has it: getrusage's ru_maxrss survives exec, so a child
    started by a big parent would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _speed(model: Path, prompt: list[int], context: int, gpu_layers: int) -> tuple[float, float]:
    """Prompt and generation tokens/s with the app's settings (its threads and context window)."""
    import time

    from copilot.llama.runtime import default_threads, load_llama

    llm = load_llama(model, n_ctx=context, n_threads=default_threads(), n_gpu_layers=gpu_layers)
    began = time.perf_counter()
    llm.eval(prompt)
    prompt_tps = len(prompt) / (time.perf_counter() - began)
    made, began = 0, time.perf_counter()
    for _token in llm.generate(prompt, temp=0.0):  # the prompt is cached: generation starts at once
        made += 1
        if made == 1:
            began = time.perf_counter()
        if made > GEN_TOKENS:
            break
    gen_s = time.perf_counter() - began
    llm.close()
    return prompt_tps, (made - 1) / gen_s if made > 1 and gen_s > 0 else 0.0


def _quality(model: Path, work: Path, tokens: list[int], window: int, reference: bool, gpu_layers: int) -> dict:
    """Perplexity, and KLD and same-top against the reference's log-probabilities on disk."""
    import numpy as np
    from copilot.llama.runtime import default_threads, load_llama

    llm = load_llama(model, n_ctx=window, logits_all=True, n_threads=default_threads(), n_gpu_layers=gpu_layers)
    n_rows = sum(len(tokens[i:i + window]) - 1 for i in range(0, len(tokens), window))
    vocab = llm.n_vocab()
    ref = np.lib.format.open_memmap(work / "reference.npy", mode="w+" if reference else "r",
                                    dtype=np.float16, shape=(n_rows, vocab))
    nll, kld, same, row = [], [], 0, 0
    for start in range(0, len(tokens), window):
        chunk = tokens[start:start + window]
        if len(chunk) < 2:
            continue
        llm.reset()
        llm.eval(chunk)
        logits = np.asarray(llm.scores[: len(chunk) - 1], dtype=np.float32)
        logp = logits - logits.max(axis=1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
        nll.extend(-logp[np.arange(len(chunk) - 1), chunk[1:]])
        rows = slice(row, row + len(chunk) - 1)
        if reference:
            ref[rows] = logp
        else:
            base = np.asarray(ref[rows], dtype=np.float32)
            kld.extend((np.exp(base) * (base - logp)).sum(axis=1))
            same += int((base.argmax(axis=1) == logp.argmax(axis=1)).sum())
        row += len(chunk) - 1
    ref.flush()
    llm.close()
    kld_arr = np.asarray(kld or [0.0])
    return {"ppl": float(np.exp(np.mean(nll))), "kld": float(kld_arr.mean()),
            "kld_p99": float(np.percentile(kld_arr, 99)),
            "same_top": 1.0 if reference else same / max(row, 1)}


if __name__ == "__main__":  # the measuring process (see `_child`)
    from copilot.core import offline

    path, folder, size, role, context, gpu_layers, log, guard = sys.argv[1:9]
    offline.install(Path(log) if log else None, fail=guard == "fail")
    print(json.dumps(_measure(Path(path), Path(folder), int(size), role == "ref", int(context), int(gpu_layers))))
