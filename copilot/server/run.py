"""Starting the server, and checking what it stands on (`copilot serve`, `copilot serve --check`)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from copilot.core.config import Config
from copilot.core.errors import ConfigError, CopilotError
from copilot.core.present import Checks


def run(config: Config, echo: Callable[[str], None]) -> None:
    """Serve until SIGTERM or Ctrl+C; the model and embedder are loaded before the first client."""
    from copilot.engine import local_engine
    from copilot.server.gateway import Gateway

    if not config.listeners:
        raise ConfigError("nothing to listen on: set listen = \"unix:/run/copilot/copilot.sock\" "
                          "(and/or \"https://0.0.0.0:8443\") in config.toml")
    import faulthandler

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1` writes every thread's stack to the log
    engine = local_engine(config)
    state = engine.load_models()
    slots = engine.slots
    gateway = Gateway(engine, config, slots=slots)
    opened = gateway.listen(config.listeners)
    echo(f"serving {state.name} ({state.quant}) on {', '.join(opened)}; "
         f"{slots} model slot{'s' if slots != 1 else ''}, queue of {config.queue_limit}")
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=gateway.shutdown).start())
    try:
        gateway.serve_forever()
    except KeyboardInterrupt:
        gateway.shutdown()


def check_report(config: Config, echo: Callable[[str], None]) -> bool:
    """What `copilot serve` needs, each checked: one line each, True when all are well."""
    from copilot.core.walls import Walls
    from copilot.engine import local_engine
    from copilot.engine.access import tables

    engine = local_engine(config)
    line = Checks(echo)

    line(bool(config.listeners), "listen", ", ".join(config.listeners) or "nothing set: set listen in config.toml")
    try:
        count = engine.store.count()
        line(True, "index", f"{config.chroma_url or config.index_dir / 'chroma'}: {count} chunks")
    except Exception as exc:  # chromadb's own errors for a server that is down
        line(False, "index", f"{config.chroma_url or 'the index'}: {type(exc).__name__}: {exc}")
    try:
        state = engine.load_models()
        line(True, "model", f"{state.name} ({state.quant})")
    except Exception as exc:
        line(False, "model", f"{type(exc).__name__}: {exc}")
    else:
        _model_servers(config, engine, line)
    try:
        tables(config.policy_path)  # read as every request will read it
        line(True, "policy", str(config.policy_path))
    except CopilotError as exc:
        line(False, "policy", str(exc))
    try:
        count, broken = engine.audit().verify()
        line(broken is None, "audit", f"{count} records, chain intact" if broken is None
             else f"BROKEN at record {broken.n}: {broken.reason}")
    except CopilotError as exc:
        line(False, "audit", str(exc))
    try:
        versions = engine.manifest.indexed_versions(Walls.everything())
        line(True, "manifest", f"{len(versions)} documents indexed")
    except Exception as exc:
        line(False, "manifest", f"{type(exc).__name__}: {exc}")
    return line.ok


def _model_servers(config: Config, engine, line: Checks) -> None:
    """Which model server each endpoint is, its slots and its context per slot: a slot with less
    context than the prompts are fitted to (`context_window`) would cut every long one short."""
    from copilot.core.errors import Unavailable

    if not config.endpoints:
        line(True, "model server", f"this process, 1 slot, {config.context_window} tokens of context")
        return
    for url in config.endpoints:
        try:
            server = engine.generator.describe(url)
        except Unavailable as exc:
            line(False, "model server", str(exc))
            continue
        short = server.context is not None and server.context < config.context_window
        line(not short, "model server", server.line() + (
            f": less than context_window = {config.context_window}; give each slot that much "
            f"(llama-server --ctx-size = slots x {config.context_window})" if short else ""))
