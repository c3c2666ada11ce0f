"""OCR benchmark: real contract pages scanned, read back, and answered from.

1. Reading.  A fixed random sample of pages of the shared CUAD contracts
   (pages with at least 100 characters of text), each rendered at 200 dpi
   into an image-only PDF, and a degraded copy of each (150 dpi, skewed 1-2°
   either way, Gaussian noise, JPEG quality 40), read through the product's
   own loader (scan detection, rendering, OCR).  Character error rate
   against the page's own text layer as the product reads it, whitespace
   normalized (Levenshtein distance / reference length); pages per second
   (the loader's wall time, every core this machine has); peak RSS of this
   process (it loads nothing heavier than the reader until part 2).
2. Answering.  Scanned copies (200 dpi, clean) of a fixed random sample of
   contracts are indexed instead of the originals, and their CUAD questions
   asked over each index with `copilot eval`'s own code: evidence hit@5 (and
   the other measures) for the scans beside the text-layer originals.
3. A long scan.  A 300-page image-only PDF (CUAD pages at 200 dpi) indexed
   by the real `copilot index` in a child process into a fresh index: wall
   time, pages/s and the child's peak RSS, which must not grow with the
   length of the scan.  The peak is the child's own VmHWM, read from /proc
   while it runs: wait4's maximum counts this process's memory too, as it
   was when the child was forked (4.5 GB once a model was loaded here).

    .venv/bin/python bench/bench_ocr.py
    .venv/bin/python bench/bench_ocr.py --pages 8 --contracts 0 --long 0   # a quick look at reading only
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CUAD = ROOT.parent / "shared" / "eval" / "cuad"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from report import record  # noqa: E402

SEED = 17
RULE = re.compile(r"[_\-=.*~]{3,}")  # three or more in a row: a line drawn with characters
DPI, LOW_DPI = 200, 150


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one row of the table at a time in numpy (a page is ~3,000 characters)."""
    import numpy as np

    if not a or not b:
        return len(a) + len(b)
    codes = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    steps = np.arange(len(b) + 1)
    row = steps.copy()
    for i, char in enumerate(a, 1):
        best = np.empty(len(b) + 1, dtype=np.int64)
        best[0] = i
        best[1:] = np.minimum(row[1:] + 1, row[:-1] + (codes != ord(char)))  # deletion, substitution
        row = np.minimum.accumulate(best - steps) + steps  # insertions, along the row
    return int(row[-1])


def cer(reference: str, read: str, rules: bool = True) -> float:
    """Character error rate of `read` against `reference`, whitespace normalized; without
    `rules`, runs of rule characters ("_____" blanks to fill in, "-----" rules) are left out
    of both: a text layer types them, a scan draws them as lines OCR rightly does not read."""
    if not rules:
        reference, read = RULE.sub(" ", reference), RULE.sub(" ", read)
    reference, read = " ".join(reference.split()), " ".join(read.split())
    return edit_distance(reference, read) / max(len(reference), 1)


def sample_pages(count: int) -> list[tuple[Path, int]]:
    """(contract, page number) for `count` pages with text, drawn by a fixed seed."""
    import pypdfium2 as pdfium

    pdfs = sorted((CUAD / "pdfs").iterdir())
    rng, chosen = random.Random(SEED), []
    while len(chosen) < count:
        pdf = rng.choice(pdfs)
        doc = pdfium.PdfDocument(pdf)
        number = rng.randrange(len(doc)) + 1
        text = doc[number - 1].get_textpage().get_text_bounded()
        if len(text.strip()) >= 100 and (pdf, number) not in chosen:
            chosen.append((pdf, number))
        doc.close()
    return chosen


def degrade(image, rng: random.Random):
    """A poorer scan of `image`: 150 dpi, skewed, noisy, saved as a low-quality JPEG."""
    import numpy as np
    from PIL import Image

    image = image.convert("L")
    image = image.resize((image.width * LOW_DPI // DPI, image.height * LOW_DPI // DPI), Image.LANCZOS)
    image = image.rotate(rng.uniform(1, 2) * rng.choice((-1, 1)), Image.BICUBIC, expand=True, fillcolor=255)
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 12, (image.height, image.width))
    image = Image.fromarray(np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=40)
    return Image.open(io.BytesIO(buffer.getvalue()))


def scanned_pdf(images: list, dpi: int, path: Path) -> Path:
    """An image-only PDF of `images` at `dpi`, as a scanner writes one."""
    first, *rest = [im if im.mode in ("L", "RGB") else im.convert("RGB") for im in images]
    first.save(path, "PDF", resolution=dpi, save_all=True, append_images=rest)
    return path


def render(pdf: Path, numbers: list[int] | None = None) -> list:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    numbers = numbers or list(range(1, len(doc) + 1))
    images = [doc[n - 1].render(scale=DPI / 72, grayscale=True).to_pil() for n in numbers]
    doc.close()
    return images


def reading(count: int, work: Path) -> tuple[list[tuple[str, ...]], dict]:
    """Part 1: CER, pages/s and peak RSS, clean and degraded."""
    from index import loaders

    rng = random.Random(SEED)
    results: dict[str, list[dict]] = {"clean": [], "degraded": []}
    seconds = {"clean": 0.0, "degraded": 0.0}
    for i, (pdf, number) in enumerate(sample_pages(count)):
        reference = next(p.text for p in loaders.load(pdf).pages if p.number == number)
        image = render(pdf, [number])[0]
        for kind, scan in (("clean", scanned_pdf([image], DPI, work / f"{i}-clean.pdf")),
                           ("degraded", scanned_pdf([degrade(image, rng)], LOW_DPI, work / f"{i}-degraded.pdf"))):
            started = time.perf_counter()
            doc = loaders.load(scan)
            seconds[kind] += time.perf_counter() - started
            read = "\n".join(p.text for p in doc.pages)
            assert all(p.ocr for p in doc.pages)
            results[kind].append({"contract": pdf.name, "page": number, "cer": cer(reference, read),
                                  "cer_no_rules": cer(reference, read, rules=False)})
        print(f"page {i + 1}/{count}: {pdf.name[:40]} p{number} clean {results['clean'][-1]['cer']:.4f} "
              f"degraded {results['degraded'][-1]['cer']:.4f}", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = []
    for kind, target in (("clean", 0.02), ("degraded", 0.05)):
        errors = sorted(r["cer"] for r in results[kind])
        mean = sum(errors) / len(errors)
        no_rules = sum(r["cer_no_rules"] for r in results[kind]) / len(errors)
        rows += [
            (f"{kind}: CER mean (target <= {target:.0%})", f"{mean:.4f}", "reached" if mean <= target else "NOT reached"),
            (f"{kind}: CER median / worst", f"{errors[len(errors) // 2]:.4f} / {errors[-1]:.4f}", ""),
            (f"{kind}: CER mean, rules typed as ___ / --- left out", f"{no_rules:.4f}", ""),
            (f"{kind}: pages/s", f"{len(errors) / seconds[kind]:.2f}", ""),
        ]
    rows.append(("peak RSS, reading (MiB)", f"{rss:.0f}", ""))
    return rows, {"pages": results, "seconds": seconds, "peak_rss_mib": rss}


def answering(count: int, work: Path, model: str | None) -> tuple[list[tuple[str, ...]], dict]:
    """Part 2: the questions on `count` contracts, over their text layer and over scans of them."""
    from copilot.core import config as config_mod
    from copilot.tools.eval import cuad

    questions = cuad.load(CUAD)
    contracts = random.Random(SEED).sample(sorted({q["doc"] for q in questions}), count)
    mine = [q for q in questions if q["doc"] in contracts]
    for kind in ("original", "scanned"):
        (work / kind / "pdfs").mkdir(parents=True)
        (work / kind / "qa.jsonl").write_text("".join(json.dumps(q) + "\n" for q in mine))
    pages = 0
    for doc in contracts:
        source = CUAD / doc
        shutil.copy(source, work / "original" / doc)  # a copy: the judge compares resolved paths
        images = render(source)
        pages += len(images)
        scanned_pdf(images, DPI, work / "scanned" / doc)
    config = config_mod.load(model=model)
    figures, indexing = {}, {}
    for kind in ("original", "scanned"):
        started = time.perf_counter()
        report = cuad.run(work / kind, config, work / f"{kind}-eval")
        figures[kind] = cuad.figures(report.data["per_question"])
        indexing[kind] = {**report.data["index"], "seconds_with_questions": time.perf_counter() - started}
        print(f"{kind}: {figures[kind]}", flush=True)
    rows = [(f"contracts / pages / questions", f"{count} / {pages} / {len(mine)}", "")]
    for measure in ("evidence hit@5", "answer accuracy (gold value)", "refusal on absent clauses",
                    "citation accuracy"):
        original, scanned = figures["original"][measure], figures["scanned"][measure]
        rows.append((f"{measure}: original / scanned", f"{original:.4f} / {scanned:.4f}",
                     f"{scanned - original:+.4f}"))
    gap = figures["original"]["evidence hit@5"] - figures["scanned"]["evidence hit@5"]
    rows.append(("hit@5 within 0.05 of the originals", f"{gap:+.4f} lower", "reached" if gap <= 0.05 else "NOT reached"))
    seconds = indexing["scanned"]["seconds"]
    rows.append(("indexing the scans: seconds (pages/s)", f"{seconds:.0f} ({pages / seconds:.2f})", ""))
    return rows, {"contracts": contracts, "figures": figures, "index": indexing, "model": config.model}


def long_scan(pages: int, work: Path) -> tuple[list[tuple[str, ...]], dict]:
    """Part 3: `copilot index` on one scan of `pages` pages: seconds, pages/s, peak RSS."""
    distinct = [image for pdf, number in sample_pages(10) for image in render(pdf, [number])]
    folder = work / "long"
    folder.mkdir()
    scanned_pdf([distinct[i % len(distinct)] for i in range(pages)], DPI, folder / "long-scan.pdf")
    from copilot.core import config as config_mod

    # A fresh index, but this machine's prepared models: the embedder's one-time export on
    # first use (torch, ~1.2 GB) is not what indexing a scan costs.
    env = {**os.environ, "COPILOT_HOME": str(work / "long-home"),
           "COPILOT_MODELS_HOME": str(config_mod.load().models_dir)}
    copilot = str(Path(sys.executable).with_name("copilot"))
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen([copilot, "index", str(folder), "--json"], env=env, stdout=out)
        peak = 0
        while child.poll() is None:
            peak = max(peak, _high_water(child.pid))
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        out.seek(0)
        summary = json.loads(out.read())
    assert child.returncode == 0 and summary["ocr_pages"] == pages, summary
    rss = peak / 1024
    rows = [(f"{pages}-page scan through `copilot index`: seconds (pages/s)",
             f"{seconds:.0f} ({pages / seconds:.2f})", ""),
            (f"{pages}-page scan: peak RSS of the run (MiB)", f"{rss:.0f}", "")]
    return rows, {"pages": pages, "seconds": seconds, "peak_rss_mib": rss, "summary": summary}


def _high_water(pid: int) -> int:
    """A running process's peak RSS so far (VmHWM), in KiB; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=30, help="pages read for the error rate")
    ap.add_argument("--contracts", type=int, default=10, help="contracts answered from as scans (0: skip)")
    ap.add_argument("--long", type=int, default=300, help="pages of the long scan indexed (0: skip)")
    ap.add_argument("--model", help="packaged model name or GGUF path (default: the configured one)")
    args = ap.parse_args()
    rows, raw = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        work = Path(tmp)
        if args.pages:
            rows, raw["reading"] = reading(args.pages, work)
        if args.contracts:
            more, raw["answering"] = answering(args.contracts, work / "answering", args.model)
            rows += more
        if args.long:
            more, raw["long"] = long_scan(args.long, work)
            rows += more
    parts = [f"Tesseract {_tesseract()}, {os.cpu_count()} cores"]
    if args.pages:
        parts.append(f"{args.pages} CUAD pages (seed {SEED}) as image-only PDFs, clean ({DPI} dpi) and degraded "
                     f"({LOW_DPI} dpi, 1-2° skew, noise sd 12, JPEG q40), read by the product's loader; CER "
                     f"against the text layer, whitespace normalized")
    if args.contracts:
        parts.append(f"{args.contracts} contracts' CUAD questions over their scans vs. their text layer "
                     f"(model {raw['answering']['model']})")
    if args.long:
        parts.append(f"a {args.long}-page scan indexed by `copilot index` in a child process")
    note = "; ".join(parts) + "."
    record(__file__, rows, note, raw, headers=("measure", "value", "target / change"))


def _tesseract() -> str:
    import tesserocr

    return tesserocr.tesseract_version().split()[1]


if __name__ == "__main__":
    main()
