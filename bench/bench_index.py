"""Indexing benchmark: the 70 CUAD contracts plus the hostile folder, as a share.

Runs the real `copilot index --json` in a child process on a fresh home and
measures, per run, wall time and the child's own peak RSS (os.wait4):

1. the first index (pages/s, chunks/s),
2. a no-change re-index (target: under 5 % of the first),
3. with --flat, half the PDFs and then all of them (no hostile files), to
   show peak memory does not grow with the corpus,
4. the embedding speed-up of the product's embedder over plain fp32
   sentence-transformers, on a sample of the very chunks just indexed, in
   the same run (each timed twice, alternating, best of two).

    .venv/bin/python bench/bench_index.py
    .venv/bin/python bench/bench_index.py --pdfs 10 --sample 256   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from report import record  # noqa: E402

COPILOT = str(Path(sys.executable).with_name("copilot"))


def share(folder: Path, pdfs: int, hostile: bool) -> Path:
    """A folder of symlinks: the first `pdfs` CUAD contracts and the hostile files."""
    (folder / "cuad").mkdir(parents=True)
    for pdf in sorted((SHARED / "eval" / "cuad" / "pdfs").iterdir())[:pdfs]:
        os.symlink(pdf, folder / "cuad" / pdf.name)
    if hostile:  # file by file: the indexer does not follow symlinked folders
        (folder / "hostile").mkdir()
        for file in (SHARED / "corpus" / "hostile").iterdir():
            if file.name != "manifest.json":
                os.symlink(file, folder / "hostile" / file.name)
    return folder


def index(home: Path, models: Path, folder: Path) -> tuple[dict, float, float]:
    """(summary, wall seconds, peak RSS MB) of one `copilot index` child."""
    env = {**os.environ, "COPILOT_HOME": str(home), "COPILOT_MODELS_HOME": str(models)}
    started = time.perf_counter()
    proc = subprocess.Popen([COPILOT, "index", "--json", str(folder)], stdout=subprocess.PIPE, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # 1: some files skipped, as expected
        raise SystemExit(f"copilot index failed with status {status}")
    return json.loads(out), wall, usage.ru_maxrss / 1024


def sample_texts(home: Path, n: int) -> list[str]:
    from index.store import ChromaStore

    got = ChromaStore(home / "index" / "chroma")._col.get(include=["documents", "metadatas"])
    texts = [f"{m['heading']}\n{d}" if m.get("heading") else d for d, m in zip(got["documents"], got["metadatas"])]
    return random.Random(7).sample(texts, min(n, len(texts)))


def speedup(texts: list[str], models: Path, batch: int) -> dict:
    """Chunks/s of plain fp32 sentence-transformers and of the product's embedder."""
    from copilot.llama.models import resolve_embedder
    from index.embedding import OnnxEmbedder, SentenceTransformerEmbedder

    folder = resolve_embedder("")
    ours = OnnxEmbedder(folder, models / "embedders", batch)
    plain = SentenceTransformerEmbedder(folder, batch)
    ours.embed(["warm up"]), plain.embed(["warm up"])
    best = {"plain": float("inf"), "ours": float("inf")}
    for _ in range(2):
        for name, emb in (("plain", plain), ("ours", ours)):
            started = time.perf_counter()
            emb.embed(texts)
            best[name] = min(best[name], time.perf_counter() - started)
    import numpy as np

    a, b = np.array(ours.embed(texts)), np.array(plain.embed(texts))
    cos = (a * b).sum(1)
    return {"plain_cps": len(texts) / best["plain"], "ours_cps": len(texts) / best["ours"],
            "cos_min": float(cos.min()), "cos_mean": float(cos.mean()),
            "batches": f"product {ours.batch_size}, sentence-transformers {plain.batch_size}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdfs", type=int, default=70)
    parser.add_argument("--no-hostile", action="store_true")
    parser.add_argument("--sample", type=int, default=1024, help="chunks for the embedder speed-up")
    parser.add_argument("--batch", type=int, default=0, help="0: each backend's default")
    parser.add_argument("--flat", action="store_true", help="also index half the PDFs, for peak RSS")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    models = work / "models"
    folder = share(work / "share", args.pdfs, not args.no_hostile)
    # Prepare the embedder once, outside any timing (a one-time export per machine).
    index(work / "warm", models, ROOT / "examples")

    first, wall, rss = index(work / "home", models, folder)
    again, wall2, rss2 = index(work / "home", models, folder)
    rows = [
        ("files", f"{first['files']} ({first['indexed']} indexed, {len(first['skipped'])} skipped)"),
        ("pages / chunks", f"{first['pages']} / {first['chunks']}"),
        ("first index wall time", f"{wall:.1f} s"),
        ("pages/s", f"{first['pages'] / wall:.1f}"),
        ("chunks/s", f"{first['chunks'] / wall:.1f}"),
        ("peak RSS (index child)", f"{rss:.0f} MB"),
        ("no-change re-index", f"{wall2:.2f} s ({100 * wall2 / wall:.1f}% of first; target < 5%)"),
        ("peak RSS (re-index child)", f"{rss2:.0f} MB"),
    ]
    raw = {"first": first, "again": again}
    if args.flat:  # the same kind of files, half and all: peak memory must not follow corpus size
        for n in (args.pdfs // 2, args.pdfs):
            _, _, peak = index(work / f"home-{n}", models, share(work / f"only-{n}", n, False))
            rows.append((f"peak RSS, {n} CUAD PDFs alone", f"{peak:.0f} MB"))
            raw[f"rss_{n}"] = peak
    texts = sample_texts(work / "home", args.sample)
    s = speedup(texts, models, args.batch)
    rows += [
        (f"embed fp32 sentence-transformers ({len(texts)} chunks)", f"{s['plain_cps']:.1f} chunks/s"),
        ("embed product (ONNX int8 per-channel, length-sorted)", f"{s['ours_cps']:.1f} chunks/s"),
        ("embedding speed-up", f"{s['ours_cps'] / s['plain_cps']:.2f}x"),
        ("cosine int8 vs fp32, mean / min", f"{s['cos_mean']:.4f} / {s['cos_min']:.4f}"),
    ]
    raw["speedup"] = s
    note = (f"{args.pdfs} CUAD PDFs{'' if args.no_hostile else ' + 29 hostile files'}, fresh home, "
            f"batches: {s['batches']}; embedder export done before timing.")
    record(__file__, rows, note, raw)


if __name__ == "__main__":
    main()
