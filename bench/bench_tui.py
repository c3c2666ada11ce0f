"""The terminal app as a user meets it: time to interactive, and typing while the model answers.

Runs the real `copilot` in a tmux pane (as the end-to-end test does) and reads
the screen with capture-pane, so every figure includes the terminal round trip.
  interactive  - from starting the process to the question box on screen;
  model ready  - until the status bar no longer says "(loading)";
  keystroke    - from sending one character to seeing it in the question box,
                 while the default model works on an answer (a calibrated model's
                 draft is held until it is judged, so this is the drafting, not a
                 stream), and with the app idle;
  cancel       - (in-process, the app's engine) from setting the cancel 0.3 s into a
                 question, while the model reads the prompt, to the model being free;
  review       - (`--review`) on the review screen (F4), from an arrow key to the line
                 under the grid naming the cell now under the cursor: idle, and while r
                 fills the grid's cells (a review of examples/, COLUMNS by 5 documents).
The screen is polled every ~5 ms (each capture-pane is a subprocess), which
bounds the latency figures' resolution.

    .venv/bin/python bench/bench_tui.py                 # examples/ indexed in a temporary home
    .venv/bin/python bench/bench_tui.py --starts 5 --keys 30
    .venv/bin/python bench/bench_tui.py --review           # the review screen alone
"""

from __future__ import annotations

import argparse
import os
import re
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
from copilot.engine.local import Copilot  # noqa: E402
from report import record  # noqa: E402
from terminal import Terminal  # noqa: E402

BOX = "Ask about your documents"
QUESTION = "List every retention period in the policy, one per line, with a sentence about each."
SIZE = (80, 24)  # no sidebar: the answer's lines start at the left edge
SOURCES = re.compile(r"\[1\] \S+\.(md|pdf|txt)")  # the sources list: shown when the answer ends
PROBE = "thequickbrownfoxjumpsoverthelazydogpackmyboxwithfivedozenliquorjugs"
COLUMNS = ("Governing law", "How long are client matter files kept?", "Who must approve travel?",
           "What notice ends the agreement?")


def env_for(home: Path, model: str | None) -> dict[str, str]:
    env = {"COPILOT_HOME": str(home), "HOME": str(home), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           "COPILOT_MAX_TOKENS": "400"}
    for name in ("COPILOT_MODELS_HOME",):
        if name in os.environ:
            env[name] = os.environ[name]
    if model:
        env["COPILOT_MODEL"] = model
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, help="a COPILOT_HOME with documents indexed (default: examples/ in a temporary one)")
    ap.add_argument("--model", help="packaged model name or GGUF path (default: the configured one)")
    ap.add_argument("--starts", type=int, default=5, help="fresh starts to time")
    ap.add_argument("--keys", type=int, default=30, help="characters to type in each latency run")
    ap.add_argument("--review", action="store_true", help="measure the review screen alone")
    args = ap.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="bench-tui-"))
    if args.home is None:
        Copilot(config_mod.load(home=home, model=args.model)).index([ROOT / "examples"])
    env = env_for(home, args.model)
    copilot = str(Path(sys.executable).parent / "copilot")
    if args.review:
        return review_latency(home, env, copilot, args.keys)

    interactive, ready = [], []
    for _ in range(args.starts):
        with Terminal([copilot], env, SIZE) as term:
            term.wait_for(BOX, timeout=30, poll=0.005)
            interactive.append(time.perf_counter() - term.started)
            term.wait_until(lambda s: BOX in s and "(loading)" not in s, timeout=120, poll=0.02)
            ready.append(time.perf_counter() - term.started)

    with Terminal([copilot], env, SIZE) as term:
        term.wait_until(lambda s: BOX in s and "(loading)" not in s, timeout=120, poll=0.02)
        idle = measure(term, args.keys, answering=False)
        # Ctrl+U is a binding the app runs when the key has bubbled back to it, after keys sent with it
        # are typed: wait for the box to be clear before typing the question, and for it before Enter.
        term.keys("C-u")
        term.wait_for(BOX, timeout=10, poll=0.005)  # the placeholder: the box is empty
        term.keys(QUESTION, literal=True)
        term.wait_for(QUESTION[-30:], timeout=10, poll=0.005)  # the box shows its end
        term.keys("Enter")
        term.wait_until(asked, timeout=30, poll=0.005)
        busy = measure(term, args.keys, answering=True)
        still = not SOURCES.search(term.screen())

    cancels = cancel_latency(home, args.model, args.starts)

    def ms(values: list[float], q: float) -> str:
        if not values:
            return "n/a"
        values = sorted(values)
        return f"{1000 * values[min(len(values) - 1, int(q * len(values)))]:.0f}"

    rows = [
        ("time to interactive, median (ms)", ms(interactive, 0.5)),
        ("time to interactive, max (ms)", ms(interactive, 1.0)),
        ("model ready, median (ms)", ms(ready, 0.5)),
        ("keystroke to screen, idle, p50 (ms)", ms(idle, 0.5)),
        ("keystroke to screen, idle, p95 (ms)", ms(idle, 0.95)),
        ("keystroke to screen, model answering, p50 (ms)", ms(busy, 0.5)),
        ("keystroke to screen, model answering, p95 (ms)", ms(busy, 0.95)),
        ("keystroke to screen, model answering, max (ms)", ms(busy, 1.0)),
        ("keys measured while the model answered", str(len(busy))),
        ("Esc while the prompt is read → model free, median (ms)", ms(cancels, 0.5)),
        ("Esc while the prompt is read → model free, max (ms)", ms(cancels, 1.0)),
    ]
    note = (f"{args.starts} fresh starts of `copilot` in tmux; keystrokes typed one at a time into the "
            f"question box, idle and while the model worked on the answer to {QUESTION!r} "
            f"({'still answering after the last key' if still else 'the answer ended during the run'}).")
    record(__file__, rows, note, {"interactive_s": interactive, "ready_s": ready, "idle_s": idle,
                                  "streaming_s": busy, "cancel_s": cancels,
                                  "model": args.model or "default"})


def cancel_latency(home: Path, model: str | None, runs: int) -> list[float]:
    """Seconds from a cancel set while the model reads the prompt to `ask` returning."""
    import threading

    engine = Copilot(config_mod.load(home=home, model=model))
    _ = engine.generator  # loaded and primed, as in the app
    seconds = []
    for i in range(runs):
        cancel = threading.Event()
        done: list[float] = []
        worker = threading.Thread(target=lambda: (engine.ask(f"{QUESTION} ({i})", engine.local_reader(), cancel=cancel),
                                                   done.append(time.perf_counter())))
        worker.start()
        time.sleep(0.3)
        cancel.set()
        asked = time.perf_counter()
        worker.join()
        seconds.append(done[0] - asked)
    return seconds


def review_latency(home: Path, env: dict[str, str], copilot: str, keys: int) -> None:
    """The review screen's arrow keys, idle and while its cells fill (see the module)."""
    import statistics

    from copilot.review.store import ReviewStore

    with ReviewStore.named(home / "reviews", "bench") as store:  # described, nothing asked yet
        store.describe("bench", {"paths": [str((ROOT / "examples").resolve())]}, COLUMNS)
    engine = Copilot(config_mod.load(home=home))
    sources = sorted((e.source for state, e in engine.status(engine.local_reader()) if state == "indexed"),
                     key=str.lower)
    from copilot.review.columns import columns

    questions = [c.question for c in columns(COLUMNS, lambda _l: None)]
    cells = len(sources) * len(COLUMNS)
    with Terminal([copilot], env, (140, 40)) as term:
        term.wait_until(lambda s: BOX in s and "(loading)" not in s, timeout=120, poll=0.02)
        term.keys("F4")
        term.wait_for(f"0/{cells} cells answered", timeout=30)
        idle = arrows(term, sources[0], questions, keys)
        term.keys("r")
        term.wait_for("asking bench:", timeout=30)
        busy = arrows(term, sources[0], questions, keys, while_=lambda s: "asking bench:" in s)
        filled = term.screen()
    rows = [("arrow key to the cell's line, idle, p50 (ms)", f"{1000 * statistics.median(idle):.0f}"),
            ("arrow key to the cell's line, idle, max (ms)", f"{1000 * max(idle):.0f}"),
            ("arrow key to the cell's line, cells filling, p50 (ms)",
             f"{1000 * statistics.median(busy):.0f}" if busy else "n/a"),
            ("arrow key to the cell's line, cells filling, p95 (ms)",
             f"{1000 * sorted(busy)[int(0.95 * (len(busy) - 1))]:.0f}" if busy else "n/a"),
            ("arrow key to the cell's line, cells filling, max (ms)", f"{1000 * max(busy):.0f}" if busy else "n/a"),
            ("keys measured while cells filled", str(len(busy)))]
    note = (f"the review screen (F4) of a review of examples/ ({len(sources)} documents × {len(COLUMNS)} columns, "
            f"nothing asked before), in tmux at 140×40: Right and Left in turn along the first row, each timed "
            f"until the line under the grid names the cell's question; idle, then while r asked the cells "
            f"({'still filling after the last key' if 'asking bench:' in filled else 'the grid filled during the run'}).")
    record(__file__, rows, note, {"idle_s": idle, "filling_s": busy})


def arrows(term: Terminal, source: str, questions: list[str], n: int, while_=None) -> list[float]:
    """Seconds from each arrow key to the line under the grid naming the cell it moved to."""
    latencies: list[float] = []
    shown = term.screen()
    column = 2 if f"{source} · {questions[1]}" in shown else 1 if f"{source} · {questions[0]}" in shown else 0
    for _ in range(n):
        if while_ is not None and not while_(term.screen()):
            break  # the grid filled: later keys would not measure the screen while it fills
        key, column = ("Left", 1) if column == 2 else ("Right", column + 1)  # between the first two columns
        want = f"{source} · {questions[column - 1]}"
        sent = time.perf_counter()
        term.keys(key)
        term.wait_until(lambda s: want in s, timeout=10, poll=0.002)
        latencies.append(time.perf_counter() - sent)
    return latencies


def asked(screen: str) -> bool:
    """The question is on screen as a turn: the app has taken it and the model is at work."""
    return "› List every retention" in screen


def measure(term: Terminal, n: int, answering: bool) -> list[float]:
    """Seconds from sending each character to seeing all typed so far in the question box."""
    latencies: list[float] = []
    for i in range(min(n, len(PROBE))):
        if answering and SOURCES.search(term.screen()):
            break  # the answer ended: later keys would not measure typing while the model works
        sent = time.perf_counter()
        term.keys(PROBE[i], literal=True)
        typed = PROBE[: i + 1]
        term.wait_until(lambda s: typed in s, timeout=10, poll=0.002)
        latencies.append(time.perf_counter() - sent)
    return latencies


if __name__ == "__main__":
    main()
