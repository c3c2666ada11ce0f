"""The evaluation's table, and the text it is judged on when not the index's."""

from __future__ import annotations

from pathlib import Path

from quantize.evaluate import EvalError, Measured


def text_of(path: Path) -> str:
    """A file's or a folder's documents as text, read with the indexer's own loaders."""
    from index import loaders
    from index.indexer import walk

    parts = []
    for file, _ in walk([path]):
        if loaders.supported(file):
            try:
                parts += [p.text for p in loaders.load(file).pages]
            except Exception:  # an unreadable file adds nothing; the rest still counts
                continue
    if not parts:
        raise EvalError(f"no readable text in {path}")
    return "\n\n".join(parts)


def table(results: list[Measured]) -> str:
    """One row per model: size, PPL (and its ratio to the reference's), KLD, agreement, speed, memory."""
    ref = results[0]
    head = ("model", "type", "MiB", "PPL", "PPL ratio", "KLD mean", "KLD p99", "same top",
            "prompt tok/s", "gen tok/s", "peak RSS MiB")
    rows = [head] + [(
        m.path.name, m.type, f"{m.bytes / 2**20:.1f}", f"{m.ppl:.3f}", f"{m.ppl / ref.ppl:.4f}",
        f"{m.kld:.5f}", f"{m.kld_p99:.5f}", f"{m.same_top:.3f}", f"{m.prompt_tps:.0f}",
        f"{m.gen_tps:.1f}", f"{m.peak_rss / 2**20:.0f}",
    ) for m in results]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
