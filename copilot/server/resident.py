"""`python -m copilot.server.resident`: one user's warm engine, started by `copilot ask`.

The server of `copilot serve` on a private Unix socket (see
copilot.core.resident): the same gateway, fair queue, walls and audit trail,
for the one OS user who started it (anyone else's connection is refused by
the kernel's word, `SO_PEERCRED`).  It reads its settings as JSON on stdin,
loads the model, the embedder and the index before it listens, writes what
it is and how long each part took to load beside its socket, and leaves when
no request has come for `keep_alive` seconds.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time

from copilot.core.config import Config, from_settings
from copilot.core.resident import Resident


def serve(config: Config, key: str, log=sys.stderr) -> None:
    """Load, listen on the socket its starter named `key`, and answer until idle for
    `config.keep_alive` seconds (or SIGTERM)."""
    import signal

    started = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str, since: float) -> float:
        now = time.monotonic()
        phases[name] = round(now - since, 3)
        return now

    from copilot.engine import local_engine
    from copilot.server.gateway import Gateway

    mark = phase("imports", started)
    engine = local_engine(config)
    _ = engine.answerer  # the model loads while the index and the embedder open beside it
    state = engine.load_models()
    phase("model, embedder and index", mark)

    resident = Resident.named(config, key)  # the socket its starter waits on
    resident.private_folder()
    gateway = Gateway(engine, config, log, reader_of=lambda _person: engine.local_reader(),
                      slots=engine.slots)
    gateway.listen((f"unix:{resident.socket}",), private=True)
    about = {"pid": os.getpid(), "model": f"{state.name} ({state.quant})", "home": str(config.home),
             "keep_alive": config.keep_alive, "started": time.time(), "socket": str(resident.socket),
             "load_s": phases}
    _write(resident.pid_file, about)
    gateway.note(f"warm engine for {config.home}: {about['model']} on {resident.socket}, "
                 f"loaded in {time.monotonic() - started:.1f} s {phases}")

    def leave_when_idle() -> None:
        while gateway.idle_for() < config.keep_alive:
            time.sleep(min(1.0, max(0.05, config.keep_alive - gateway.idle_for())))
        gateway.note(f"idle for {config.keep_alive} s: leaving")
        gateway.shutdown()

    threading.Thread(target=leave_when_idle, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=gateway.shutdown).start())
    try:
        gateway.serve_forever()
    finally:
        about_now = resident.describe()
        if about_now and about_now.get("pid") == os.getpid():  # a successor's file stays
            resident.pid_file.unlink(missing_ok=True)


def _write(path, data: dict) -> None:
    """Whole or not at all: a reader never sees half a file."""
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(data), encoding="utf-8")
    os.replace(partial, path)


def main() -> None:
    from copilot.core.errors import ConfigError, CopilotError

    try:
        try:
            given = json.loads(sys.stdin.read() or "{}")
        except ValueError:
            given = None
        if not isinstance(given, dict) or not re.fullmatch(r"[0-9a-f]{16}", str(given.get("socket_key", ""))):
            raise ConfigError("a warm engine is started by `copilot ask`, with its settings on stdin")
        serve(from_settings(str(given.get("settings", ""))), given["socket_key"])
    except CopilotError as exc:  # the client falls back to answering itself, and says this
        print(f"warm engine: {exc}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
