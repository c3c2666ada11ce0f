"""A review through `copilot serve` while another person asks single questions: does the review starve them?

Everything real, on loopback: `chroma run` holds the index (shared CUAD contracts), one
`python -m llama_cpp.server` serves the model (one slot, as `copilot serve` runs by default),
the gateway answers on two Unix sockets, one per person (the reviewer and the asker: the fair
queue tells people apart; who they are is not what is measured here).  In the same run:

    1. the asker alone: N single questions, one after another (latency p50 / p95);
    2. the reviewer's review (contracts × fields, each cell asked on the server in the fair queue)
       with the asker asking the same N questions while it runs;
    3. the same review through the local engine (the model in this process), for its cells a minute.

    .venv/bin/python bench/bench_serve_review.py                      # 6 contracts × 8 fields, 8 questions
    .venv/bin/python bench/bench_serve_review.py --contracts 2 --questions 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_serve import BIN, CUAD, ask_all, free_port, model_servers, stop, wait_for  # noqa: E402
from report import percentile, record  # noqa: E402

from copilot.core.config import Config  # noqa: E402
from copilot.core.walls import Reader, Walls  # noqa: E402
from copilot.engine.access import Person  # noqa: E402
from copilot.engine.local import Copilot  # noqa: E402
from copilot.engine.remote import RemoteEngine  # noqa: E402
from copilot.llama.models import resolve_llm  # noqa: E402
from copilot.review.desk import open_review, scope_for  # noqa: E402
from copilot.server.gateway import Gateway, UnixServer  # noqa: E402


class PersonServer(UnixServer):
    """A socket whose every connection is `user` (two people on one test account)."""

    def __init__(self, path: Path, gateway: Gateway, user: str):
        self.user = user
        super().__init__(path, gateway)

    def peer(self, conn) -> Person:
        return Person(self.user, frozenset())


def review_run(engine, folder: Path, scope: dict, fields: list[str], name: str) -> dict:
    review = open_review(engine, folder, engine.local_reader(), name, scope, fields)
    times: list[float] = []
    started = time.monotonic()
    try:
        done = review.run(lambda _cell, p: times.append(time.monotonic() - started) if p.asked else None)
    finally:
        review.close()
    wall = time.monotonic() - started
    return {"cells": done.asked, "wall": wall, "per_min": done.asked / wall * 60 if wall else 0.0,
            "cell_times": times}


def asked(engine, questions: list[str], pause: float) -> list[dict]:
    """The questions one after another, a seeded pause of 0 to `pause` seconds before each."""
    import random

    rng, out = random.Random(43), []
    for q in questions:
        time.sleep(rng.uniform(0, pause))
        out.extend(ask_all(engine, [q]))
    return out


def summary(outcomes: list[dict]) -> tuple[float, float]:
    seconds = [o["seconds"] for o in outcomes if o["ok"]]
    return statistics.median(seconds), percentile(seconds, 0.95)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contracts", type=int, default=6)
    ap.add_argument("--fields", type=int, default=8, help="the review's columns: CUAD's field names, as a reviewer types them")
    ap.add_argument("--questions", type=int, default=8, help="single questions the asker asks, alone and beside the review")
    ap.add_argument("--model", default=Config.model)
    ap.add_argument("--no-local", action="store_true", help="leave out the local review")
    ap.add_argument("--pause", type=float, default=0.0,
                    help="the asker thinks between questions: a pause drawn from 0 to this many seconds "
                         "(seeded); 0 asks back to back, each question arriving as the next cell starts")
    args = ap.parse_args()

    rows = [json.loads(line) for line in (CUAD / "qa.jsonl").open()]
    docs = sorted({r["doc"] for r in rows})[: args.contracts]
    fields = list(dict.fromkeys(r["type"] for r in rows))[: args.fields]
    pool = [r["question"] for r in rows if r["doc"] in docs][: args.questions]
    work = Path(tempfile.mkdtemp(prefix="bench-serve-review-"))
    (work / "docs").mkdir()
    for d in docs:
        shutil.copy(CUAD / d, work / "docs")
    models_home = str(Path(os.environ.get("COPILOT_MODELS_HOME", work / "models")))
    model = resolve_llm(args.model, Path(models_home))
    chroma_port = free_port()
    chroma = subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(work / "chroma"), "--host", "127.0.0.1",
                               "--port", str(chroma_port)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    results: dict = {"docs": docs, "fields": fields, "questions": pool}
    scope = scope_for([work / "docs"], None)
    try:
        wait_for(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat")
        base = Config(home=work / "home", model=str(model), models_home=models_home,
                      chroma_url=f"http://127.0.0.1:{chroma_port}")
        started = time.monotonic()
        print(f"indexed {Copilot(base).index([work / 'docs']).line()} in {time.monotonic() - started:.0f} s",
              file=sys.stderr)
        processes, urls = model_servers(model, 1, base.context_window)
        try:
            config = base.replace(model_endpoints=",".join(urls))
            gateway = Gateway(Copilot(config), config, log=open(os.devnull, "w"),
                              reader_of=lambda person: Reader(person.user, Walls.everything()))
            gateway.engine.load_models()
            for user in ("reviewer", "asker"):
                gateway.servers.append(PersonServer(work / f"{user}.sock", gateway, user))
            threading.Thread(target=gateway.serve_forever, daemon=True).start()
            reviewer, asker = (RemoteEngine(base.replace(server=f"unix:{work / f'{u}.sock'}"))
                               for u in ("reviewer", "asker"))
            ask_all(asker, pool[:1])  # warm: the model server's first prompt is not a figure
            alone = asked(asker, pool, args.pause)
            results["alone"] = alone
            print(f"asker alone: {summary(alone)}", file=sys.stderr)
            served: dict = {}
            running = threading.Thread(target=lambda: served.update(
                review_run(reviewer, work / "unused", scope, fields, "served")))
            running.start()
            time.sleep(2.0)  # the review holds the model before the first question comes
            beside = asked(asker, pool, args.pause)
            running.join()
            results["beside"], results["served"] = beside, served
            print(f"asker beside the review: {summary(beside)}; review {served['per_min']:.1f} cells/min",
                  file=sys.stderr)
            gateway.shutdown()
        finally:
            stop(processes)
        if not args.no_local:
            local = Copilot(base)
            local.load_models()
            results["local"] = review_run(local, work / "local-reviews", scope, fields, "local")
            print(f"local review: {results['local']['per_min']:.1f} cells/min", file=sys.stderr)
    finally:
        stop([chroma])
        shutil.rmtree(work, ignore_errors=True)

    a50, a95 = summary(results["alone"])
    b50, b95 = summary(results["beside"])
    served = results["served"]
    table = [
        ("single question, nothing else running: p50 / p95 (s)", f"{a50:.2f} / {a95:.2f}"),
        ("single question beside the review: p50 / p95 (s)", f"{b50:.2f} / {b95:.2f}"),
        ("beside / alone: p50 / p95 (target ≤ 1.5×)", f"{b50 / a50:.2f}× / {b95 / a95:.2f}×"),
        ("single questions answered beside the review", f"{sum(o['ok'] for o in results['beside'])} of {len(pool)}"),
        ("review through the server: cells, minutes, cells a minute",
         f"{served['cells']}, {served['wall'] / 60:.1f}, {served['per_min']:.1f}"),
    ]
    if "local" in results:
        local = results["local"]
        table.append(("review on the local engine: cells, minutes, cells a minute",
                      f"{local['cells']}, {local['wall'] / 60:.1f}, {local['per_min']:.1f}"))
        table.append(("served / local cells a minute (the served run shares the model with the asker)",
                      f"{served['per_min'] / local['per_min']:.2f}"))
    note = (f"{len(docs)} CUAD contracts × {len(fields)} fields ({', '.join(fields)}) in `chroma run`; model "
            f"{Path(model).name}, one `python -m llama_cpp.server` (one slot); the reviewer and the asker are "
            f"two people on two Unix sockets of one `copilot serve` gateway; the asker asks {len(pool)} CUAD "
            "questions one after another, alone, then from 2 s into the review, "
            + (f"pausing 0–{args.pause:g} s (seeded) before each" if args.pause else
               "back to back (so each arrives as the review's next cell has just begun: the worst case)")
            + "; the local review is the same grid through the in-process engine.")
    record(__file__, table, note, results)


if __name__ == "__main__":
    main()
