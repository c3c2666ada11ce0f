"""`copilot quantize` on the default model family: sizes, KLD, PPL ratio, speed, and the time each step takes.

No higher-precision Qwen2.5-Coder-0.5B than the shipped Q4_K_M exists on this
machine, so:
  quality     - the shipped Q4_K_M is the reference; each quant is made from it
                (requantized, --allow-requantize), with and without an importance
                matrix, and judged on CUAD contracts the matrix never saw;
  conversion  - timed on a model built here with the default model's layers
                (24 x 896, FFN 4864, 14 heads, 2 KV heads, bf16 safetensors as
                published) and a small vocabulary: the conversion of a real
                0.5B folder, minus most of its embedding table;
  quantization from full precision - timed from that conversion's F16 file.

    .venv/bin/python bench/bench_quantize.py
    .venv/bin/python bench/bench_quantize.py --tokens 4096 --imatrix-pdfs 12
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

from copilot.core import config as config_mod  # noqa: E402
from copilot.llama.models import resolve_llm  # noqa: E402
from quantize.convert import convert  # noqa: E402
from quantize.evaluate import evaluate, tokens_of  # noqa: E402
from quantize.imatrix import collect  # noqa: E402
from quantize.quantizer import quantize  # noqa: E402
from quantize.table import table  # noqa: E402
from report import record  # noqa: E402

PDFS = ROOT.parent / "shared" / "eval" / "cuad" / "pdfs"
QUALITY = [("Q8_0", False), ("Q6_K", False), ("Q5_K_M", False), ("Q4_K_M", False), ("Q4_K_M", True),
           ("Q4_0", False), ("Q4_0", True), ("IQ4_XS", True)]
FROM_F16 = ["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0"]
SHAPE = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
             num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1000000.0)


def text(pdfs: list[Path]) -> str:
    from quantize.table import text_of

    return "\n\n".join(text_of(p) for p in pdfs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b", help="Packaged model (the reference).")
    ap.add_argument("--tokens", type=int, default=4096, help="Held-out tokens to judge on.")
    ap.add_argument("--imatrix-tokens", type=int, default=4096)
    ap.add_argument("--imatrix-pdfs", type=int, default=10, help="Contracts the matrix is collected from.")
    args = ap.parse_args()

    config = config_mod.load()
    reference = resolve_llm(args.model, config.models_dir)
    pdfs = sorted(PDFS.glob("*.[pP][dD][fF]"))
    train, held_out = pdfs[: args.imatrix_pdfs], pdfs[args.imatrix_pdfs:]
    ids = tokens_of(reference, text(held_out[:: max(1, len(held_out) // 8)]), args.tokens)
    steps: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-quantize-") as tmp:
        work = Path(tmp)
        began = time.perf_counter()
        found = collect(reference, tokens_of(reference, text(train), args.imatrix_tokens))
        steps["importance matrix"] = time.perf_counter() - began
        matrix = found.means()
        quants = []
        for qtype, weighted in QUALITY:
            name = f"{qtype}{'-imatrix' if weighted else ''}"
            done = quantize(reference, work / f"{args.model}.{name}.gguf", qtype, allow_requantize=True,
                            imatrix=matrix if weighted else None)
            steps[f"requantize {name}"] = done.seconds
            quants.append(done.path)
            print(f"{name}: {done.bytes / 2**20:.1f} MiB in {done.seconds:.1f} s", file=sys.stderr)
        results = evaluate(reference, quants, ids, 512, lambda s: print(s, file=sys.stderr),
                           config.context_window)
        for path in quants:
            path.unlink()

        import tiny_hf

        began = time.perf_counter()
        folder = tiny_hf.model(work / "hf", "qwen2", dtype="bfloat16", **SHAPE)
        built = time.perf_counter() - began
        converted = convert(folder, work / "shaped.F16.gguf", "f16")
        steps["convert (bf16 safetensors -> F16 GGUF)"] = converted.seconds
        for qtype in FROM_F16:
            done = quantize(converted.path, work / f"shaped.{qtype}.gguf", qtype)
            steps[f"quantize F16 -> {qtype}"] = done.seconds
            done.path.unlink()
        source_mib = sum(f.stat().st_size for f in folder.glob("*.safetensors")) / 2**20
        converted_mib = converted.bytes / 2**20

    ref = results[0]
    rows = []
    for m in results:
        label = m.path.name.removesuffix(".gguf").removeprefix(f"{args.model}.")
        rows.append((f"{label}: MiB / KLD / PPL ratio / same top / tok/s prompt, gen / RSS MiB",
                     f"{m.bytes / 2**20:.1f} / {m.kld:.4f} / {m.ppl / ref.ppl:.4f} / {m.same_top:.3f} / "
                     f"{m.prompt_tps:.0f}, {m.gen_tps:.1f} / {m.peak_rss / 2**20:.0f}"))
    for step, seconds in steps.items():
        rows.append((f"{step} (s)", f"{seconds:.1f}"))
    rows.append(("shaped model: bf16 safetensors MiB -> F16 GGUF MiB",
                 f"{source_mib:.0f} -> {converted_mib:.0f} ({converted.tensors} tensors; built in {built:.0f} s)"))
    print(table(results), file=sys.stderr)
    record(__file__, rows,
           f"reference: the shipped {reference.name} (no higher precision exists here); quants "
           f"requantized from it; importance matrix from {len(train)} CUAD contracts "
           f"({found.tokens} tokens), judged on {args.tokens} tokens of {len(held_out[:: max(1, len(held_out) // 8)])} "
           "other contracts; conversion and F16 quantization timed on a model with the default model's "
           "layers and a 400-token vocabulary.",
           {"results": [m.__dict__ for m in results], "steps": steps})


if __name__ == "__main__":
    main()
