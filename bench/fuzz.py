"""Fuzzing survey: thousands of damaged files and hostile questions, fresh each run.

tests/unit/test_fuzz.py holds the same properties with a fixed set of examples so
CI stays repeatable; this script draws new ones and reports what happened to
each kind of input: read, skipped (with which reasons), or an error that
escaped (none should).  A reason of the form "could not be read: KeyError..."
means a loader failed in a way it does not name; those are listed too.

    .venv/bin/python bench/fuzz.py                       # 2,000 files, 400 questions, 12 MB huge files
    .venv/bin/python bench/fuzz.py --files 200 --questions 50 --huge-mb 0
"""

from __future__ import annotations

import argparse
import collections
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from report import record  # noqa: E402

SURVEY = settings(database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))


def files(n: int) -> dict:
    """Load `n` damaged files in this process; tally outcomes per format."""
    from fuzzing import damaged_files, printable_ok

    from copilot.core.errors import SkipFile
    from index import loaders

    seen = collections.defaultdict(collections.Counter)
    reasons, unnamed, escaped, slowest = collections.Counter(), collections.Counter(), [], (0.0, "")

    @settings(SURVEY, max_examples=n)
    @given(damaged_files())
    def one(damaged) -> None:
        nonlocal slowest
        name, data, injuries = damaged
        suffix = Path(name).suffix
        started = time.perf_counter()
        try:
            doc = loaders.load_source(data, suffix)
            clean = all(printable_ok(p.text) and printable_ok(p.heading) for p in doc.pages)
            seen[suffix]["read" if clean else "read, NOT CLEAN"] += 1
        except SkipFile as exc:
            reason = str(exc)
            seen[suffix]["skipped"] += 1
            reasons[reason.split(":")[0]] += 1
            if reason.startswith("could not be read"):
                unnamed[reason[:90]] += 1
        except BaseException as exc:  # what the properties forbid: recorded, never raised
            seen[suffix]["ESCAPED"] += 1
            escaped.append(f"{name} {injuries}: {type(exc).__name__}: {exc}"[:200])
        took = time.perf_counter() - started
        if took > slowest[0]:
            slowest = (took, f"{name} {' '.join(injuries)}")

    one()
    return {"by_format": {k: dict(v) for k, v in seen.items()}, "reasons": dict(reasons.most_common()),
            "unnamed": dict(unnamed.most_common()), "escaped": escaped, "slowest": slowest}


def questions(n: int) -> dict:
    """Ask `n` hostile questions of the real retrieval stack (a scripted model answers)."""
    from fakes import ScriptedGenerator
    from fuzzing import printable_ok, questions as hostile

    from copilot.core.config import Config
    from copilot.core.errors import BadQuestion, QuestionTooLong
    from copilot.engine.audit import AuditLog
    from copilot.engine.local import Copilot
    from copilot.llama.models import PACKAGED, packaged_model_path

    home = Path(tempfile.mkdtemp(prefix="fuzz-"))
    engine = Copilot(Config(home=home, model=str(packaged_model_path(PACKAGED["smollm2-135m"], home))))
    engine.index([ROOT / "examples"])
    engine._parts["generator"] = ScriptedGenerator("Client matter files are kept for seven years [1].")
    outcome, escaped, slowest = collections.Counter(), [], 0.0

    @settings(SURVEY, max_examples=n)
    @given(hostile())
    def one(text: str) -> None:
        nonlocal slowest
        started = time.perf_counter()
        try:
            answer = engine.ask(text, engine.local_reader())
            clean = printable_ok(answer.text) and printable_ok(answer.question)
            outcome[("answered" if answer.found else "not found") + ("" if clean else ", NOT CLEAN")] += 1
        except QuestionTooLong:
            outcome["refused: too long"] += 1
        except BadQuestion:
            outcome["refused: empty"] += 1
        except BaseException as exc:
            outcome["ESCAPED"] += 1
            escaped.append(f"{text[:60]!r}: {type(exc).__name__}: {exc}"[:200])
        slowest = max(slowest, time.perf_counter() - started)

    one()
    count, broken = AuditLog(engine.config.audit_file).verify()
    return {"outcomes": dict(outcome), "escaped": escaped, "slowest": slowest,
            "audit": f"{count} records, " + ("chain intact" if broken is None else f"BROKEN at {broken}")}


def huge(mb: int) -> list[tuple[str, str]]:
    """Index, each in a fresh home and a child process, files far larger than documents are:
    `mb` MB of text with no sentence end, the same of random bytes named .txt, and one `mb`
    MB "word".  Wall time and the child's peak RSS (bench_index.index)."""
    import random

    from bench_index import index

    work = Path(tempfile.mkdtemp(prefix="fuzz-huge-"))
    models = work / "models"  # shared, and warmed first: exporting the embedder is not indexing
    (work / "warm").mkdir()
    (work / "warm" / "a.txt").write_text("A short document to prepare the embedder.")
    index(work / "home-warm", models, work / "warm")
    rnd = random.Random(1)
    words = "the client agreement shall terminate upon notice party confidential records".split()
    makers = {
        "unpunctuated.txt": lambda n: " ".join(rnd.choice(words) for _ in range(n // 7)).encode()[:n],
        "noise.txt": lambda n: rnd.randbytes(n),
        "one-word.txt": lambda n: b"x" * n,
    }
    rows = []
    for name, make in makers.items():
        folder = work / name.split(".")[0]
        folder.mkdir()
        (folder / name).write_bytes(make(mb << 20))
        summary, wall, rss = index(work / f"home-{folder.name}", models, folder)
        what = (f"{summary['chunks']:,} chunks" if summary["indexed"] else
                "skipped: " + "; ".join(s["reason"] for s in summary["skipped"])[:60])
        rows.append((f"{mb} MB {name}", f"{what}; {wall:.1f} s, peak RSS {rss:.0f} MiB"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--huge-mb", type=int, default=12, help="size of each huge file (0: none)")
    args = parser.parse_args()
    started = time.perf_counter()
    # Huge files first: a child's peak RSS counts from the parent's size at fork.
    big = huge(args.huge_mb) if args.huge_mb else []
    f, q = files(args.files), questions(args.questions)
    rows = [("damaged files tried", f"{args.files:,}")]
    rows += [(f"  {fmt}", ", ".join(f"{k} {v}" for k, v in sorted(c.items()))) for fmt, c in sorted(f["by_format"].items())]
    rows += [("skip reasons", "; ".join(f"{k} ×{v}" for k, v in list(f["reasons"].items())[:8]))]
    rows += [("unnamed loader failures", "; ".join(f"{k} ×{v}" for k, v in f["unnamed"].items()) or "none")]
    rows += [("errors that escaped (files)", str(len(f["escaped"])))]
    rows += [("slowest file (s)", f"{f['slowest'][0]:.2f} ({f['slowest'][1][:60]})")]
    rows += [("hostile questions asked", f"{args.questions:,}")]
    rows += [("  outcomes", ", ".join(f"{k} {v}" for k, v in sorted(q["outcomes"].items())))]
    rows += [("errors that escaped (questions)", str(len(q["escaped"])))]
    rows += [("slowest question (s)", f"{q['slowest']:.2f}"), ("audit log after", q["audit"])]
    rows += big
    rows += [("peak RSS of the survey (MiB)", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"),
             ("wall time (s)", f"{time.perf_counter() - started:.0f}")]
    for line in f["escaped"] + q["escaped"]:
        print("ESCAPED:", line)
    record(__file__, rows, "fresh random examples (not the fixed ones CI uses)", {"files": f, "questions": q})


if __name__ == "__main__":
    main()
