"""`copilot serve` under load: 1, 4 and 8 clients at once over each kind of model server, and the local path.

Everything real, on loopback: `chroma run` holds the index (CUAD contracts),
one model server serves the model with every core (llama.cpp's llama-server
with 1 and with 4 slots, and llama-cpp-python's `llama_cpp.server`),
`copilot serve` answers on a Unix socket, and each client is a `RemoteEngine`
in its own thread asking CUAD questions about the indexed contracts, the
setting's questions split between them.  The same questions are then asked
through the local engine (the model in this process, one user) in the same
run, for comparison.  Prompt tokens evaluated per answer are the model
server's own count: llama-server's /metrics, llama_cpp.server's
"prompt eval time" lines.

    .venv/bin/python bench/bench_serve.py                       # 5 contracts, 24 questions per setting
    .venv/bin/python bench/bench_serve.py --clients 1,4 --questions 8 --servers llama-server:4
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import socket
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

import re  # noqa: E402

import httpx  # noqa: E402

from copilot.core.config import Config  # noqa: E402
from copilot.engine.local import Copilot  # noqa: E402
from copilot.llama.models import resolve_llm  # noqa: E402
from copilot.engine.remote import RemoteEngine  # noqa: E402
from copilot.llama.server import LLAMA_CPP_SERVER, LLAMA_SERVER, command  # noqa: E402
from copilot.server.gateway import Gateway  # noqa: E402
from report import percentile, record  # noqa: E402

CUAD = ROOT.parent / "shared" / "eval" / "cuad"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not come up")


def model_servers(model: Path, count: int, context: int, kind: str = LLAMA_CPP_SERVER, slots: int = 1,
                  log: Path | None = None) -> tuple[list[subprocess.Popen], list[str]]:
    """`count` model servers of `kind` sharing this machine's cores between them, `slots` each
    (their output to `log`, where given)."""
    threads = max(1, len(os.sched_getaffinity(0)) // count)
    processes, urls = [], []
    for _ in range(count):
        port = free_port()
        out = log.open("a") if log else subprocess.DEVNULL
        processes.append(subprocess.Popen(command(kind, model, port, slots=slots, context=context, threads=threads),
                                          stdout=out, stderr=subprocess.STDOUT))
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        wait_for(url + "/v1/models")
    return processes, urls


def evaluated(kind: str, url: str, log: Path) -> int | None:
    """Prompt tokens the model server has evaluated so far, by its own count."""
    if kind == LLAMA_SERVER:
        metrics = httpx.get(url + "/metrics", timeout=10).text
        found = re.search(r"^llamacpp:prompt_tokens_total (\d+(?:\.\d+)?)", metrics, re.M)
        return int(float(found.group(1))) if found else None
    # llama_cpp.server (verbose, its default) prints each request's prompt evaluation; none yet is 0.
    return sum(int(c) for c in re.findall(r"prompt eval time =.*?/\s*(\d+) tokens", log.read_text(errors="replace")))


def stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        p.terminate()
    for p in processes:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


def ask_all(engine, questions: list[str]) -> list[dict]:
    """Ask in turn; per question: seconds in all, to the first token, and waiting in the queue."""
    reader = engine.local_reader()
    out = []
    for q in questions:
        started, first, last_wait = time.monotonic(), [None], [None]

        def token(_t: str) -> None:
            first[0] = first[0] or time.monotonic()

        def waiting(_n: int) -> None:
            last_wait[0] = time.monotonic()

        try:
            engine.ask(q, reader, on_token=token, on_wait=waiting)
            ok = True
        except Exception as exc:  # every failure is counted, not hidden
            print(f"  failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            ok = False
        ended = time.monotonic()
        queued = (last_wait[0] - started) if last_wait[0] else 0.0
        out.append({"ok": ok, "seconds": ended - started, "queue": queued,
                    "ttft": (first[0] - started) if first[0] else None})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contracts", type=int, default=5)
    ap.add_argument("--clients", default="1,4,8")
    ap.add_argument("--questions", type=int, default=24, help="questions per setting, split between its clients")
    ap.add_argument("--servers", default=f"{LLAMA_CPP_SERVER}:1,{LLAMA_SERVER}:1,{LLAMA_SERVER}:4",
                    help="model servers, KIND:SLOTS each, comma-separated")
    ap.add_argument("--model", default=Config.model)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    setups = [(kind, int(slots)) for kind, slots in (s.split(":") for s in args.servers.split(","))]

    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    os.chmod(work, 0o755)
    rows = [json.loads(line) for line in (CUAD / "qa.jsonl").open()]
    docs = sorted({r["doc"] for r in rows})[: args.contracts]
    (work / "docs").mkdir()
    for d in docs:
        shutil.copy(CUAD / d, work / "docs")
    pool = [r["question"] for r in rows if r["doc"] in docs]
    models_home = str(Path(os.environ.get("COPILOT_MODELS_HOME", work / "models")))
    model = resolve_llm(args.model, Path(models_home))
    chroma_port = free_port()
    chroma = subprocess.Popen([str(BIN / "chroma"), "run", "--path", str(work / "chroma"), "--host", "127.0.0.1",
                               "--port", str(chroma_port)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    results: dict[str, dict] = {}
    try:
        wait_for(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat")
        base = Config(home=work / "home", model=str(model), models_home=models_home, max_tokens=args.max_tokens,
                      chroma_url=f"http://127.0.0.1:{chroma_port}")
        started = time.monotonic()
        summary = Copilot(base).index([work / "docs"])
        print(f"indexed {summary.line()} in {time.monotonic() - started:.0f} s", file=sys.stderr)
        base.policy_path.write_text(f'[users]\n{getpass.getuser()} = ["*"]\n')  # every client is this account

        for s, (kind, slots) in enumerate(setups):
            name = f"{kind}, {slots} slot{'s' if slots > 1 else ''}"
            for n in clients:  # a fresh model server each time: no setting finds another's prompts cached
                log = work / f"model-{s}-{n}.log"
                processes, urls = model_servers(model, 1, base.context_window, kind, slots, log)
                try:
                    config = base.replace(model_endpoints=",".join(urls),
                                          listen=f"unix:{work / f'copilot-{s}-{n}.sock'}")
                    engine = Copilot(config)
                    gateway = Gateway(engine, config, log=open(os.devnull, "w"), slots=engine.slots)
                    gateway.engine.load_models()
                    gateway.listen(config.listeners)
                    threading.Thread(target=gateway.serve_forever, daemon=True).start()
                    remote = [RemoteEngine(base.replace(server=config.listeners[0])) for _ in range(n)]
                    asked = [[pool[k % len(pool)] for k in range(i, args.questions, n)] for i in range(n)]
                    before = evaluated(kind, urls[0], log)
                    outcomes: list[list[dict]] = [[] for _ in range(n)]
                    t0 = time.monotonic()
                    threads = [threading.Thread(target=lambda i=i: outcomes[i].extend(ask_all(remote[i], asked[i])))
                               for i in range(n)]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    wall = time.monotonic() - t0
                    flat = [o for per in outcomes for o in per]
                    after = evaluated(kind, urls[0], log)
                    done = sum(o["ok"] for o in flat)
                    results[f"{name}, {n} client{'s' if n > 1 else ''}"] = {
                        "asked": len(flat), "done": done, "wall": wall, "outcomes": flat,
                        "evaluated": (after - before) / done if done and after and before is not None else None}
                    print(f"{name}, {n} clients: {wall:.0f} s", file=sys.stderr, flush=True)
                    gateway.shutdown()
                finally:
                    stop(processes)

        # The local path: the model in this process, one user, the same questions as one client.
        local = Copilot(base)
        local.load_models()
        t0 = time.monotonic()
        flat = ask_all(local, [pool[k % len(pool)] for k in range(args.questions)])
        results["local engine, 1 user"] = {"asked": len(flat), "done": sum(o["ok"] for o in flat),
                                           "wall": time.monotonic() - t0, "outcomes": flat}
    finally:
        stop([chroma])
        shutil.rmtree(work, ignore_errors=True)

    table = []
    for name, r in results.items():
        seconds = [o["seconds"] for o in r["outcomes"] if o["ok"]]
        queue = [o["queue"] for o in r["outcomes"] if o["ok"]]
        table.append((name, f"{r['done']} of {r['asked']}", f"{r['done'] / r['wall'] * 60:.1f}",
                      f"{statistics.median(seconds):.1f} / {percentile(seconds, 0.95):.1f}" if seconds else "-",
                      f"{statistics.median(queue):.1f} / {percentile(queue, 0.95):.1f}" if queue else "-",
                      f"{statistics.median(ttft):.1f}" if (ttft := [o["ttft"] for o in r["outcomes"]
                                                                     if o["ok"] and o["ttft"]]) else "-",
                      f"{r['evaluated']:.0f}" if r.get("evaluated") is not None else "-"))
    note = (f"{args.contracts} CUAD contracts in `chroma run`, {args.questions} questions per setting split between "
            f"its clients (each asks its share one after another), max {args.max_tokens} answer tokens, model "
            f"{Path(model).name} behind one model server with every core ({args.servers}); clients are "
            "RemoteEngines on a Unix socket to `copilot serve`; the local engine answers the same questions in "
            "this process. Prompt tokens evaluated per answer: the model server's own count (llama-server's "
            "/metrics, llama_cpp.server's prompt eval lines).")
    record(__file__, table, note, {"results": results},
           headers=("setup", "answered", "answers/min", "latency p50 / p95 (s)", "in queue p50 / p95 (s)",
                    "first token p50 (s)", "prompt tokens evaluated / answer"))


if __name__ == "__main__":
    main()
